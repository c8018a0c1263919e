// Plots rendered on the server as SVG strings: no JavaScript and no client library needed.
import { esc } from './html.js';
import type { MetricPoint, PerfMetric } from './projects.js';

const fmt = (v: number) => {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e7 || a < 1e-3) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
};
const pct = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}%`;

/** About N round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const VERDICT_COLOR: Record<string, string> = { regression: '#c0392b', improvement: '#1e8449', unchanged: '#555', inconclusive: '#b9770e' };

/**
 * Baseline against candidate for one metric: every sample as a dot (spread sideways so equal values stay
 * visible), the median of each side as a line, the interval of the change in the caption.
 */
export function distributionSvg(metric: string, baseline: number[], candidate: number[], m?: PerfMetric): string {
  const W = 380, H = 240, L = 70, R = 16, T = 34, B = 34;
  const all = [...baseline, ...candidate].filter(Number.isFinite);
  if (all.length === 0) return '';
  let lo = Math.min(...all), hi = Math.max(...all);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.01 || 1;
  lo -= pad;
  hi += pad;
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const cols = [
    { label: 'baseline', xs: baseline, cx: L + (W - L - R) * 0.28, color: '#2c5f9e' },
    { label: 'candidate', xs: candidate, cx: L + (W - L - R) * 0.72, color: m ? VERDICT_COLOR[m.verdict] ?? '#8e44ad' : '#8e44ad' },
  ];
  const ticks = niceTicks(lo, hi).map((t) => `<line x1="${L}" x2="${W - R}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>
<text x="${L - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#555">${esc(fmt(t))}</text>`).join('');
  const groups = cols.map((c) => {
    const dots = c.xs.filter(Number.isFinite).map((v, i) => {
      // deterministic jitter: golden-ratio sequence in [-1, 1]
      const j = (((i * 0.618033988749895) % 1) * 2 - 1) * 28;
      return `<circle class="sample" cx="${(c.cx + j).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${c.color}" fill-opacity="0.65"><title>${esc(c.label)} ${esc(fmt(v))}</title></circle>`;
    }).join('');
    const med = c.xs.length ? median(c.xs) : NaN;
    const medLine = Number.isFinite(med)
      ? `<line class="median" x1="${c.cx - 42}" x2="${c.cx + 42}" y1="${y(med).toFixed(1)}" y2="${y(med).toFixed(1)}" stroke="${c.color}" stroke-width="2.5"><title>median ${esc(c.label)} ${esc(fmt(med))}</title></line>`
      : '';
    return `<g data-side="${c.label}">${dots}${medLine}<text x="${c.cx}" y="${H - B + 18}" text-anchor="middle" font-size="12">${c.label} (n=${c.xs.length})</text></g>`;
  }).join('');
  const caption = m
    ? `${pct(m.change)} [${pct(m.low)}, ${pct(m.high)}]${m.p !== undefined ? ` p=${m.p.toPrecision(2)}` : ''} ${m.verdict}`
    : '';
  return `<svg class="perf-plot" data-metric="${esc(metric)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(metric)}: baseline against candidate samples">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${L}" y="14" font-size="13" font-weight="bold">${esc(metric)}</text>
<text x="${L}" y="28" font-size="11" fill="${m ? VERDICT_COLOR[m.verdict] ?? '#333' : '#333'}">${esc(caption)}</text>
${ticks}<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#999"/>${groups}</svg>`;
}

/** A metric's relative change per series over time, with its interval as an error bar, zero as a line. */
export function historySvg(metric: string, points: MetricPoint[]): string {
  const W = 560, H = 220, L = 60, R = 16, T = 24, B = 40;
  if (points.length === 0) return '';
  const ts = points.map((p) => Date.parse(p.date));
  let t0 = Math.min(...ts), t1 = Math.max(...ts);
  if (t1 === t0) {
    t0 -= 86400e3;
    t1 += 86400e3;
  }
  let lo = Math.min(0, ...points.map((p) => p.low)), hi = Math.max(0, ...points.map((p) => p.high));
  const pad = (hi - lo) * 0.1 || 0.01;
  lo -= pad;
  hi += pad;
  const x = (t: number) => L + (W - L - R) * ((t - t0) / (t1 - t0));
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const ticks = niceTicks(lo, hi, 4).map((t) => `<line x1="${L}" x2="${W - R}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${t === 0 ? '#888' : '#eee'}"/>
<text x="${L - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#555">${esc(pct(t))}</text>`).join('');
  const marks = points.map((p, i) => {
    const cx = x(ts[i]).toFixed(1);
    const c = VERDICT_COLOR[p.verdict] ?? '#333';
    return `<g class="point"><line x1="${cx}" x2="${cx}" y1="${y(p.high).toFixed(1)}" y2="${y(p.low).toFixed(1)}" stroke="${c}" stroke-width="1.5"/>
<circle cx="${cx}" cy="${y(p.change).toFixed(1)}" r="4" fill="${c}"><title>${esc(p.name ?? p.seriesId)} v${p.version}: ${esc(pct(p.change))} [${esc(pct(p.low))}, ${esc(pct(p.high))}] ${esc(p.verdict)}</title></circle></g>`;
  }).join('');
  const d0 = new Date(t0).toISOString().slice(0, 10), d1 = new Date(t1).toISOString().slice(0, 10);
  return `<svg class="history-plot" data-metric="${esc(metric)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(metric)} change per series over time">
<rect width="${W}" height="${H}" fill="#fff"/><text x="${L}" y="14" font-size="13" font-weight="bold">${esc(metric)}: change against baseline</text>
${ticks}${marks}<text x="${L}" y="${H - 12}" font-size="11" fill="#555">${d0}</text><text x="${W - R}" y="${H - 12}" font-size="11" fill="#555" text-anchor="end">${d1}</text></svg>`;
}

/** Series per month as bars (the project's activity over time). */
export function timelineSvg(dates: (string | null)[]): string {
  const months = new Map<string, number>();
  for (const d of dates) if (d) months.set(d.slice(0, 7), (months.get(d.slice(0, 7)) ?? 0) + 1);
  if (months.size === 0) return '';
  const keys = [...months.keys()].sort();
  // fill the gaps so time runs evenly
  const all: string[] = [];
  for (let [yy, mm] = keys[0].split('-').map(Number); ; ) {
    const k = `${yy}-${String(mm).padStart(2, '0')}`;
    all.push(k);
    if (k >= keys[keys.length - 1] || all.length > 240) break;
    mm++;
    if (mm > 12) {
      mm = 1;
      yy++;
    }
  }
  const W = 560, H = 140, L = 36, R = 10, T = 12, B = 30;
  const max = Math.max(...months.values());
  const bw = (W - L - R) / all.length;
  const bars = all.map((k, i) => {
    const n = months.get(k) ?? 0;
    const h = ((H - T - B) * n) / max;
    return n ? `<rect x="${(L + i * bw + 1).toFixed(1)}" y="${(H - B - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#2c5f9e"><title>${k}: ${n} series</title></rect>` : '';
  }).join('');
  return `<svg class="timeline-plot" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="series per month">
<rect width="${W}" height="${H}" fill="#fff"/><text x="${L - 4}" y="${T + 8}" font-size="11" text-anchor="end">${max}</text>
<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#999"/>${bars}
<text x="${L}" y="${H - 10}" font-size="11" fill="#555">${all[0]}</text><text x="${W - R}" y="${H - 10}" font-size="11" fill="#555" text-anchor="end">${all[all.length - 1]}</text></svg>`;
}
