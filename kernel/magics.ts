// Magics: a few, each discoverable with %help. A line magic is a line starting with `%`;
// a cell magic (`%%eigen`, `%%time`) is a first line starting with `%%` and applies to the cell.

import { readdirSync, statSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, basename, extname, resolve } from "node:path";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { bytesPerElement, elementCount, Precision, shapeToString, TensorType, typeToString } from "../compiler/types.js";
import { Session } from "../runtime/session.js";
import { TensorView } from "../runtime/tensor.js";
import { bindRaw, DirectorySource, InputError, ManifestSource, parseNpy, RawTensor } from "../runtime/weights.js";
import { readWholeFile } from "../runtime/model-folder.js";
import { readFileSync } from "node:fs";
import { figureBundle, heatmapFigureSpec, lineFigureSpec, PLOTLY_MIME, Progress, stats, tensorBundle, textPlain } from "./display.js";
import { languageDoc } from "./docs.js";
import { toNumbers } from "../runtime/tensor.js";
import { JsonObject, OutputEvent } from "./protocol.js";
import { intrinsic, KEYWORDS, INTRINSIC_NAMES } from "../compiler/intrinsics.js";

export type { BackendName as Backend } from "../backends/index.js";

import { BACKEND_NAMES, BackendName as Backend, isBackendName } from "../backends/index.js";

/** The largest file %run reads (as `tensorcore run`). */
const MAX_RUN_BYTES = 16 << 20;

/** %compare's default tolerances (numpy's allclose rule; rtol suits f32 round-off). */
export const COMPARE_ATOL = 1e-5, COMPARE_RTOL = 1e-4;

/** A magic: its usage line, what it does, and how it runs (cell magics are applied by the engine). */
export interface Magic {
  usage: string;
  summary: string;
  /** A cell magic (%%NAME, the cell's first lines). */
  cell?: boolean;
  run?: (ctx: MagicContext, args: string, line: number) => Promise<void> | void;
}

export const MAGICS: Record<string, Magic> = {
  backend: {
    usage: "%backend [interp|eigen]", summary: "Show or switch the session's back end: the reference interpreter (default) or compiled C++/Eigen.",
    run: async (ctx, args) => {
      if (!args) { ctx.print(`backend: ${ctx.getBackend()} (switch with %backend ${BACKEND_NAMES.join(" or %backend ")})\n`); return; }
      if (!isBackendName(args)) throw new MagicError(`unknown backend '${args}': use ${BACKEND_NAMES.join(" or ")}`);
      await ctx.setBackend(args);
      ctx.print(`backend: ${args}\n`);
    },
  },
  eigen: { usage: "%%eigen", summary: "Run this cell compiled with C++/Eigen (progress is shown while g++ builds).", cell: true },
  interp: { usage: "%%interp", summary: "Run this cell on the reference interpreter.", cell: true },
  time: {
    usage: "%time CODE  |  %%time", summary: "Run a line (or, as %%time, the whole cell) and print the wall time.",
    run: async (ctx, args, line) => {
      if (!args) throw new MagicError("usage: %time CODE (or %%time as the first line of a cell)");
      const t0 = performance.now();
      await ctx.runCode(args, line);
      ctx.print(`Wall time: ${formatMs(performance.now() - t0)}\n`);
    },
  },
  who: {
    usage: "%who", summary: "List session tensors with type, shape, precision, memory space and bytes; the memory the session's tensor values hold; then kernels, types and consts.",
    run: (ctx, args) => {
      if (args) throw new MagicError("usage: %who (it takes no arguments: it lists everything)");
      who(ctx);
    },
  },
  reset: {
    usage: "%reset", summary: "Forget every definition and tensor of the session.",
    run: (ctx, args) => {
      // `%reset x` must not read as "forget x" and then forget everything
      if (args) throw new MagicError("usage: %reset (it takes no arguments and forgets every definition and tensor; nothing was reset)");
      ctx.session.reset();
      sessionState.delete(ctx.session);
      ctx.print("session cleared: no types, consts, kernels or tensors are defined\n");
    },
  },
  load: { usage: "%load DIR [PREFIX] [--no-verify]", summary: "Bind every tensor of a model folder (manifest.json), or every NAME.npy / NAME.bin file of DIR, as session tensors. Names become identifiers (h.0.w → h_0_w), with PREFIX prepended. Each tensor's sha256 is checked against manifest.json; --no-verify skips that check (paths, file types and sizes are still checked).", run: (ctx, args) => asMagicError(() => load(ctx, args)) },
  display: { usage: "%display EXPR", summary: "Display a tensor expression: numpy-like text and an HTML table with shape, precision, min, max and mean.", run: (ctx, args, line) => figure(ctx, "display", args, line) },
  heatmap: {
    usage: "%heatmap EXPR [--vs EXPR2] [--labels TOKENS]",
    summary: "Plot a 2-D tensor as a heatmap (an attention map: rows are queries, columns keys). --vs draws EXPR2 beside it on the same colour scale, with the difference; --labels names the positions: a list [\"The\", \" cat\"], or an expression of token ids (decoded with the session's tokenizer). After %generate, a square map of the prompt's size is labelled with its tokens.",
    run: (ctx, args, line) => heatmap(ctx, args, line),
  },
  compare: {
    usage: "%compare A B [--atol X] [--rtol Y]",
    summary: `One line comparing two tensor expressions of one shape: max-abs-diff, cosine, and PASS when every |a - b| <= atol + rtol * |b| (numpy's allclose; defaults atol ${COMPARE_ATOL}, rtol ${COMPARE_RTOL}).`,
    run: (ctx, args, line) => compare(ctx, args, line),
  },
  plot: { usage: "%plot EXPR", summary: "Line plot of 1-D data (2-D: one line per row).", run: (ctx, args, line) => figure(ctx, "plot", args, line) },
  run: {
    usage: "%run FILE.ta [MORE.ta ...]", summary: "Run .ta files in the session: their consts, types and kernels become defined (e.g. a model folder's model.ta), and their top-level statements run.",
    run: async (ctx, args) => {
      const paths = splitArgs(args);
      if (paths.length === 0) throw new MagicError("usage: %run FILE.ta [MORE.ta ...]");
      for (const p of paths) {
        const path = resolve(expandHome(p));
        if (!existsSync(path) || !statSync(path).isFile()) throw new MagicError(`${p}: no such file`);
        // as `tensorcore run` reads a source: a 3 GB file was read for 17 s into an "internal error"
        const size = statSync(path).size;
        if (size > MAX_RUN_BYTES) throw new MagicError(`${p}: ${size} bytes, more than a .ta source may have (${MAX_RUN_BYTES})`);
        await ctx.runFile(new SourceFile(path, readFileSync(path, "utf8")));
      }
    },
  },
  generate: { usage: "%generate [--model DIR] [--max-new-tokens N] [--temperature T --top-k K --top-p P --seed S] [--chat [--system TEXT]] PROMPT", summary: "Generate text with a model folder (default: the embedded model) on the session's back end, streaming tokens as they come. --chat: the prompt is a user's message, turned into the model's prompt by the folder's chat template (as HF's apply_chat_template).", run: (ctx, args) => generateMagic(ctx, args) },
  profile: {
    usage: "%profile CODE  |  %profile --model DIR [--prompt N] [--tokens N]",
    summary: "Run CODE (or a model's prefill and decode steps) on the session's back end with per-kernel and per-statement timers: calls, time, bytes, FLOPs, GB/s and GFLOP/s against this machine's roofline, as a table and a roofline chart.",
    run: (ctx, args, line) => profileMagic(ctx, args, line),
  },
  help: { usage: "%help [NAME]", summary: "This list; %help NAME for one magic, intrinsic, type, precision, memory space, layout or keyword.", run: (ctx, args) => help(ctx, args) },
};

/** The magics as a list, in the order above (help, completion). */
export const MAGIC_LIST = Object.entries(MAGICS).map(([name, m]) => ({ name, ...m }));
export const MAGIC_NAMES = Object.keys(MAGICS);

/** A cell cut into line magics and code chunks. Code chunks keep their line numbers in the cell. */
export type Segment = { kind: "code"; text: string; line: number } | { kind: "magic"; name: string; args: string; line: number };

export interface ParsedCell { cellMagics: { name: string; args: string }[]; segments: Segment[] }

export function parseCell(code: string): ParsedCell {
  const lines = code.split("\n");
  const cellMagics: { name: string; args: string }[] = [];
  let i = 0;
  while (i < lines.length) {
    const m = /^\s*%%([A-Za-z_]\w*)\s*(.*)$/.exec(lines[i]);
    if (!m) break;
    cellMagics.push({ name: m[1], args: m[2].trim() });
    i++;
  }
  const segments: Segment[] = [];
  let chunk: string[] = [], chunkLine = i;
  const flush = () => {
    if (chunk.some((l) => l.trim() !== "")) segments.push({ kind: "code", text: chunk.join("\n"), line: chunkLine });
    chunk = [];
  };
  let depth = 0; // a '%' inside braces is the modulo operator continuing an expression, not a magic
  for (; i < lines.length; i++) {
    const m = depth === 0 ? /^\s*%([A-Za-z_]\w*)\s*(.*)$/.exec(lines[i]) : null;
    if (m) {
      flush();
      segments.push({ kind: "magic", name: m[1], args: m[2].trim(), line: i });
      chunkLine = i + 1;
    } else {
      if (chunk.length === 0) chunkLine = i;
      chunk.push(lines[i]);
      for (const ch of lines[i].replace(/\/\/.*$/, "")) { if (ch === "{") depth++; else if (ch === "}") depth = Math.max(0, depth - 1); }
    }
  }
  flush();
  return { cellMagics, segments };
}

/** What a magic can reach of the engine. */
export interface MagicContext {
  session: Session;
  emit(e: OutputEvent): void;
  print(text: string): void;
  /** Evaluate a .ta expression to a tensor (throws DiagnosticError). */
  evaluate(expr: string, line: number): TensorView;
  getBackend(): Backend;
  setBackend(b: Backend): Promise<void>;
  /** Run code (the rest of a %time line) as part of the cell. */
  runCode(code: string, line: number): Promise<void>;
  /** Run a .ta file in the session (its diagnostics name the file). */
  runFile(file: SourceFile): Promise<void>;
}

export class MagicError extends Error {}

export async function runLineMagic(ctx: MagicContext, name: string, args: string, line: number): Promise<void> {
  const m = Object.prototype.hasOwnProperty.call(MAGICS, name) ? MAGICS[name] : undefined;
  if (!m?.run) {
    throw new MagicError(`unknown magic '%${name}' (magics: ${MAGIC_LIST.map((x) => (x.cell ? "%%" : "%") + x.name).join(", ")}; %help explains them)`);
  }
  await m.run(ctx, args, line);
}

function figure(ctx: MagicContext, name: "display" | "plot", args: string, line: number): void {
  if (!args) throw new MagicError(`usage: %${name} EXPR`);
  const v = ctx.evaluate(args, line);
  if (name === "display") ctx.emit({ kind: "display", data: tensorBundle(v, args), metadata: {} });
  else ctx.emit({ kind: "display", data: figureBundle(lineFigureSpec(v, args), `plot of ${args}\n${textPlain(v)}`), metadata: {} });
}

/** What magics remember per session: the tokenizer's folder and the last prompt's token text. */
interface MagicState { tokenizerDir?: string; tokens?: string[]; promptLength?: number }
const sessionState = new WeakMap<Session, MagicState>();
function stateOf(session: Session): MagicState {
  let st = sessionState.get(session);
  if (!st) sessionState.set(session, (st = {}));
  return st;
}

/** EXPR followed by `--NAME VALUE` options (VALUE runs to the next option: it may be an expression). */
export function splitOptions(args: string, names: string[]): { expr: string; opts: Record<string, string> } {
  const re = new RegExp(`(?:^|\\s)--(${names.join("|")})(?=\\s|$)`, "g");
  const marks = [...args.matchAll(re)];
  const opts: Record<string, string> = {};
  const expr = (marks.length ? args.slice(0, marks[0].index) : args).trim();
  marks.forEach((m, i) => {
    const from = m.index! + m[0].length, to = i + 1 < marks.length ? marks[i + 1].index! : args.length;
    const value = args.slice(from, to).trim();
    if (!value) throw new MagicError(`--${m[1]} needs a value`);
    if (opts[m[1]] !== undefined) throw new MagicError(`--${m[1]} is given twice`);
    opts[m[1]] = value;
  });
  const unknown = /(?:^|\s)(--[A-Za-z][\w-]*)/.exec(expr);
  if (unknown) throw new MagicError(`unknown option '${unknown[1]}' (options: ${names.map((n) => "--" + n).join(", ")})`);
  return { expr, opts };
}

async function tokenizerOf(ctx: MagicContext) {
  const { Gpt2Tokenizer } = await import("../models/tokenizer.js");
  const { EMBEDDED_MODEL } = await import("../models/causal-lm.js");
  return Gpt2Tokenizer.fromFolder(stateOf(ctx.session).tokenizerDir ?? EMBEDDED_MODEL);
}

/** --labels: a JSON list of strings, or an expression of token ids decoded one by one. */
async function labelsOf(ctx: MagicContext, spec: string, line: number): Promise<string[]> {
  if (spec.startsWith("[") && /^\[\s*(?:"|'|\])/.test(spec)) {
    let list: unknown;
    try { list = JSON.parse(spec.replace(/'/g, '"')); } catch { throw new MagicError(`--labels: '${spec}' is not a list of strings`); }
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) throw new MagicError(`--labels: '${spec}' is not a list of strings`);
    return list;
  }
  const v = ctx.evaluate(spec, line);
  if (v.precision !== "int32" && v.precision !== "int8") throw new MagicError(`--labels: '${spec}' is ${v.precision}; token ids are integers (or give a list: ["The", " cat"])`);
  const tok = await tokenizerOf(ctx);
  return Array.from(toNumbers(v), (id) => tok.decode([id]));
}

async function heatmap(ctx: MagicContext, args: string, line: number): Promise<void> {
  const { expr, opts } = splitOptions(args, ["vs", "labels"]);
  if (!expr) throw new MagicError("usage: %heatmap EXPR [--vs EXPR2] [--labels TOKENS]");
  const v = ctx.evaluate(expr, line);
  let labels = opts.labels !== undefined ? await labelsOf(ctx, opts.labels, line) : undefined;
  // The last prompt's tokens label a square map of the prompt's length: its attention map.
  const { tokens, promptLength } = stateOf(ctx.session);
  const n = v.shape[0];
  if (!labels && tokens && v.shape.length === 2 && v.shape[1] === n && (n === promptLength || n === tokens.length)) labels = tokens.slice(0, n);
  const vs = opts.vs !== undefined ? { view: ctx.evaluate(opts.vs, line), title: opts.vs } : undefined;
  const spec = heatmapFigureSpec(v, expr, { labels, vs });
  ctx.emit({ kind: "display", data: figureBundle(spec, `heatmap of ${expr}${vs ? ` vs ${vs.title}` : ""}\n${textPlain(v)}`), metadata: {} });
}

/** max-abs-diff, cosine and numpy's allclose verdict of two equally long arrays. */
export function compareValues(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { maxAbs: number; cosine: number; pass: boolean; worst: number } {
  let maxAbs = 0, ab = 0, aa = 0, bb = 0, pass = true, worst = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) { maxAbs = Number.isNaN(d) ? NaN : d; worst = i; }
    if (!(d <= atol + rtol * Math.abs(b[i]))) pass = false;
    ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i];
  }
  const cosine = aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
  return { maxAbs, cosine, pass, worst };
}

function compare(ctx: MagicContext, args: string, line: number): void {
  const { expr, opts } = splitOptions(args, ["atol", "rtol"]);
  const num = (k: string, d: number) => {
    if (opts[k] === undefined) return d;
    const x = Number(opts[k]);
    if (!(x >= 0 && Number.isFinite(x))) throw new MagicError(`--${k} needs a finite non-negative number, got '${opts[k]}'`);
    return x;
  };
  const atol = num("atol", COMPARE_ATOL), rtol = num("rtol", COMPARE_RTOL);
  const [ea, eb, ...extra] = splitExprs(expr);
  if (!ea || !eb || extra.length) throw new MagicError("usage: %compare A B [--atol X] [--rtol Y] (A and B are expressions; wrap ones with spaces in parentheses)");
  const a = ctx.evaluate(ea, line), b = ctx.evaluate(eb, line);
  if (shapeToString(a.shape) !== shapeToString(b.shape)) throw new MagicError(`%compare needs one shape: '${ea}' is ${shapeToString(a.shape)}, '${eb}' is ${shapeToString(b.shape)}`);
  const va = toNumbers(a), vb = toNumbers(b);
  const r = compareValues(va, vb, atol, rtol);
  const f = (x: number) => (Number.isNaN(x) ? "nan" : x === 0 ? "0" : x.toExponential(2));
  ctx.print(`${ea} vs ${eb}: max-abs-diff ${f(r.maxAbs)} · cosine ${r.cosine.toFixed(8)} · ${r.pass ? "PASS" : "FAIL"} (atol ${atol}, rtol ${rtol}; ${va.length} values, max |${eb}| ${f(stats(Array.from(vb, Math.abs)).max)})\n`);
}

/** Split "A B" into expressions at top-level spaces (brackets and parentheses keep theirs). */
export function splitExprs(text: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = "";
  for (const ch of text.trim()) {
    if ("([{".includes(ch)) depth++;
    else if (")]}".includes(ch)) depth--;
    if (/\s/.test(ch) && depth === 0) { if (cur) out.push(cur); cur = ""; continue; }
    cur += ch;
  }
  if (cur) out.push(cur);
  // Operators split by spaces ("a - b c") rejoin their neighbours.
  const joined: string[] = [];
  for (const part of out) {
    const prev = joined[joined.length - 1];
    if (prev !== undefined && (/[-+*/%,<>=]$/.test(prev) || /^[-+*/%,<>=]/.test(part))) joined[joined.length - 1] = `${prev} ${part}`;
    else joined.push(part);
  }
  return joined;
}

export function formatMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(2)} ms` : `${(ms / 1000).toFixed(3)} s`;
}

export function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / (1 << 30)).toFixed(2)} GiB`;
}

function who(ctx: MagicContext): void {
  const env = ctx.session.env;
  const rows: string[][] = [["name", "shape", "precision", "space", "bytes"]];
  let total = 0;
  for (const [name, v] of env.tensors) {
    const bytes = elementCount(v.type.shape) * bytesPerElement(v.type.precision);
    total += bytes;
    rows.push([name, shapeToString(v.type.shape), v.type.precision, v.type.space, formatBytes(bytes)]);
  }
  let out = "";
  if (rows.length === 1) out += "no session tensors\n";
  else {
    const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    out += rows.map((r) => r.map((x, c) => (c === 4 ? x.padStart(w[c]) : x.padEnd(w[c]))).join("  ").trimEnd()).join("\n") + "\n";
    out += `${env.tensors.size} tensor${env.tensors.size === 1 ? "" : "s"}, ${formatBytes(total)}\n`;
  }
  // What the session's values really hold (views of one buffer counted once; redeclared tensors are freed).
  out += `memory in use: ${formatBytes(ctx.session.store.bytes())}\n`;
  if (env.kernels.size) out += `kernels: ${[...env.kernels.keys()].join(", ")}\n`;
  if (env.types.size) out += `types: ${[...env.types.keys()].join(", ")}\n`;
  if (env.consts.size) out += `consts: ${[...env.consts].map(([k, v]) => `${k} = ${v}`).join(", ")}\n`;
  ctx.print(out);
}

function help(ctx: MagicContext, args: string): void {
  const name = args.replace(/^%+/, "");
  if (name) {
    const m = Object.prototype.hasOwnProperty.call(MAGICS, name) ? MAGICS[name] : undefined;
    if (m) { ctx.print(`${m.usage}\n    ${m.summary}\n`); return; }
    const i = intrinsic(name);
    if (i) { ctx.print(`${name} (intrinsic)\n${i.forms.map((f) => `    ${f}`).join("\n")}\n    ${i.summary}\n`); return; }
    const doc = languageDoc(name);
    if (doc) { ctx.print(doc.replace(/\n\n/, "\n    ") + "\n"); return; }
    throw new MagicError(`no magic, intrinsic, type or keyword named '${name}' (%help lists the magics)`);
  }
  const w = Math.max(...MAGIC_LIST.map((m) => m.usage.length));
  ctx.print(
    "TensorCore magics:\n" + MAGIC_LIST.map((m) => `  ${m.usage.padEnd(w)}  ${m.summary}`).join("\n") +
    "\n\nA cell is a .ta program: types, consts, kernels and top-level statements. Definitions and session\n" +
    "tensors persist across cells; a trailing bare expression (x, x * 2, SOFTMAX(s)) is the cell's value.\n" +
    "Tab completes names; Shift+Tab on a name shows an intrinsic's documentation or a tensor's summary.\n",
  );
}

const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A weight name as a .ta identifier: h.0.attn.w → h_0_attn_w. */
export function identifierFor(name: string, prefix = ""): string {
  let id = prefix + name.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z_]/.test(id)) id = "_" + id;
  if (KEYWORDS.includes(id) || INTRINSIC_NAMES.has(id)) id += "_";
  return id;
}

const loadFile = new SourceFile("%load", "");

function storable(p: RawTensor["precision"]): Precision {
  return p === "f64" ? "f32" : p === "int64" || p === "uint8" ? "int32" : p;
}

/** A bad file in a folder the user named is the user's error to fix: shown as a message, never "internal error". */
function asMagicError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) throw new MagicError(e.message);
    throw e;
  }
}

function load(ctx: MagicContext, args: string): void {
  const words = args.split(/\s+/).filter(Boolean);
  const verify = !words.includes("--no-verify");
  const [dirArg, prefix = "", ...extra] = words.filter((w) => w !== "--no-verify");
  if (!dirArg || extra.length) throw new MagicError("usage: %load DIR [PREFIX] [--no-verify]");
  if (prefix && !VALID_NAME.test(prefix)) throw new MagicError(`the prefix '${prefix}' is not an identifier`);
  const dir = resolve(expandHome(dirArg));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MagicError(`${dirArg}: no such directory`);
  const session = ctx.session;
  const entries: { name: string; read: () => RawTensor; shape?: number[]; precision?: RawTensor["precision"] }[] = [];
  let manifestSource: ManifestSource | undefined;
  if (existsSync(join(dir, "manifest.json"))) {
    const src = (manifestSource = new ManifestSource(dir, { verify }));
    for (const [name, e] of src.entries) entries.push({ name, read: () => src.find(name)!, shape: e.shape, precision: e.dtype });
  } else {
    const dsrc = new DirectorySource(dir);
    for (const f of readdirSync(dir).sort()) {
      const ext = extname(f);
      if (ext !== ".npy" && ext !== ".bin") continue;
      const name = basename(f, ext);
      if (ext === ".bin" && entries.some((x) => x.name === name)) continue;
      entries.push({ name, read: () => (ext === ".npy" ? parseNpy(readWholeFile(dsrc.path(f), 2 ** 31 - 1, join(dir, f)), join(dir, f)) : dsrc.find(name)!) });
    }
  }
  if (entries.length === 0) throw new MagicError(`${dirArg}: no manifest.json and no .npy or .bin files`);
  // A model folder's tokenizer decodes token ids for %heatmap --labels.
  if (["vocab.json", "tokenizer.json"].some((f) => existsSync(join(dir, f)))) stateOf(ctx.session).tokenizerDir = dir;
  const progress = new Progress(ctx.emit, `loading ${basename(dir)}`);
  progress.update(0, `0 / ${entries.length} tensors`, true);
  const loaded: string[] = [], skipped: string[] = [];
  let bytes = 0;
  entries.forEach((e, i) => {
    const id = identifierFor(e.name, prefix);
    const raw = e.read();
    const declared = session.env.tensors.get(id);
    let type: TensorType;
    if (raw.shape === undefined) {
      // A raw .bin has no shape: it binds only to a tensor declared earlier in the session.
      if (!declared) { skipped.push(`${e.name}.bin (declare '${id}' first: a .bin file has no shape)`); return; }
      type = declared.type;
      raw.precision = type.precision;
    } else if (declared && elementCount(declared.type.shape) === elementCount(raw.shape)) {
      type = declared.type;
    } else {
      type = { name: "", precision: storable(raw.precision), shape: raw.shape, space: "Global", layout: { kind: "RowMajor" } };
    }
    const view = bindRaw(raw, type, e.name);
    const v: IR.TensorVar = declared && declared.type === type ? declared : { slot: -1, name: id, type, role: "session", span: { file: loadFile, start: 0, end: 0 } };
    session.env.tensors.set(id, v);
    session.store.set(v, view);
    bytes += elementCount(type.shape) * bytesPerElement(type.precision);
    loaded.push(id === e.name ? `${id} ${shapeToString(type.shape)} ${type.precision}` : `${id} (${e.name}) ${shapeToString(type.shape)} ${type.precision}`);
    progress.update((i + 1) / entries.length, `${i + 1} / ${entries.length} tensors`);
  });
  manifestSource?.finishVerification();
  progress.done(`${loaded.length} tensors, ${formatBytes(bytes)}`);
  const show = loaded.length > 12 ? [...loaded.slice(0, 10), `... and ${loaded.length - 10} more (%who lists them)`] : loaded;
  ctx.print(`loaded ${loaded.length} tensor${loaded.length === 1 ? "" : "s"} (${formatBytes(bytes)}) from ${dirArg}:\n  ${show.join("\n  ")}\n` + (skipped.length ? `skipped:\n  ${skipped.join("\n  ")}\n` : ""));
}

export { typeToString };

/** Split magic arguments on spaces, keeping "quoted strings" (with \" escapes) together. */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(args); m; m = re.exec(args)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2] ?? m[3]);
  return out;
}

const loadedModels = new Map<string, Promise<import("../models/causal-lm.js").CausalLM>>();

async function generateMagic(ctx: MagicContext, args: string): Promise<void> {
  const words = splitArgs(args);
  const opts: Record<string, string> = {};
  const prompt: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (/^--(model|max-new-tokens|temperature|top-k|top-p|seed|system)$/.test(w)) {
      if (words[i + 1] === undefined) throw new MagicError(`${w} needs a value`);
      if (opts[w] !== undefined) throw new MagicError(`${w} is given twice`);
      opts[w] = words[++i];
    } else if (w === "--chat") opts[w] = "yes";
    else if (w.startsWith("--")) throw new MagicError(`unknown option '${w}' (see %help generate)`);
    else prompt.push(w);
  }
  if (prompt.length === 0) throw new MagicError('usage: %generate [options] "PROMPT"');
  const num = (k: string, d: number) => {
    if (opts[k] === undefined) return d;
    const x = Number(opts[k]);
    if (!Number.isFinite(x)) throw new MagicError(`${k} needs a number, got '${opts[k]}'`);
    return x;
  };
  const { CausalLM, EMBEDDED_MODEL } = await import("../models/causal-lm.js");
  const { generate } = await import("../models/generate.js");
  const { samplingProblem } = await import("../models/sampling.js");
  const { Tokenizer } = await import("../models/tokenizer.js");
  // the CLI's checks, before anything loads
  const maxNewTokens = num("--max-new-tokens", 40);
  const sampling = { greedy: opts["--temperature"] === undefined, temperature: num("--temperature", 1), topK: num("--top-k", 0), topP: num("--top-p", 1), seed: num("--seed", 0) };
  const problem = samplingProblem(sampling, maxNewTokens);
  if (problem) throw new MagicError(problem);
  const chat = opts["--chat"] !== undefined;
  if (opts["--system"] !== undefined && !chat) throw new MagicError("--system needs --chat (a system message is part of a chat)");
  const dir = resolve(expandHome(opts["--model"] ?? EMBEDDED_MODEL));
  if (!existsSync(join(dir, "manifest.json"))) throw new MagicError(`${dir}: not a model folder (no manifest.json)`);
  // the tokenizer and the chat turn before the model: their refusals come at once
  const tokenizer = asMagicError(() => Tokenizer.fromFolder(dir));
  const message = prompt.join(" ");
  let text = message;
  if (chat) {
    const { chatTemplateOf, renderChat, userTurn } = await import("../models/chat.js");
    try {
      text = await renderChat(chatTemplateOf(dir, tokenizer), userTurn(message, opts["--system"]));
    } catch (e) {
      throw e instanceof InputError ? new MagicError(e.message) : e;
    }
  }
  const backend = ctx.getBackend();
  const key = `${dir}|${backend}`;
  if (!loadedModels.has(key)) {
    const p = CausalLM.load(dir, { backend }).catch((e) => {
      throw e instanceof InputError ? new MagicError(e.message) : e;
    });
    p.catch(() => loadedModels.delete(key));
    loadedModels.set(key, p);
  }
  const model = await loadedModels.get(key)!;
  ctx.print(chat ? `${message}\n` : message);
  const r = generate(model, tokenizer, text, { maxNewTokens, sampling, addSpecialTokens: !chat, onText: (t) => ctx.print(t) });
  const why = r.stop === "eos" ? "the model wrote the end-of-text token" : r.stop === "max_tokens" ? `--max-new-tokens ${maxNewTokens} reached` : `the context is full (${model.nCtx} positions)`;
  ctx.print(`\n[${backend}] ${r.generated_ids.length} tokens; prefill ${r.timing.prefill_ms} ms, ${r.timing.decode_ms_per_token} ms/token; stopped: ${why}\n`);
  // The prompt's (and the continuation's) tokens label attention maps of that length (%heatmap).
  const st = stateOf(ctx.session);
  st.tokenizerDir = dir;
  st.promptLength = r.prompt_ids.length;
  st.tokens = [...r.prompt_ids, ...r.generated_ids.filter((id) => id !== tokenizer.eosId)].map((id) => tokenizer.decode([id]));
}

/** Profiling executors, one per back end, kept so a second %profile reuses the build. */
const profilers = new Map<Backend, Promise<import("../runtime/executor.js").Executor>>();

async function profileMagic(ctx: MagicContext, args: string, line: number): Promise<void> {
  if (!args) throw new MagicError("usage: %profile CODE  |  %profile --model DIR [--prompt N] [--tokens N]");
  const { buildReport, formatProfile, profileFigure } = await import("../runtime/profile.js");
  const { roofline } = await import("../runtime/roofline.js");
  const backend = ctx.getBackend();
  const runs: { title: string; raw?: import("../runtime/profile.js").RawProfile }[] = [];
  if (args.startsWith("--model")) {
    const words = splitArgs(args);
    if (words[0] !== "--model" || words[1] === undefined || words[1].startsWith("--")) throw new MagicError("--model needs a folder (usage: %profile --model DIR [--prompt N] [--tokens N])");
    const counts: Record<string, number> = { "--prompt": 16, "--tokens": 16 };
    for (let i = 2; i < words.length; i += 2) {
      const k = words[i];
      if (!(k in counts)) throw new MagicError(`unknown option '${k}' (usage: %profile --model DIR [--prompt N] [--tokens N])`);
      const n = Number(words[i + 1]);
      if (!Number.isSafeInteger(n) || n < 1) throw new MagicError(`${k} needs a positive whole number, got '${words[i + 1] ?? "nothing"}'`);
      counts[k] = n;
    }
    const dir = resolve(expandHome(words[1]));
    if (!existsSync(join(dir, "manifest.json"))) throw new MagicError(`${words[1]}: not a model folder (no manifest.json)`);
    const { profileModel } = await import("../cli/profile.js");
    try {
      runs.push(...(await profileModel(dir, backend, counts["--prompt"], counts["--tokens"])));
    } catch (e) {
      throw e instanceof InputError ? new MagicError(e.message) : e;
    }
  } else {
    const { createExecutor } = await import("../backends/index.js");
    if (!profilers.has(backend)) profilers.set(backend, createExecutor(backend, { profile: true }));
    const exec = await profilers.get(backend)!;
    exec.resetProfile?.();
    // the line runs against the session's tensors, on an executor of its own that counts
    await ctx.session.run(new SourceFile(`<cell line ${line + 1}>`, args), exec, { print: (l) => ctx.print(l + "\n") });
    runs.push({ title: args, raw: exec.profile?.() });
  }
  const roof = roofline(); // measured once per machine (cached), after the options were checked
  for (const { title, raw } of runs) {
    if (!raw) continue;
    const report = buildReport(raw, roof);
    const text = `== ${title}\n${formatProfile(report)}\n`;
    ctx.print(text);
    // the roofline chart as plotly's JSON (log axes, hover labels); the table above is its text form
    ctx.emit({ kind: "display", data: { [PLOTLY_MIME]: profileFigure(report) as unknown as JsonObject, "text/plain": text }, metadata: {} });
  }
}

/** `~/x` in magic paths means the home folder, as in a shell. */
function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}
