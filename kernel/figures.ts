// Figures as data. A figure is described once (a FigureSpec: heatmap panels or line series) and
// rendered two ways:
//   plotlyFigure  {data, layout} for the application/vnd.plotly.v1+json MIME type, drawn by
//                 JupyterLab's plotly renderer (the `plotly` Python package ships it prebuilt)
//   svgFigure     a small static SVG of the same figure, drawn here (no plotly.js): the fallback
//                 for front ends without the renderer and for nbconvert's HTML, and the report's
//                 pictures (models/report.ts)
// Neither carries code, so a saved notebook is small and its figures survive a reload, trusted or not.

import { Json, JsonObject } from "./protocol.js";

export type Colorscale = "Viridis" | "RdBu";

/** One colour scale with its key (a colour bar). Panels refer to scales by index. */
export interface ScaleSpec { colorscale: Colorscale; min: number; max: number; title: string }

export interface HeatPanel {
  title: string;
  /** z[row][col]; null where the value is not finite. */
  z: (number | null)[][];
  /** The tensor indices of the rows and columns kept (larger maps are strided). */
  rows: number[];
  cols: number[];
  /** Tick text per kept row / column: token text, or the index. */
  rowLabels: string[];
  colLabels: string[];
  scale: number;
}

export interface HeatmapSpec {
  kind: "heatmap";
  title: string;
  panels: HeatPanel[];
  scales: ScaleSpec[];
  xTitle: string;
  yTitle: string;
}

export interface LineSeries { name: string; y: (number | null)[] }

export interface LineSpec {
  kind: "lines";
  title: string;
  series: LineSeries[];
  xTitle: string;
  yTitle: string;
  /** Category labels of the x positions (e.g. layer names); default: the index. */
  xLabels?: string[];
  /** A log10 y axis (values must be positive; others are dropped). */
  yLog?: boolean;
  /** Dashed horizontal reference lines (a tolerance). */
  hlines?: { y: number; label: string }[];
}

export type FigureSpec = HeatmapSpec | LineSpec;

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

// Colour scales as stops, the same ones plotly uses under these names.
const STOPS: Record<Colorscale, [number, string][]> = {
  Viridis: [[0, "#440154"], [0.06274509803921569, "#48186a"], [0.12549019607843137, "#472d7b"], [0.18823529411764706, "#424086"], [0.25098039215686274, "#3b528b"], [0.3137254901960784, "#33638d"], [0.3764705882352941, "#2c728e"], [0.4392156862745098, "#26828e"], [0.5019607843137255, "#21918c"], [0.5647058823529412, "#1fa088"], [0.6274509803921569, "#28ae80"], [0.6901960784313725, "#3fbc73"], [0.7529411764705882, "#5ec962"], [0.8156862745098039, "#84d44b"], [0.8784313725490196, "#addc30"], [0.9411764705882353, "#d8e219"], [1, "#fde725"]],
  RdBu: [[0, "rgb(5,10,172)"], [0.35, "rgb(106,137,247)"], [0.5, "rgb(190,190,190)"], [0.6, "rgb(220,170,132)"], [0.7, "rgb(230,145,90)"], [1, "rgb(178,10,28)"]],
};

function parseColor(c: string): [number, number, number] {
  if (c.startsWith("#")) return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(c)!;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** The colour of t in [0, 1] on a scale (linear between its stops). */
export function colorAt(scale: Colorscale, t: number): string {
  const stops = STOPS[scale];
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  let i = 1;
  while (i < stops.length - 1 && stops[i][0] < x) i++;
  const [t0, c0] = stops[i - 1], [t1, c1] = stops[i];
  const f = t1 > t0 ? (x - t0) / (t1 - t0) : 0;
  const a = parseColor(c0), b = parseColor(c1);
  const hex = (k: number) => Math.round(a[k] + (b[k] - a[k]) * f).toString(16).padStart(2, "0");
  return `#${hex(0)}${hex(1)}${hex(2)}`;
}

/** A short number for ticks and keys: 3 significant digits, exponent form when tiny or huge. */
export function shortNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

/** Tick positions (indices into a list of n) so that at most `max` are labelled. */
export function tickIndices(n: number, max: number): number[] {
  const step = Math.max(1, Math.ceil(n / max));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

/** "Nice" round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw)), r = raw / mag;
  const step = (r >= 5 ? 10 : r >= 2 ? 5 : r >= 1 ? 2 : 1) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** Token text as a tick label: visible spaces and newlines, at most 12 characters. */
export function tokenLabel(text: string): string {
  const t = text.replace(/ /g, "␣").replace(/\n/g, "↵").replace(/\t/g, "⇥");
  return t.length > 12 ? t.slice(0, 11) + "…" : t;
}

// ---- plotly -----------------------------------------------------------------------------------

const MAX_TICKS = 24;

export function plotlyFigure(spec: FigureSpec): JsonObject {
  return spec.kind === "heatmap" ? plotlyHeatmap(spec) : plotlyLines(spec);
}

function plotlyHeatmap(spec: HeatmapSpec): JsonObject {
  const n = spec.panels.length;
  const gap = 0.06, colorbarRoom = 0.07;
  // Panels share the width; a panel whose scale is not used by a later panel gets its key after it.
  const lastOfScale = new Map<number, number>();
  spec.panels.forEach((p, i) => lastOfScale.set(p.scale, i));
  const keys = new Set(lastOfScale.values());
  const width = (1 - gap * (n - 1) - colorbarRoom * keys.size) / n;
  const data: Json[] = [];
  const layout: JsonObject = {
    title: { text: spec.title },
    // three panels still fit a notebook's output area
    width: n === 1 ? 520 : 110 + 330 * n, height: n === 1 ? 560 : 470,
    margin: { t: 120, b: 40, l: 90, r: 40 },
    annotations: [] as Json[],
  };
  let x = 0;
  spec.panels.forEach((p, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    const domain = [x, x + width];
    x += width + (keys.has(i) ? colorbarRoom : 0) + gap;
    const xt = tickIndices(p.cols.length, MAX_TICKS), yt = tickIndices(p.rows.length, MAX_TICKS);
    data.push({
      type: "heatmap", z: p.z, x: p.cols, y: p.rows, xaxis: `x${ax}`, yaxis: `y${ax}`,
      coloraxis: p.scale === 0 ? "coloraxis" : `coloraxis${p.scale + 1}`, name: p.title,
      hovertemplate: `${spec.yTitle} %{y}, ${spec.xTitle} %{x}: %{z}<extra>${p.title}</extra>`,
    });
    layout[`xaxis${ax}`] = { domain, side: "top", title: { text: spec.xTitle }, tickmode: "array", tickvals: xt.map((k) => p.cols[k]), ticktext: xt.map((k) => p.colLabels[k]), anchor: `y${ax}`, constrain: "domain" };
    layout[`yaxis${ax}`] = { autorange: "reversed", anchor: `x${ax}`, title: { text: i === 0 ? spec.yTitle : "" }, tickmode: "array", tickvals: yt.map((k) => p.rows[k]), ticktext: yt.map((k) => p.rowLabels[k]), scaleanchor: `x${ax}` };
    (layout.annotations as Json[]).push({ text: `<b>${esc(p.title)}</b>`, xref: "paper", yref: "paper", x: (domain[0] + domain[1]) / 2, y: -0.02, xanchor: "center", yanchor: "top", showarrow: false });
    if (keys.has(i)) {
      const s = spec.scales[p.scale];
      layout[p.scale === 0 ? "coloraxis" : `coloraxis${p.scale + 1}`] = {
        colorscale: s.colorscale, cmin: s.min, cmax: s.max,
        colorbar: { title: { text: s.title }, x: domain[1] + 0.01, xanchor: "left", len: 0.8, thickness: 14 },
      };
    }
  });
  layout.margin = { t: 120, b: 50, l: 90, r: 40 };
  return { data, layout };
}

function plotlyLines(spec: LineSpec): JsonObject {
  const data: Json[] = spec.series.map((s, i) => ({
    type: "scatter", mode: spec.xLabels ? "lines+markers" : "lines", name: s.name, y: s.y,
    ...(spec.xLabels ? { x: spec.xLabels } : {}), line: { color: PALETTE[i % PALETTE.length] },
  }));
  const shapes: Json[] = (spec.hlines ?? []).map((h) => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: h.y, y1: h.y, line: { dash: "dash", color: "#888" } }));
  const annotations: Json[] = (spec.hlines ?? []).map((h) => ({ xref: "paper", x: 1, y: spec.yLog ? Math.log10(h.y) : h.y, text: esc(h.label), showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#666" } }));
  return {
    data,
    layout: {
      title: { text: spec.title }, width: 680, height: 400, showlegend: spec.series.length > 1,
      xaxis: { title: { text: spec.xTitle }, ...(spec.xLabels ? { type: "category" } : {}) },
      yaxis: { title: { text: spec.yTitle }, ...(spec.yLog ? { type: "log", exponentformat: "e" } : {}) },
      shapes, annotations,
    },
  };
}

// ---- SVG ---------------------------------------------------------------------------------------

const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif"`;

export function svgFigure(spec: FigureSpec): string {
  return spec.kind === "heatmap" ? svgHeatmap(spec) : svgLines(spec);
}

/** The colour key of a scale: a vertical gradient with ticks at its ends and middle. */
function svgKey(s: ScaleSpec, x: number, y: number, h: number, id: string): string {
  const stops = Array.from({ length: 11 }, (_, k) => `<stop offset="${k * 10}%" stop-color="${colorAt(s.colorscale, 1 - k / 10)}"/>`).join("");
  const ticks = [s.max, (s.min + s.max) / 2, s.min].map((v, k) => {
    const ty = y + (k * h) / 2;
    return `<line x1="${x + 14}" x2="${x + 18}" y1="${ty}" y2="${ty}" stroke="#333"/><text x="${x + 21}" y="${ty + 4}" font-size="11">${esc(shortNumber(v))}</text>`;
  }).join("");
  return `<g class="tc-colorkey"><defs><linearGradient id="${id}" x1="0" x2="0" y1="0" y2="1">${stops}</linearGradient></defs>` +
    `<text x="${x}" y="${y - 8}" font-size="11">${esc(s.title)}</text><rect x="${x}" y="${y}" width="14" height="${h}" fill="url(#${id})" stroke="#888" stroke-width="0.5"/>${ticks}</g>`;
}

let svgIds = 0;

const SVG_MAX_CELLS = 48; // per side: a static picture of a large map is strided further

function thin(p: HeatPanel): HeatPanel {
  const rs = Math.ceil(p.rows.length / SVG_MAX_CELLS), cs = Math.ceil(p.cols.length / SVG_MAX_CELLS);
  if (rs <= 1 && cs <= 1) return p;
  const ri = tickIndices(p.rows.length, SVG_MAX_CELLS), ci = tickIndices(p.cols.length, SVG_MAX_CELLS);
  return { ...p, z: ri.map((r) => ci.map((c) => p.z[r][c])), rows: ri.map((r) => p.rows[r]), cols: ci.map((c) => p.cols[c]), rowLabels: ri.map((r) => p.rowLabels[r]), colLabels: ci.map((c) => p.colLabels[c]) };
}

function svgHeatmap(full: HeatmapSpec): string {
  const spec = { ...full, panels: full.panels.map(thin) };
  const maxCells = Math.max(...spec.panels.map((p) => Math.max(p.rows.length, p.cols.length)), 1);
  // Cells large enough to read: 360 px per panel at most, 6–40 px a cell.
  const cell = Math.max(6, Math.min(40, Math.floor(360 / maxCells)));
  const labelled = spec.panels.some((p) => p.colLabels.some((l) => !/^\d+$/.test(l)));
  const maxLabel = Math.max(...spec.panels.flatMap((p) => [...p.rowLabels, ...p.colLabels].map((l) => l.length)), 1);
  const labelRoom = Math.min(90, 10 + 7 * maxLabel);
  const top = 34 + (labelled ? labelRoom : 24) + 14;
  const left = 24 + labelRoom;
  const lastOfScale = new Map<number, number>();
  spec.panels.forEach((p, i) => lastOfScale.set(p.scale, i));
  const parts: string[] = [];
  let x = left, height = 0;
  const uid = `tc${++svgIds}${Math.random().toString(36).slice(2, 6)}`;
  spec.panels.forEach((p, i) => {
    const s = spec.scales[p.scale];
    const w = p.cols.length * cell, h = p.rows.length * cell;
    const rects: string[] = [];
    const span = s.max - s.min || 1;
    for (let r = 0; r < p.rows.length; r++)
      for (let c = 0; c < p.cols.length; c++) {
        const v = p.z[r][c];
        const fill = v === null ? "#ffffff" : colorAt(s.colorscale, (v - s.min) / span);
        // Hover text only while the picture stays small.
        const tip = cell >= 12 ? `<title>${esc(`${spec.yTitle} ${p.rowLabels[r]} (${p.rows[r]}), ${spec.xTitle} ${p.colLabels[c]} (${p.cols[c]}): ${v === null ? "nan" : shortNumber(v)}`)}</title>` : "";
        rects.push(`<rect x="${x + c * cell}" y="${top + r * cell}" width="${cell}" height="${cell}" fill="${fill}">${tip}</rect>`);
      }
    const ticks: string[] = [];
    const fs = Math.max(9, Math.min(12, cell - 2));
    for (const c of tickIndices(p.cols.length, Math.max(2, Math.floor(w / 14)))) {
      const cx = x + c * cell + cell / 2;
      ticks.push(labelled
        ? `<text x="${cx}" y="${top - 6}" font-size="${fs}" transform="rotate(-60 ${cx} ${top - 6})">${esc(p.colLabels[c])}</text>`
        : `<text x="${cx}" y="${top - 6}" font-size="${fs}" text-anchor="middle">${esc(p.colLabels[c])}</text>`);
    }
    if (i === 0 || labelled) {
      for (const r of tickIndices(p.rows.length, Math.max(2, Math.floor(h / 14)))) {
        ticks.push(`<text x="${x - 5}" y="${top + r * cell + cell / 2 + fs / 3}" font-size="${fs}" text-anchor="end">${esc(p.rowLabels[r])}</text>`);
      }
    }
    parts.push(`<g class="tc-panel">${rects.join("")}<rect x="${x}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888" stroke-width="0.5"/>${ticks.join("")}` +
      `<text x="${x + w / 2}" y="${top + h + 18}" font-size="12" font-weight="bold" text-anchor="middle">${esc(p.title)}</text></g>`);
    x += w;
    if (lastOfScale.get(p.scale) === i) {
      parts.push(svgKey(s, x + 12, top + 14, Math.max(60, h - 14), `${uid}k${p.scale}`));
      x += 12 + 70;
    }
    x += labelled ? labelRoom : 24;
    height = Math.max(height, top + h + 30);
  });
  const axisNames = `<text x="${left}" y="${34}" font-size="11" fill="#555">columns: ${esc(spec.xTitle)} · rows: ${esc(spec.yTitle)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${x}" height="${height}" viewBox="0 0 ${x} ${height}" ${FONT} role="img" aria-label="${esc(spec.title)}">` +
    `<text x="${left}" y="18" font-size="13">${esc(spec.title)}</text>${axisNames}${parts.join("")}</svg>`;
}

function svgLines(spec: LineSpec): string {
  const W = 680, H = 380, l = 70, r = spec.series.length > 1 ? 170 : 24, t = 36, b = 56;
  const pw = W - l - r, ph = H - t - b;
  const tr = (v: number | null) => (v === null || !Number.isFinite(v) || (spec.yLog && v <= 0) ? null : spec.yLog ? Math.log10(v) : v);
  const ys = spec.series.flatMap((s) => s.y.map(tr)).concat((spec.hlines ?? []).map((h) => tr(h.y))).filter((v): v is number => v !== null);
  let lo = Math.min(...ys, spec.yLog ? Infinity : 0), hi = Math.max(...ys, spec.yLog ? -Infinity : 0);
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (spec.yLog) { lo = Math.floor(lo); hi = Math.ceil(hi); }
  if (hi === lo) { hi += 1; lo -= spec.yLog ? 1 : 0; }
  const n = Math.max(...spec.series.map((s) => s.y.length), 1);
  const px = (i: number) => l + (n === 1 ? pw / 2 : (i * pw) / (n - 1));
  const py = (v: number) => t + ph - ((v - lo) * ph) / (hi - lo);
  const out: string[] = [];
  const yt = spec.yLog ? Array.from({ length: hi - lo + 1 }, (_, k) => lo + k).filter((_, k, a) => a.length <= 10 || k % Math.ceil(a.length / 10) === 0) : niceTicks(lo, hi);
  for (const v of yt) out.push(`<line x1="${l}" x2="${l + pw}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/><text x="${l - 6}" y="${py(v) + 4}" font-size="11" text-anchor="end">${spec.yLog ? `1e${v}` : esc(shortNumber(v))}</text>`);
  for (const i of tickIndices(n, 12)) {
    const label = spec.xLabels?.[i] ?? String(i);
    out.push(spec.xLabels
      ? `<text x="${px(i)}" y="${t + ph + 14}" font-size="10" text-anchor="end" transform="rotate(-30 ${px(i)} ${t + ph + 14})">${esc(label)}</text>`
      : `<text x="${px(i)}" y="${t + ph + 16}" font-size="11" text-anchor="middle">${esc(label)}</text>`);
  }
  out.push(`<rect x="${l}" y="${t}" width="${pw}" height="${ph}" fill="none" stroke="#888" stroke-width="0.5"/>`);
  for (const h of spec.hlines ?? []) {
    const v = tr(h.y);
    if (v !== null) out.push(`<line x1="${l}" x2="${l + pw}" y1="${py(v)}" y2="${py(v)}" stroke="#888" stroke-dasharray="5 4"/><text x="${l + pw - 4}" y="${py(v) - 4}" font-size="10" fill="#666" text-anchor="end">${esc(h.label)}</text>`);
  }
  spec.series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    // Break the line at missing values.
    let d = "", pen = false;
    s.y.forEach((v, i) => { const y = tr(v); if (y === null) { pen = false; return; } d += `${pen ? "L" : "M"}${px(i).toFixed(1)},${py(y).toFixed(1)}`; pen = true; });
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    if (spec.xLabels) s.y.forEach((v, i) => { const y = tr(v); if (y !== null) out.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${color}"/>`); });
    if (spec.series.length > 1) out.push(`<g class="tc-legend"><line x1="${l + pw + 12}" x2="${l + pw + 32}" y1="${t + 10 + k * 16}" y2="${t + 10 + k * 16}" stroke="${color}" stroke-width="2.5"/><text x="${l + pw + 37}" y="${t + 14 + k * 16}" font-size="11">${esc(s.name.length > 22 ? s.name.slice(0, 21) + "…" : s.name)}</text></g>`);
  });
  out.push(`<text x="${l + pw / 2}" y="${H - 6}" font-size="12" text-anchor="middle">${esc(spec.xTitle)}</text>`);
  out.push(`<text x="14" y="${t + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${t + ph / 2})">${esc(spec.yTitle)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} role="img" aria-label="${esc(spec.title)}">` +
    `<text x="${l}" y="20" font-size="13">${esc(spec.title)}</text>${out.join("")}</svg>`;
}

// ---- heatmap specs from matrices ---------------------------------------------------------------

export interface Matrix {
  title: string;
  /** z[row][col] over the kept rows and columns. */
  z: (number | null)[][];
  rows: number[];
  cols: number[];
}

export interface HeatmapOptions {
  /** Token text per position: labels rows and columns (a prompt's attention map). */
  labels?: string[];
  /** With two matrices: add their difference as a third panel, on its own symmetric scale. */
  difference?: boolean;
  xTitle?: string;
  yTitle?: string;
  scaleTitle?: string;
}

const range = (zs: (number | null)[][][]) => {
  let lo = Infinity, hi = -Infinity;
  for (const z of zs) for (const row of z) for (const v of row) if (v !== null) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return Number.isFinite(lo) ? { lo, hi: hi > lo ? hi : lo + 1 } : { lo: 0, hi: 1 };
};

/** Heatmap panels side by side, sharing one colour scale (and a difference panel with its own). */
export function heatmapSpec(title: string, mats: Matrix[], opts: HeatmapOptions = {}): HeatmapSpec {
  const label = (i: number) => (opts.labels && i < opts.labels.length ? tokenLabel(opts.labels[i]) : String(i));
  const { lo, hi } = range(mats.map((m) => m.z));
  const scales: ScaleSpec[] = [{ colorscale: "Viridis", min: lo, max: hi, title: opts.scaleTitle ?? "value" }];
  const panels: HeatPanel[] = mats.map((m) => ({ title: m.title, z: m.z, rows: m.rows, cols: m.cols, rowLabels: m.rows.map(label), colLabels: m.cols.map(label), scale: 0 }));
  if (opts.difference && mats.length === 2) {
    const [a, b] = mats;
    const z = a.z.map((row, r) => row.map((v, c) => (v === null || b.z[r][c] === null ? null : v - b.z[r][c]!)));
    let m = 0;
    for (const row of z) for (const v of row) if (v !== null) m = Math.max(m, Math.abs(v));
    scales.push({ colorscale: "RdBu", min: -(m || 1e-12), max: m || 1e-12, title: "difference" });
    panels.push({ title: `${a.title} − ${b.title}`, z, rows: a.rows, cols: a.cols, rowLabels: a.rows.map(label), colLabels: a.cols.map(label), scale: 1 });
  }
  return { kind: "heatmap", title, panels, scales, xTitle: opts.xTitle ?? "key", yTitle: opts.yTitle ?? "query" };
}
