/**
 * The results as an SVG chart, hand-written: for every row, one bar per concurrency, calls/s on
 * the left (linear) and p99 latency on the right (log scale, as peers differ by 100×).
 */
import type { RowResult } from './runner.js';

const COLOURS: Record<RowResult['kind'], readonly string[]> = {
  svc: ['#6aa7e8', '#1f5fa8'],
  peer: ['#b9b9b9', '#6e6e6e'],
  ceiling: ['#8fd19e', '#2e8b4a'],
};

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const thousands = (x: number): string => Math.round(x).toLocaleString('en-US');

const LABEL = 250;
const THROUGHPUT = 460;
const GAP = 150;
const LATENCY = 300;
const BAR = 14;
const TOP = 74;

export function renderSvg(rows: readonly RowResult[], title: string): string {
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const ids = [...new Set(rows.map((r) => r.id))];
  const group = concurrencies.length * (BAR + 3) + 12;
  const height = TOP + ids.length * group + 34;
  const x2 = LABEL + THROUGHPUT + GAP;
  const width = x2 + LATENCY + 110;
  const ok = rows.filter((r) => r.status === 'ok' && r.load);
  const maxCps = Math.max(1, ...ok.map((r) => r.load!.callsPerSecond));
  // Log scale over whole decades of milliseconds that cover every p99.
  const p99s = ok.map((r) => Math.max(r.load!.latency.p99 / 1000, 0.01));
  const lo = Math.floor(Math.log10(Math.min(1, ...p99s)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(10, ...p99s))));
  const latencyX = (ms: number): number => ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * LATENCY;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">bars from light to dark: C = ${concurrencies.join(', ')}; blue @svc, green the raw-socket ceiling, grey the peers</text>`,
    `<text x="${LABEL}" y="${TOP - 10}" font-weight="600">calls/s (higher is better)</text>`,
    `<text x="${x2}" y="${TOP - 10}" font-weight="600">p99 latency, ms, log scale (lower is better)</text>`,
  ];
  const bottom = height - 28;
  for (let d = lo; d <= hi; d++) {
    const x = x2 + latencyX(10 ** d);
    out.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 4}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${bottom + 14}" text-anchor="middle" fill="#777">${10 ** d >= 1 ? 10 ** d : (10 ** d).toFixed(-d)}</text>`);
  }

  ids.forEach((id, gi) => {
    const y0 = TOP + gi * group;
    const first = rows.find((r) => r.id === id)!;
    out.push(`<text x="${LABEL - 8}" y="${y0 + (group - 12) / 2 + 4}" text-anchor="end">${escape(first.title)}</text>`);
    concurrencies.forEach((c, ci) => {
      const r = rows.find((x) => x.id === id && x.concurrency === c);
      const y = y0 + ci * (BAR + 3);
      const text = y + BAR - 3;
      if (!r) return;
      if (r.status !== 'ok' || !r.load) {
        out.push(`<text x="${LABEL + 4}" y="${text}" fill="#a33">C=${c}: ${escape(r.status)}</text>`);
        return;
      }
      const colour = COLOURS[r.kind][Math.min(ci, 1)];
      const cps = r.load.callsPerSecond;
      const w = Math.max(1, (cps / maxCps) * THROUGHPUT);
      out.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${colour}"><title>${escape(`${r.title}, C=${c}: ${cps} calls/s`)}</title></rect>`);
      out.push(`<text x="${(LABEL + w + 5).toFixed(1)}" y="${text}">${thousands(cps)} <tspan fill="#888">C=${c}</tspan></text>`);
      const p99 = r.load.latency.p99 / 1000;
      const lw = Math.max(1, latencyX(p99));
      out.push(`<rect x="${x2}" y="${y}" width="${lw.toFixed(1)}" height="${BAR}" fill="${colour}"><title>${escape(`${r.title}, C=${c}: p99 ${p99} ms`)}</title></rect>`);
      out.push(`<text x="${(x2 + lw + 5).toFixed(1)}" y="${text}">${p99 < 10 ? p99.toFixed(1) : Math.round(p99)}</text>`);
    });
  });
  out.push(`<line x1="${LABEL}" y1="${TOP - 4}" x2="${LABEL}" y2="${bottom}" stroke="#333"/>`);
  out.push(`<line x1="${x2}" y1="${TOP - 4}" x2="${x2}" y2="${bottom}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
