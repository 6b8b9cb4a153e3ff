// Rich displays of tensors: MIME bundles for Jupyter front ends.
//   text/plain                       numpy-like, with the type; elided past 1000 elements
//   text/html                        an arquero table with row/column labels and a stats header
//   application/vnd.plotly.v1+json   heatmaps (2-D) and line plots (1-D), with an image/svg+xml
//                                    fallback drawn by figures.ts (no plotly.js in the output)
// and a progress bar that updates in place (display_id + update_display_data).

import { randomUUID } from "node:crypto";
import * as aq from "arquero";
import { bytesPerElement, elementCount, isFloat, Precision, shapeToString } from "../compiler/types.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { FigureSpec, heatmapSpec, HeatmapSpec, LineSpec, Matrix, plotlyFigure, svgFigure } from "./figures.js";
import { JsonObject, MimeBundle, OutputEvent } from "./protocol.js";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

const EDGE = 3; // numpy's edgeitems
const PLAIN_THRESHOLD = 1000; // numpy's threshold: more elements than this are elided
const HTML_EDGE = 8; // rows/columns kept at each end of an elided HTML table

export interface Stats { min: number; max: number; mean: number; count: number }

export function stats(values: ArrayLike<number>): Stats {
  let min = Infinity, max = -Infinity, sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: values.length ? sum / values.length : NaN, count: values.length };
}

/** One number the way numpy prints it: `1.`, `0.25`, `1.5e-05`, `-inf`, `nan`; integers plainly. */
export function formatNumber(v: number, precision: Precision): string {
  if (!isFloat(precision)) return String(v);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0." : "0.";
  const a = Math.abs(v);
  if (a >= 1e8 || a < 1e-4) return v.toExponential(4).replace(/\.?0+e/, "e").replace(/e([+-])(\d)$/, "e$10$2");
  if (Number.isInteger(v)) return `${v}.`;
  return v.toFixed(4).replace(/0+$/, "");
}

export function describeType(v: Pick<TensorView, "precision" | "shape">): string {
  return `Tensor<${v.precision}, ${shapeToString(v.shape)}>`;
}

/** Indices kept along an axis of length n when eliding: the first and last `edge`, -1 for the gap. */
function keptIndices(n: number, elide: boolean, edge: number): number[] {
  if (!elide || n <= 2 * edge) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: edge }, (_, i) => i), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)];
}

/** numpy-like text: the type on the first line, then nested brackets, elided with `...` when large. */
export function textPlain(view: TensorView, values = toNumbers(view)): string {
  const { shape, precision } = view;
  if (shape.length === 0) return formatNumber(values[0], precision);
  const elide = values.length > PLAIN_THRESHOLD;
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { strides[i] = acc; acc *= shape[i]; }
  // Width of the widest printed element, so columns line up.
  const printed = new Map<number, string>();
  const collect = (axis: number, base: number): void => {
    for (const i of keptIndices(shape[axis], elide, EDGE)) {
      if (i < 0) continue;
      if (axis === shape.length - 1) printed.set(base + i, formatNumber(values[base + i], precision));
      else collect(axis + 1, base + i * strides[axis]);
    }
  };
  collect(0, 0);
  const width = Math.max(...[...printed.values()].map((s) => s.length));
  const render = (axis: number, base: number, indent: number): string => {
    const items: string[] = [];
    for (const i of keptIndices(shape[axis], elide, EDGE)) {
      if (axis === shape.length - 1) items.push(i < 0 ? "...".padStart(width) : printed.get(base + i)!.padStart(width));
      else items.push(i < 0 ? "..." : render(axis + 1, base + i * strides[axis], indent + 1));
    }
    if (axis === shape.length - 1) return `[${items.join(", ")}]`;
    const sep = "," + "\n".repeat(shape.length - 1 - axis) + " ".repeat(indent + 1);
    return `[${items.join(sep)}]`;
  };
  return `${describeType(view)}\n${render(0, 0, 0)}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function statsLine(view: TensorView, s: Stats, precision: Precision = view.precision): string {
  const f = (x: number) => formatNumber(x, isFloat(precision) ? precision : "f32");
  return `shape ${shapeToString(view.shape)} · ${view.precision} · ${elementCount(view.shape) * bytesPerElement(view.precision)} bytes · min ${f(s.min)} · max ${f(s.max)} · mean ${f(s.mean)}`;
}

/**
 * An HTML table (arquero): 1-D as one row, 2-D as rows × columns, higher ranks with the leading
 * axes flattened into row labels ("i, j"). Large tables keep HTML_EDGE rows/columns at each end.
 */
export function htmlTable(view: TensorView, values = toNumbers(view), title?: string): string {
  const shape = view.shape.length === 0 ? [1] : view.shape;
  const cols = shape.length === 1 ? shape[0] : shape[shape.length - 1];
  const rows = shape.length === 1 ? 1 : elementCount(shape) / cols;
  const lead = shape.slice(0, -1);
  const rowLabel = (r: number): string => {
    if (shape.length === 1) return "";
    const idx: number[] = [];
    for (let a = lead.length - 1, rem = r; a >= 0; a--) { idx.unshift(rem % lead[a]); rem = Math.floor(rem / lead[a]); }
    return idx.join(", ");
  };
  const rowIdx = keptIndices(rows, rows > 2 * HTML_EDGE + 1, HTML_EDGE);
  const colIdx = keptIndices(cols, cols > 2 * HTML_EDGE + 1, HTML_EDGE);
  const columns = new Map<string, string[]>();
  columns.set("", rowIdx.map((r) => (r < 0 ? "⋮" : rowLabel(r))));
  for (const c of colIdx) {
    columns.set(c < 0 ? "…" : String(c), rowIdx.map((r) => (r < 0 ? "⋮" : c < 0 ? "…" : formatNumber(values[r * cols + c], view.precision))));
  }
  const table = aq.table(columns).toHTML({ limit: Infinity, style: { td: "text-align: right; font-family: monospace;", th: "text-align: right;" } });
  const s = stats(values);
  const header = `<div class="tc-tensor-header"><b>${escapeHtml(title ? `${title}: ${describeType(view)}` : describeType(view))}</b><br><small>${escapeHtml(statsLine(view, s))}</small></div>`;
  return `<div class="tc-tensor">${header}${table}</div>`;
}

/** The bundle of a shown tensor: text/plain always, text/html for anything with more than one element. */
export function tensorBundle(view: TensorView, title?: string): MimeBundle {
  const values = toNumbers(view);
  const bundle: MimeBundle = { "text/plain": textPlain(view, values) };
  if (values.length > 1) bundle["text/html"] = htmlTable(view, values, title);
  return bundle;
}

// ---- figures ------------------------------------------------------------------------------------

const MAX_HEATMAP = 256; // cells per side: larger maps are strided down
const MAX_LINES = 16;

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export class DisplayError extends Error {}

/** The 2-D matrix of a tensor for a heatmap (strided past MAX_HEATMAP per side), or why not. */
export function matrixOf(view: TensorView, title: string): Matrix & { strided: string } {
  const rank = view.shape.length;
  if (rank !== 2) {
    const hint = rank < 2
      ? "use %plot for 1-D data"
      : `pick a 2-D slice with indexing, e.g. %heatmap ${title}${"[0]".repeat(rank - 2)} (the last two axes are rows and columns)`;
    throw new DisplayError(`a heatmap needs a 2-D tensor (rows are queries, columns keys); '${title}' is ${describeType(view)}: ${hint}`);
  }
  const values = toNumbers(view);
  const [rows, cols] = view.shape;
  const rs = Math.max(1, Math.ceil(rows / MAX_HEATMAP)), cs = Math.max(1, Math.ceil(cols / MAX_HEATMAP));
  const xs: number[] = [], ys: number[] = [], z: (number | null)[][] = [];
  for (let c = 0; c < cols; c += cs) xs.push(c);
  for (let r = 0; r < rows; r += rs) {
    ys.push(r);
    z.push(xs.map((c) => finiteOrNull(values[r * cols + c])));
  }
  return { title, z, rows: ys, cols: xs, strided: rs > 1 || cs > 1 ? ` (every ${rs}th row, ${cs}th column)` : "" };
}

export interface HeatmapRequest {
  /** Token text per position, for the axes (rows and columns are positions of a prompt). */
  labels?: string[];
  /** A second tensor of the same shape: drawn beside the first on the same colour scale, with the difference. */
  vs?: { view: TensorView; title: string };
}

export function heatmapFigureSpec(view: TensorView, title: string, req: HeatmapRequest = {}): HeatmapSpec {
  const a = matrixOf(view, title);
  if (req.labels && req.labels.length < Math.max(view.shape[0], view.shape[1])) {
    throw new DisplayError(`${req.labels.length} labels for a ${view.shape[0]}×${view.shape[1]} map: one label per position is needed`);
  }
  if (!req.vs) return heatmapSpec(`${title} ${describeType(view)}${a.strided}`, [a], { labels: req.labels });
  const b = matrixOf(req.vs.view, req.vs.title);
  if (shapeToString(view.shape) !== shapeToString(req.vs.view.shape)) {
    throw new DisplayError(`--vs needs tensors of one shape: '${title}' is ${describeType(view)}, '${req.vs.title}' is ${describeType(req.vs.view)}`);
  }
  return heatmapSpec(`${title} vs ${req.vs.title}: ${shapeToString(view.shape)}${a.strided}`, [a, b], { labels: req.labels, difference: true });
}

export function lineFigureSpec(view: TensorView, title: string): LineSpec {
  if (view.shape.length > 2 || view.shape.length === 0) throw new DisplayError(`a line plot needs 1-D data (or 2-D: one line per row); '${title}' is ${describeType(view)}`);
  const values = toNumbers(view);
  const [rows, cols] = view.shape.length === 2 ? view.shape : [1, view.shape[0]];
  const series = [];
  for (let r = 0; r < Math.min(rows, MAX_LINES); r++) {
    series.push({ name: rows > 1 ? `row ${r}` : title, y: Array.from(values.slice(r * cols, (r + 1) * cols), finiteOrNull) });
  }
  const more = rows > MAX_LINES ? ` (first ${MAX_LINES} of ${rows} rows)` : "";
  return { kind: "lines", title: `${title} ${describeType(view)}${more}`, series, xTitle: "index", yTitle: "value" };
}

/** The plotly figures of a heatmap and a line plot (the MIME type's JSON). */
export const heatmapFigure = (view: TensorView, title: string, req?: HeatmapRequest): JsonObject => plotlyFigure(heatmapFigureSpec(view, title, req));
export const lineFigure = (view: TensorView, title: string): JsonObject => plotlyFigure(lineFigureSpec(view, title));

/**
 * A figure's MIME bundle: plotly's JSON for front ends with its renderer (JupyterLab with the
 * `plotly` package), an SVG drawn here for the rest (and nbconvert's HTML), and text. No scripts:
 * the figure is data, so it survives saving, reloading and untrusted notebooks.
 */
export function figureBundle(spec: FigureSpec, fallbackText: string): MimeBundle {
  return { [PLOTLY_MIME]: plotlyFigure(spec), "image/svg+xml": svgFigure(spec), "text/plain": fallbackText };
}

// ---- progress bars ----------------------------------------------------------------------------

/** A progress bar shown once and then updated in place. fraction undefined = indeterminate. */
export class Progress {
  private readonly id = `tc-progress-${randomUUID()}`;
  private started = false;
  private lastUpdate = 0;
  constructor(private readonly emit: (e: OutputEvent) => void, private readonly label: string) {}

  private bundle(fraction: number | undefined, detail: string): MimeBundle {
    const pct = fraction === undefined ? undefined : Math.round(Math.max(0, Math.min(1, fraction)) * 100);
    const bar = pct === undefined ? "[" + "~".repeat(20) + "]" : "[" + "#".repeat(Math.round(pct / 5)).padEnd(20, " ") + `] ${pct}%`;
    const progress = pct === undefined ? `<progress style="width:20em"></progress>` : `<progress style="width:20em" value="${pct}" max="100"></progress> ${pct}%`;
    return {
      "text/plain": `${this.label} ${bar} ${detail}`.trimEnd(),
      "text/html": `<div class="tc-progress"><span>${escapeHtml(this.label)}</span> ${progress} <small>${escapeHtml(detail)}</small></div>`,
    };
  }

  /** Show or update; updates closer than 100 ms apart are skipped unless `force`. */
  update(fraction: number | undefined, detail = "", force = false): void {
    const now = Date.now();
    if (this.started && !force && now - this.lastUpdate < 100) return;
    this.lastUpdate = now;
    this.emit({ kind: "display", data: this.bundle(fraction, detail), metadata: {}, displayId: this.id, update: this.started });
    this.started = true;
  }

  done(detail: string): void {
    this.update(1, detail, true);
  }
}
