// Two small chart kinds for the benchmark's plots, as standalone SVG: lines (time against steps or
// size, one line per series) and stacked bars (per-stage breakdown). Written here rather than pulling
// in a plotting stack (vega and its renderer are tens of MB for three charts).

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

const W = 640;
const H = 400;
const M = { left: 70, right: 170, top: 40, bottom: 80 };
const COLOURS = ['#2858dc', '#dc2828', '#1a9e5b', '#e08a00', '#7b3fc4', '#555555', '#00a3b4', '#c2185b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [0];
  while (out.at(-1)! < max) out.push(out.length * step);
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>
<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>
<text transform="translate(16 ${M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>
${body}
</svg>
`;
}

export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[], options: { xFromZero?: boolean } = {}): string {
  series = series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = options.xFromZero === false ? Math.min(...xs) : Math.min(...xs, 0);
  const xMax = Math.max(...xs, 1);
  const yTicks = ticks(Math.max(...ys, 1e-9) * 1.05);
  const yMax = yTicks.at(-1)!;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const X = (v: number) => M.left + ((v - xMin) / (xMax - xMin || 1)) * pw;
  const Y = (v: number) => M.top + ph - (v / yMax) * ph;
  let body = `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="#000"/>`;
  body += `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}" stroke="#000"/>`;
  for (const t of yTicks) body += `<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#ddd"/><text x="${M.left - 6}" y="${Y(t) + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`;
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) body += `<text x="${X(x)}" y="${M.top + ph + 16}" text-anchor="middle">${x}</text>`;
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    body += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`;
    for (const [x, y] of pts) body += `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${c}"/>`;
    body += `<rect x="${W - M.right + 12}" y="${M.top + i * 18}" width="12" height="12" fill="${c}"/><text x="${W - M.right + 30}" y="${M.top + i * 18 + 10}">${esc(s.name)}</text>`;
  });
  return frame(title, xLabel, yLabel, body);
}

export interface StackedBar {
  readonly label: string;
  readonly parts: readonly (readonly [string, number])[];
}

export function stackedBars(title: string, yLabel: string, bars: readonly StackedBar[]): string {
  bars = bars.map((b) => ({ ...b, parts: b.parts.filter(([, v]) => Number.isFinite(v)) }));
  const totals = bars.map((b) => b.parts.reduce((a, [, v]) => a + v, 0));
  const yTicks = ticks(Math.max(...totals, 1e-9) * 1.05);
  const yMax = yTicks.at(-1)!;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const Y = (v: number) => (v / yMax) * ph;
  const names = [...new Set(bars.flatMap((b) => b.parts.map(([n]) => n)))];
  const slot = pw / Math.max(1, bars.length);
  let body = `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="#000"/>`;
  for (const t of yTicks) body += `<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph - Y(t)}" y2="${M.top + ph - Y(t)}" stroke="#ddd"/><text x="${M.left - 6}" y="${M.top + ph - Y(t) + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`;
  bars.forEach((b, i) => {
    let base = 0;
    const x = M.left + i * slot + slot * 0.15;
    for (const [name, v] of b.parts) {
      const c = COLOURS[names.indexOf(name) % COLOURS.length];
      body += `<rect x="${x.toFixed(1)}" y="${(M.top + ph - Y(base + v)).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${Y(v).toFixed(1)}" fill="${c}"><title>${esc(`${b.label}: ${name} ${v.toFixed(1)}`)}</title></rect>`;
      base += v;
    }
    const lx = (x + slot * 0.35).toFixed(1);
    body += `<text transform="translate(${lx} ${M.top + ph + 10}) rotate(30)" font-size="10">${esc(b.label)}</text>`;
  });
  names.forEach((n, i) => {
    body += `<rect x="${W - M.right + 12}" y="${M.top + i * 18}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/><text x="${W - M.right + 30}" y="${M.top + i * 18 + 10}">${esc(n)}</text>`;
  });
  return frame(title, '', yLabel, body);
}
