// Rich displays of tensors: MIME bundles for Jupyter front ends.
//   text/plain                       numpy-like, with the type; elided past 1000 elements
//   text/html                        an arquero table with row/column labels and a stats header
//   application/vnd.plotly.v1+json   heatmaps (2-D) and line plots (1-D), with a text/html
//                                    fallback that loads plotly.js once per session
// and a progress bar that updates in place (display_id + update_display_data).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import * as aq from "arquero";
import { bytesPerElement, elementCount, isFloat, Precision, shapeToString } from "../compiler/types.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { Json, JsonObject, MimeBundle, OutputEvent } from "./protocol.js";

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

// ---- plotly figures -----------------------------------------------------------------------------

const MAX_HEATMAP = 256; // cells per side: larger maps are strided down
const MAX_LINES = 16;

const finiteOrNull = (v: number): Json => (Number.isFinite(v) ? v : null);

export function heatmapFigure(view: TensorView, title: string): JsonObject {
  if (view.shape.length !== 2 && view.shape.length !== 1) throw new DisplayError(`a heatmap needs a 2-D tensor (rows are queries, columns keys); '${title}' is ${describeType(view)}`);
  const values = toNumbers(view);
  const [rows, cols] = view.shape.length === 2 ? view.shape : [1, view.shape[0]];
  const rs = Math.max(1, Math.ceil(rows / MAX_HEATMAP)), cs = Math.max(1, Math.ceil(cols / MAX_HEATMAP));
  const z: Json[] = [], ys: number[] = [], xs: number[] = [];
  for (let c = 0; c < cols; c += cs) xs.push(c);
  for (let r = 0; r < rows; r += rs) {
    ys.push(r);
    z.push(xs.map((c) => finiteOrNull(values[r * cols + c])));
  }
  const strided = rs > 1 || cs > 1 ? ` (every ${rs}th row, ${cs}th column)` : "";
  return {
    data: [{ type: "heatmap", z, x: xs, y: ys, colorscale: "Viridis", hovertemplate: "query %{y}, key %{x}: %{z}<extra></extra>" }],
    layout: {
      // The key axis sits on top (as an attention map is read), so the title goes below the plot.
      title: { text: `${title} ${describeType(view)}${strided}`, y: 0.02, yanchor: "bottom" },
      xaxis: { title: { text: "key" }, side: "top" },
      yaxis: { title: { text: "query" }, autorange: "reversed" },
      width: 520, height: 480, margin: { t: 70, b: 60 },
    },
  };
}

export function lineFigure(view: TensorView, title: string): JsonObject {
  if (view.shape.length > 2 || view.shape.length === 0) throw new DisplayError(`a line plot needs 1-D data (or 2-D: one line per row); '${title}' is ${describeType(view)}`);
  const values = toNumbers(view);
  const [rows, cols] = view.shape.length === 2 ? view.shape : [1, view.shape[0]];
  const data: Json[] = [];
  for (let r = 0; r < Math.min(rows, MAX_LINES); r++) {
    data.push({ type: "scatter", mode: "lines", name: rows > 1 ? `row ${r}` : title, y: Array.from(values.slice(r * cols, (r + 1) * cols), finiteOrNull) });
  }
  return { data, layout: { title: { text: `${title} ${describeType(view)}` }, xaxis: { title: { text: "index" } }, width: 620, height: 360 } };
}

export class DisplayError extends Error {}

let plotlySource: string | undefined;
function plotlyJs(): string {
  if (!plotlySource) {
    const require = createRequire(import.meta.url);
    plotlySource = readFileSync(require.resolve("plotly.js-dist"), "utf8");
  }
  return plotlySource;
}

/**
 * Figures: the plotly MIME type for front ends with a plotly renderer, and an HTML fallback for
 * everything else (JupyterLab without the extension, nbconvert's HTML). The fallback of the
 * session's first figure carries plotly.js itself (loaded as a global, even under require.js);
 * later ones use that global.
 */
export class FigureMaker {
  private shipped = false;
  constructor(private readonly inlinePlotly = true) {}

  bundle(figure: JsonObject, fallbackText: string): MimeBundle {
    const id = `tc-plot-${randomUUID()}`;
    let loader = "";
    if (!this.shipped && this.inlinePlotly) {
      loader = `<script type="text/javascript">(function(){var define, module, exports;\n${plotlyJs().replace(/<\/script/gi, "<\\/script")}\n}).call(window);</script>`;
      this.shipped = true;
    }
    const json = JSON.stringify(figure).replace(/</g, "\\u003c");
    const html = `<div class="tc-figure">${loader}<div id="${id}" class="tc-plotly"></div><script type="text/javascript">(function(){var el=document.getElementById(${JSON.stringify(id)});var fig=${json};` +
      `if(window.Plotly){window.Plotly.newPlot(el,fig.data,fig.layout,{responsive:true});}else{el.textContent="plotly.js is not loaded: re-run the notebook's first figure cell";}})();</script></div>`;
    return { [PLOTLY_MIME]: figure, "text/html": html, "text/plain": fallbackText };
  }
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
