// Tiny HTML helpers: every interpolated value is escaped; pages work without JavaScript (the one script
// only refreshes the parts marked data-live when the store changes, via /api/events).

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

/** A link with query parameters (empty ones left out). */
export function href(path: string, params: Record<string, string | number | undefined> = {}): string {
  const q = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

export function seriesHref(id: string): string {
  return `/series/${encodeURIComponent(id)}`;
}

const LIVE_SCRIPT = `<script>
(function () {
  if (!window.EventSource || !window.fetch || !window.DOMParser) return;
  var seen = null, busy = false;
  var es = new EventSource('/api/events');
  es.addEventListener('version', function (e) {
    if (seen === null) { seen = e.data; return; }
    if (e.data === seen || busy) return;
    seen = e.data; busy = true;
    fetch(location.href, { headers: { accept: 'text/html' } }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      document.querySelectorAll('[data-live]').forEach(function (el) {
        var fresh = doc.getElementById(el.id);
        if (fresh) el.replaceWith(document.importNode(fresh, true));
      });
      var s = document.getElementById('live-status');
      if (s) s.textContent = 'updated ' + new Date().toLocaleTimeString();
    }).finally(function () { busy = false; });
  });
})();
</script>`;

export function page(title: string, body: string, opts: { live?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · patchgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/dashboard.css">
</head><body>
<header><h1><a href="/">patchgate</a></h1><nav><a href="/">queue</a><a href="/projects">projects</a><a href="/workers">workers</a><a href="/outbox">outbox</a><a href="/mail">mail</a><a href="/api/series?limit=100">api</a><a href="/metrics">metrics</a></nav>
<span id="live-status" class="muted"></span></header>
<main>
${body}
</main>
${opts.live === false ? '' : LIVE_SCRIPT}
</body></html>`;
}

export function status(s: string | null | undefined): string {
  const v = s ?? 'pending';
  return `<span class="st st-${esc(v)}">${esc(v)}</span>`;
}

const ICON: Record<string, string> = {
  success: '✓', warning: '!', failure: '✗', conflict: '✗', pending: '…', skipped: '–',
  applied: '✓', 'applied-3way': '✓', 'already-applied': '=',
};

/** A verdict icon: the symbol for the eye, the word in title and data attributes for tools and tests. */
export function icon(stage: string, s: string | null | undefined, extra = ''): string {
  if (!s) return `<span class="ic ic-none" data-stage="${esc(stage)}" data-status="" title="${esc(stage)}: not run">·</span>`;
  return `<span class="ic st-${esc(s)}" data-stage="${esc(stage)}" data-status="${esc(s)}" title="${esc(stage)}: ${esc(s)}${extra ? ` (${esc(extra)})` : ''}">${ICON[s] ?? '?'}</span>`;
}
