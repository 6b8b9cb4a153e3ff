// The language side of the kernel: one Session per notebook, cells run as .ta programs, magics,
// displays, completion and inspection. No sockets and no threads here: worker.ts runs this in a
// worker thread, and the tests call it directly.

import { DiagnosticError, formatDiagnostics, Interrupted, RuntimeFault } from "../compiler/diagnostics.js";
import { ACT_KINDS, BUILTIN_CONSTS, intrinsic, INTRINSIC_LIST, KEYWORDS } from "../compiler/intrinsics.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { DiagnosticBag } from "../compiler/diagnostics.js";
import { parseSource } from "../compiler/parser.js";
import { bytesPerElement, elementCount, LAYOUTS, PRECISIONS, shapeToString, SPACES, typeToString } from "../compiler/types.js";
import { BACKENDS, BackendName, createExecutor, Executor, isBackendName, referenceExecutor } from "../backends/index.js";
import { Session } from "../runtime/session.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { DisplayError, formatNumber, Progress, stats, tensorBundle, textPlain } from "./display.js";
import { Backend, formatBytes, formatMs, MagicContext, MagicError, MAGIC_LIST, parseCell, runLineMagic } from "./magics.js";
import { CompleteResult, ErrorInfo, ExecuteOutcome, ExecuteRequest, InspectResult, JsonObject, MimeBundle, OutputEvent } from "./protocol.js";
import { calleeAt, lineAt, wordAt } from "./syntax.js";
import { languageDoc } from "./docs.js";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

export interface EngineOptions {
  /** Shared interrupt flag: element 0 non-zero stops the running cell. */
  interrupt?: Int32Array;
  log?(line: string): void;
}

export type CellRequest = Pick<ExecuteRequest, "code" | "user_expressions"> & { execution_count?: number; silent?: boolean };

/** What a session holds, by name (the worker reports it after each cell, for crash reports). */
export interface SessionNames { tensors: [name: string, size: string][]; kernels: string[]; types: string[]; consts: string[] }

/** A cell's text with everything but its definitions (consts, types, kernels, targets) blanked, lines kept. */
export function definitionsOnly(text: string): string {
  const items = parseSource(new SourceFile("restore", text), new DiagnosticBag()).items;
  let out = "", at = 0;
  for (const it of items) {
    if (it.kind === "const" || it.kind === "type" || it.kind === "kernel" || it.kind === "target") continue;
    out += text.slice(at, it.span.start) + text.slice(it.span.start, it.span.end).replace(/[^\n]/g, " ");
    at = it.span.end;
  }
  return out + text.slice(at);
}

const STDOUT_FLUSH_BYTES = 8192, STDOUT_FLUSH_MS = 50;

export class LanguageEngine {
  private readonly evaluator: Executor;
  readonly session = new Session();
  backend: Backend = "interp";
  /** One executor per back end, made on first use (the compiled one keeps its built code). */
  private readonly executors = new Map<BackendName, Promise<Executor>>();
  /** Where the running cell's build progress goes (set while a cell prepares). */
  private buildLog: ((m: string) => void) | undefined;

  constructor(private readonly opts: EngineOptions = {}) {
    this.evaluator = referenceExecutor({ interrupt: opts.interrupt });
  }

  private get interrupt(): Int32Array | undefined { return this.opts.interrupt; }

  async execute(req: CellRequest, emit: (e: OutputEvent) => void): Promise<ExecuteOutcome> {
    const name = `cell[${req.execution_count ?? "*"}]`;
    // stdout is batched: one stream message per 8 KiB or 50 ms, not one per REDUCE.
    let out = "", lastFlush = Date.now();
    const flushOut = () => { if (out) { emit({ kind: "stream", name: "stdout", text: out }); out = ""; } lastFlush = Date.now(); };
    let pending: MimeBundle | undefined; // the latest shown value: the cell's result if nothing follows it
    const flushPending = () => { if (pending) { const data = pending; pending = undefined; emit({ kind: "display", data, metadata: {} }); } };
    const print = (text: string) => {
      flushPending();
      out += text;
      if (out.length > STDOUT_FLUSH_BYTES || Date.now() - lastFlush > STDOUT_FLUSH_MS) flushOut();
    };
    const io = {
      print: (line: string) => print(line + "\n"),
      show: (v: TensorView) => { flushPending(); flushOut(); pending = tensorBundle(v); },
    };
    const emitNow = (e: OutputEvent) => { flushPending(); flushOut(); emit(e); };

    let backend = this.backend;
    const ctx: MagicContext = {
      session: this.session,
      emit: emitNow,
      print,
      evaluate: (expr, line) => this.evaluate(expr, line, name),
      getBackend: () => this.backend,
      setBackend: async (b) => { await this.executor(b); this.backend = b; backend = b; },
      runCode: (code, line) => this.runCode(code, line, name, backend, io, emitNow),
      runFile: (file) => this.runFile(file, backend, io, emitNow),
    };
    try {
      if (this.interrupt) Atomics.store(this.interrupt, 0, 0);
      const parsed = parseCell(req.code);
      let timed = false;
      for (const m of parsed.cellMagics) {
        // %%eigen, %%interp: a cell magic named after a back end runs the cell on it
        if (isBackendName(m.name)) backend = m.name;
        else if (m.name === "time") timed = true;
        else throw new MagicError(`unknown cell magic '%%${m.name}' (cell magics: ${MAGIC_LIST.filter((x) => x.cell).map((x) => "%%" + x.name).join(", ")}, %%time)`);
      }
      const t0 = performance.now();
      for (const s of parsed.segments) {
        if (s.kind === "code") await this.runCode(s.text, s.line, name, backend, io, emitNow);
        // test hook (the worker dies mid-cell), there only when the kernel was started for tests
        else if (s.name === "_crash" && process.env.TENSORCORE_TEST_HOOKS === "1") process.exit(70);
        else await runLineMagic(ctx, s.name, s.args, s.line);
      }
      if (timed) { out += `Wall time: ${formatMs(performance.now() - t0)}\n`; }
      flushOut();
      const outcome: ExecuteOutcome = { status: "ok" };
      if (pending) outcome.result = { data: pending, metadata: {} };
      if (req.user_expressions && Object.keys(req.user_expressions).length) outcome.user_expressions = this.userExpressions(req.user_expressions);
      return outcome;
    } catch (e) {
      flushPending();
      flushOut();
      return { status: "error", error: this.errorInfo(e) };
    }
  }

  private async runCode(text: string, line: number, name: string, backend: Backend, io: { print(l: string): void; show(v: TensorView): void }, emit: (e: OutputEvent) => void): Promise<void> {
    return this.runFile(new SourceFile(name, "\n".repeat(line) + text), backend, io, emit);
  }

  private async runFile(file: SourceFile, backend: Backend, io: { print(l: string): void; show(v: TensorView): void }, emit: (e: OutputEvent) => void): Promise<void> {
    const executor = await this.executor(backend);
    const program = this.session.check([file]);
    const building = BACKENDS[backend].building;
    if (building) {
      // The compiled back end builds before it runs: a progress display while g++ works.
      const progress = new Progress(emit, building);
      const t0 = Date.now();
      let last = "";
      const tick = () => progress.update(undefined, `${((Date.now() - t0) / 1000).toFixed(1)} s ${last}`);
      progress.update(undefined, "starting", true);
      const timer = setInterval(tick, 250);
      this.buildLog = (m) => { last = m; tick(); };
      try {
        await executor.prepare([program]);
      } finally {
        clearInterval(timer);
        this.buildLog = undefined;
      }
      progress.done(`compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } else {
      await executor.prepare([program]);
    }
    if (this.interrupt && Atomics.load(this.interrupt, 0) !== 0) throw new Interrupted();
    this.session.runPrepared(program, executor, io);
  }

  /** The session's names, and each tensor's bytes. */
  names(): SessionNames {
    const env = this.session.env;
    const tensors: [string, string][] = [];
    for (const [name, v] of env.tensors) tensors.push([name, formatBytes(elementCount(v.type.shape) * bytesPerElement(v.type.precision))]);
    return { tensors, kernels: [...env.kernels.keys()], types: [...env.types.keys()], consts: [...env.consts.keys()] };
  }

  /**
   * After a worker crash: define again the consts, types, kernels and targets of cells that had
   * succeeded, in order, by checking their source without running anything (tensors are not
   * recreated: their values are lost). Returns how many cells could not be replayed.
   */
  restoreDefinitions(cells: string[]): number {
    let failed = 0;
    for (const code of cells) {
      try {
        const parsed = parseCell(code);
        for (const seg of parsed.segments) {
          if (seg.kind === "magic" && seg.name === "reset") this.session.reset();
          if (seg.kind !== "code") continue;
          this.session.define(this.session.check([new SourceFile(`restore`, "\n".repeat(seg.line) + definitionsOnly(seg.text))]));
        }
      } catch {
        failed++;
      }
    }
    return failed;
  }

  /** The executor of a back end, made on first use; a clear error when it cannot run here. */
  executor(backend: Backend): Promise<Executor> {
    let e = this.executors.get(backend);
    if (!e) {
      e = (async () => {
        const problem = await BACKENDS[backend].available();
        if (problem) throw new MagicError(`the ${backend} back end is not available (${problem}); cells keep running on the ${this.backend} back end`);
        return createExecutor(backend, { interrupt: this.interrupt, log: (m) => this.buildLog?.(m) });
      })();
      this.executors.set(backend, e);
      e.catch(() => this.executors.delete(backend));
    }
    return e;
  }

  /** A .ta expression's value (for %display, %heatmap, %plot and user_expressions). */
  evaluate(expr: string, line: number, name: string): TensorView {
    let value: TensorView | undefined;
    // A bare call like SOFTMAX(s) is the in-place statement form; `+ 0` makes it the expression.
    let text = expr.trim().replace(/;$/, "");
    if (/^[A-Za-z_]\w*\s*\(.*\)$/s.test(text)) text += " + 0";
    // Values for displays are computed by the reference interpreter: nothing to build, no waiting.
    const program = this.session.check([new SourceFile(name, "\n".repeat(line) + text)]);
    this.session.runPrepared(program, this.evaluator, { print: () => undefined, show: (v) => { value = v; } });
    if (!value) throw new MagicError(`'${expr}' is not an expression with a value`);
    return value;
  }

  private userExpressions(exprs: Record<string, string>): JsonObject {
    const out: JsonObject = Object.create(null); // (a key named __proto__ is a key like any other)
    for (const [key, expr] of Object.entries(exprs)) {
      try {
        const v = this.evaluate(expr, 0, "user_expression");
        out[key] = { status: "ok", data: tensorBundle(v), metadata: {} };
      } catch (e) {
        const err = this.errorInfo(e);
        out[key] = { status: "error", ename: err.ename, evalue: err.evalue, traceback: err.traceback };
      }
    }
    return out;
  }

  /** Errors as the user should see them: the cell's line with a caret, never a TypeScript stack. */
  errorInfo(e: unknown): ErrorInfo {
    if (e instanceof Interrupted) return { ename: "Interrupted", evalue: "the cell was interrupted", traceback: ["Interrupted: the cell was interrupted (session definitions and tensors are kept)"] };
    if (e instanceof DiagnosticError) {
      const ename = e instanceof RuntimeFault ? "RuntimeFault" : "CompileError";
      return { ename, evalue: e.diagnostics[0]?.message ?? e.message, traceback: formatDiagnostics(e.diagnostics).split("\n") };
    }
    if (e instanceof MagicError || e instanceof DisplayError) return { ename: "MagicError", evalue: e.message, traceback: [`error: ${e.message}`] };
    if (e instanceof RangeError && /allocat|Array buffer|Invalid typed array length|Invalid array length/i.test(e.message)) {
      return { ename: "MemoryError", evalue: e.message, traceback: [`MemoryError: out of memory (${e.message}); the session is still usable`] };
    }
    const msg = (e as Error)?.message ?? String(e);
    this.opts.log?.(`internal error: ${(e as Error)?.stack ?? msg}`);
    return { ename: "InternalError", evalue: msg, traceback: [`internal error: ${msg}`] };
  }

  // ---- completion -----------------------------------------------------------------------------

  complete(code: string, cursor: number): CompleteResult {
    const line = lineAt(code, cursor);
    const before = line.text.slice(0, line.col);
    const magic = /^\s*(%%?)([A-Za-z_]*)$/.exec(before);
    if (magic) {
      const start = cursor - magic[2].length - magic[1].length;
      const names = MAGIC_LIST.filter((m) => (magic[1] === "%%" ? m.cell || m.name === "time" : !m.cell)).map((m) => magic[1] + m.name);
      const matches = names.filter((n) => n.startsWith(magic[1] + magic[2]));
      return { matches, cursor_start: start, cursor_end: cursor, metadata: typesMeta(matches, start, cursor, () => "magic") };
    }
    const load = /^\s*%load\s+(\S*)$/.exec(before);
    if (load) return this.completePath(load[1], cursor);
    const w = wordAt(code, cursor);
    const prefix = code.slice(w.start, cursor);
    const kinds = new Map<string, string>();
    const add = (names: Iterable<string>, kind: string) => { for (const n of names) if (!kinds.has(n)) kinds.set(n, kind); };
    const env = this.session.env;
    add(env.tensors.keys(), "tensor");
    add(env.kernels.keys(), "kernel");
    add(env.types.keys(), "type");
    add(env.consts.keys(), "const");
    add(KEYWORDS, "keyword");
    add(INTRINSIC_LIST.map((i) => i.name), "function");
    add(PRECISIONS, "precision");
    add(SPACES, "space");
    add(LAYOUTS, "layout");
    add([...Object.keys(BUILTIN_CONSTS), ...Object.keys(ACT_KINDS)], "const");
    // Names the cell itself declares (before it has run).
    for (const m of code.matchAll(/\b(?:kernel|type|const)\s+([A-Za-z_]\w*)|\b[A-Za-z_]\w*\s+([A-Za-z_]\w*)\s*[;=]/g)) {
      const n = m[1] ?? m[2];
      if (n && !kinds.has(n) && n !== prefix) kinds.set(n, "name");
    }
    let matches = [...kinds.keys()].filter((n) => n.startsWith(prefix));
    if (matches.length === 0 && prefix) matches = [...kinds.keys()].filter((n) => n.toLowerCase().startsWith(prefix.toLowerCase()));
    const order = ["tensor", "kernel", "type", "const", "name", "keyword", "function", "precision", "space", "layout"];
    matches.sort((a, b) => order.indexOf(kinds.get(a)!) - order.indexOf(kinds.get(b)!) || a.localeCompare(b));
    return { matches, cursor_start: w.start, cursor_end: w.end, metadata: typesMeta(matches, w.start, w.end, (n) => kinds.get(n)!) };
  }

  private completePath(partial: string, cursor: number): CompleteResult {
    const dir = partial.endsWith("/") ? partial : dirname(partial);
    const base = partial.endsWith("/") ? "" : partial.slice(dir === "." && !partial.startsWith("./") ? 0 : dir.length + (dir.endsWith("/") ? 0 : 1));
    let matches: string[] = [];
    try {
      matches = readdirSync(dir || ".").filter((f) => f.startsWith(base) && !f.startsWith(".")).sort()
        .map((f) => { const p = dir === "." && !partial.startsWith("./") ? f : join(dir, f); return statSync(p).isDirectory() ? p + "/" : p; });
    } catch { /* no such directory: no matches */ }
    const start = cursor - partial.length;
    return { matches, cursor_start: start, cursor_end: cursor, metadata: typesMeta(matches, start, cursor, () => "path") };
  }

  // ---- inspection ----------------------------------------------------------------------------

  inspect(code: string, cursor: number, detail = 0): InspectResult {
    let w = wordAt(code, cursor);
    if (!w.text && cursor > 0) w = wordAt(code, cursor - 1);
    // On a call's arguments, inspect the callee: SOFTMAX(x|) shows SOFTMAX.
    if (!w.text) {
      const callee = calleeAt(code, cursor);
      if (callee) w = { start: 0, end: 0, text: callee };
    }
    const magic = /%%?([A-Za-z_]\w*)/.exec(lineAt(code, cursor).text);
    if (magic && lineAt(code, cursor).text.trimStart().startsWith("%")) {
      const m = MAGIC_LIST.find((x) => x.name === magic[1]);
      if (m && (!w.text || w.text === m.name)) return found(`${m.usage}\n\n${m.summary}`);
    }
    const name = w.text;
    if (!name) return { found: false, data: {}, metadata: {} };
    const env = this.session.env;
    const t = this.session.tensor(name);
    if (t) return found(this.describeTensor(name, t.v, t.value, detail));
    const intr = intrinsic(name);
    if (intr) return found(`${name}  (intrinsic)\n\n${intr.forms.map((f) => "  " + f).join("\n")}\n\n${intr.summary}`);
    const k = env.kernels.get(name);
    if (k) return found(`kernel ${k.name}(${k.params.map((p) => `${p.type.name || typeToString(p.type)} ${p.name}`).join(", ")})\n\n` + k.params.map((p) => `  ${p.name}: ${typeToString(p.type)}`).join("\n") + (k.callees.length ? `\n\ncalls: ${k.callees.map((c) => c.name).join(", ")}` : ""));
    const ty = env.types.get(name);
    if (ty) return found(`type ${name} = ${typeToString(ty)}\n\n${elementCount(ty.shape)} elements, ${formatBytes(elementCount(ty.shape) * bytesPerElement(ty.precision))}`);
    if (env.consts.has(name)) return found(`const ${name} = ${env.consts.get(name)}`);
    const declared = env.tensors.get(name);
    if (declared) return found(`${name}: ${typeToString(declared.type)} (declared, no value yet)`);
    const doc = languageDoc(name);
    if (doc) return found(doc);
    return { found: false, data: {}, metadata: {} };
  }

  describeTensor(name: string, v: IR.TensorVar, value: TensorView, detail = 0): string {
    const n = elementCount(value.shape);
    const lines = [
      `${name}: ${typeToString(v.type)}`,
      `shape ${shapeToString(value.shape)} · precision ${value.precision} · space ${v.type.space} · ${formatBytes(n * bytesPerElement(value.precision))}`,
    ];
    if (n > 0) {
      const vals = toNumbers(value);
      const s = stats(vals);
      const f = (x: number) => formatNumber(x, "f32");
      lines.push(`min ${f(s.min)} · max ${f(s.max)} · mean ${f(s.mean)}`);
      lines.push("", detail > 0 || n <= 64 ? textPlain(value, vals).split("\n").slice(1).join("\n") : `first values: ${vals.slice(0, 8).map((x) => formatNumber(x, value.precision)).join(", ")}, ...`);
    }
    return lines.join("\n");
  }
}

function found(text: string): InspectResult {
  return { found: true, data: { "text/plain": text }, metadata: {} };
}

function typesMeta(matches: string[], start: number, end: number, kind: (n: string) => string): JsonObject {
  return { _jupyter_types_experimental: matches.map((m) => ({ text: m, type: kind(m), start, end })) };
}
