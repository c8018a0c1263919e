// Tiny HTML helpers: every interpolated value is escaped; pages work without JavaScript.

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

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · patchgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
header{display:flex;gap:1.5em;align-items:baseline;border-bottom:1px solid #ccc;margin-bottom:1em}
header a{color:#225}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f4f4f4}.st{font-family:monospace;padding:0 .3em;border-radius:3px}
.st-success,.st-passed{background:#d7f5d7}.st-warning{background:#fff1c2}.st-failure,.st-failed,.st-conflict{background:#f8d0d0}
.st-skipped,.st-superseded,.st-incomplete{background:#eee;color:#666}.st-pending,.st-queued,.st-testing,.st-new{background:#dde8ff}
form.filters{display:flex;gap:.5em;margin:.5em 0 1em}pre{background:#f7f7f7;padding:.5em;overflow:auto;max-height:30em}
.muted{color:#777}
</style></head><body>
<header><h1><a href="/">patchgate</a></h1><a href="/">queue</a><a href="/outbox">outbox</a><a href="/api/series">api</a><a href="/metrics">metrics</a></header>
${body}
</body></html>`;
}

export function status(s: string | null | undefined): string {
  const v = s ?? 'pending';
  return `<span class="st st-${esc(v)}">${esc(v)}</span>`;
}
