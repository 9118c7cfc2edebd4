/** The results as an SVG bar chart: calls/s per row, one bar per concurrency. Hand-written SVG. */
import type { RowResult } from './runner.js';

const COLOURS: Record<RowResult['kind'], readonly string[]> = {
  svc: ['#6aa7e8', '#1f5fa8'],
  peer: ['#b9b9b9', '#6e6e6e'],
  ceiling: ['#8fd19e', '#2e8b4a'],
};

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderSvg(rows: readonly RowResult[], title: string): string {
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const ids = [...new Set(rows.map((r) => r.id))];
  const label = 250;
  const plot = 560;
  const bar = 16;
  const group = concurrencies.length * (bar + 3) + 14;
  const top = 56;
  const height = top + ids.length * group + 30;
  const width = label + plot + 150;
  const max = Math.max(1, ...rows.map((r) => (r.status === 'ok' ? r.load!.callsPerSecond : 0)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">calls/s, higher is better; bars from light to dark: C = ${concurrencies.join(', ')}</text>`,
  ];
  ids.forEach((id, gi) => {
    const y0 = top + gi * group;
    const first = rows.find((r) => r.id === id)!;
    out.push(`<text x="${label - 8}" y="${y0 + (group - 14) / 2 + 4}" text-anchor="end">${escape(first.title)}</text>`);
    concurrencies.forEach((c, ci) => {
      const r = rows.find((x) => x.id === id && x.concurrency === c);
      const y = y0 + ci * (bar + 3);
      if (!r) return;
      if (r.status !== 'ok') {
        out.push(`<text x="${label + 4}" y="${y + bar - 4}" fill="#a33">C=${c}: ${escape(r.status)}</text>`);
        return;
      }
      const cps = r.load!.callsPerSecond;
      const w = Math.max(1, (cps / max) * plot);
      const colour = COLOURS[r.kind][Math.min(ci, 1)];
      out.push(`<rect x="${label}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${colour}"><title>${escape(`${r.title}, C=${c}: ${cps} calls/s`)}</title></rect>`);
      out.push(`<text x="${(label + w + 5).toFixed(1)}" y="${y + bar - 4}">${Math.round(cps).toLocaleString('en-US')} <tspan fill="#888">C=${c}</tspan></text>`);
    });
  });
  out.push(`<line x1="${label}" y1="${top - 6}" x2="${label}" y2="${height - 24}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
