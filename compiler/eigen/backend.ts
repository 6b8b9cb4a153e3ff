// The eigen back end as the CLI, the Jupyter kernel and the tests use it: emit one translation
// unit for a program's kernels, build it (cached), load it, and run kernels on the interpreter's
// own tensors. Top-level statements run on the interpreter; every kernel call they make (and
// every entry kernel run) goes to compiled code through the interpreter's callHook.

import { Diagnostic, DiagnosticError, Interrupted, RuntimeFault } from "../diagnostics.js";
import * as IR from "../ir.js";
import { shapeToString } from "../types.js";
import { Interpreter, RunIO } from "../../interpreter/interpreter.js";
import { formatG6 } from "../../runtime/format.js";
import { Session } from "../../runtime/session.js";
import { TensorView } from "../../runtime/tensor.js";
import { buildSharedObject, CxxCompileError } from "./build.js";
import { closure, EmitOptions, emitCpp, EmittedUnit, EntryInfo } from "./emit-cpp.js";
import { NativeLibrary } from "./ffi.js";
import { targetConfig } from "./target.js";

export interface BackendOptions {
  log?: (message: string) => void;
  /** Emit options (tests: exact MMUL sums, parallel threshold, error injection). */
  emit?: EmitOptions;
  /** OpenMP threads (default: TENSORCORE_THREADS, the target's `threads`, else all cores). */
  threads?: number;
}

export interface RunOpts {
  interrupt?: Int32Array;
}

/** Kernels called from top-level statements (they may come from earlier programs of a session). */
function topLevelKernels(stmts: IR.Stmt[], out: IR.Kernel[]): IR.Kernel[] {
  for (const s of stmts) {
    if (s.kind === "call" && !out.includes(s.kernel)) out.push(s.kernel);
    else if (s.kind === "loop") topLevelKernels(s.body, out);
  }
  return out;
}

/** A C++ compiler error → a diagnostic at the .ta statement whose generated code it is in. */
export function mapCompileError(e: CxxCompileError, unit: EmittedUnit): DiagnosticError {
  const ds: Diagnostic[] = [];
  for (const err of e.errors.slice(0, 5)) {
    let best: EmittedUnit["stmtLines"][number] | undefined;
    for (const r of unit.stmtLines) if (r.first <= err.line && err.line <= r.last && (!best || r.last - r.first < best.last - best.first)) best = r;
    ds.push({ severity: "error", span: best?.span, message: `the C++ compiler rejected the code generated for this statement: ${err.message}` });
  }
  if (!ds.length) ds.push({ severity: "error", message: `internal error: the C++ compiler failed on the generated code: ${e.output.split("\n").slice(0, 8).join("\n")}` });
  return new DiagnosticError(ds);
}

type Entry = EntryInfo & { call: ReturnType<NativeLibrary["entry"]> };

export class EigenBackend {
  private readonly entries = new Map<IR.Kernel, Entry>();

  private constructor(readonly program: IR.Program | undefined, readonly unit: EmittedUnit | undefined, readonly library: NativeLibrary | undefined) {
    if (unit && library) for (const e of unit.entries) this.entries.set(e.kernel, { ...e, call: library.entry(e.symbol, e.kernel.params.length) });
  }

  /** Emit, build (or find in the cache) and load the program's kernels. */
  static async forProgram(program: IR.Program, opts: BackendOptions = {}): Promise<EigenBackend> {
    return EigenBackend.build(program, [...program.kernels, ...topLevelKernels(program.topLevel, [])], program.target, opts);
  }

  /** Many programs' kernels in one translation unit (one build): the differential tests use this. */
  static async forKernels(kernels: IR.Kernel[], opts: BackendOptions = {}, target?: IR.Target): Promise<EigenBackend> {
    return EigenBackend.build(undefined, kernels, target, opts);
  }

  private static async build(program: IR.Program | undefined, roots: IR.Kernel[], target: IR.Target | undefined, opts: BackendOptions): Promise<EigenBackend> {
    const cfg = targetConfig(target);
    for (const w of cfg.warnings) opts.log?.(`warning: ${w.message}`);
    const kernels = closure(roots);
    if (!kernels.length) return new EigenBackend(program, undefined, undefined);
    const unit = emitCpp(kernels, opts.emit);
    let so: string;
    try {
      const r = await buildSharedObject(unit.code, cfg.flags, opts.log);
      if (!r.cached) opts.log?.(`[eigen] compiled ${kernels.length} kernel${kernels.length === 1 ? "" : "s"} in ${r.seconds.toFixed(1)} s`);
      so = r.so;
    } catch (e) {
      if (e instanceof CxxCompileError) throw mapCompileError(e, unit);
      throw e;
    }
    const lib = new NativeLibrary(so);
    const env = Number(process.env.TENSORCORE_THREADS);
    const threads = opts.threads ?? (Number.isInteger(env) && env > 0 ? env : cfg.threads);
    if (threads) lib.setThreads(threads);
    return new EigenBackend(program, unit, lib);
  }

  /** Is this kernel compiled here? */
  has(kernel: IR.Kernel): boolean {
    return this.entries.has(kernel);
  }

  /**
   * Run compiled code for a kernel call if it can (the kernel is compiled and every argument has
   * the strides the entry was compiled for); false means the caller should interpret it.
   */
  tryRun(kernel: IR.Kernel, args: TensorView[], io: RunIO, opts: RunOpts = {}): boolean {
    const e = this.entries.get(kernel);
    if (!e) return false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i], st = e.strides[i];
      for (let ax = 0; ax < a.shape.length; ax++) if (a.shape[ax] !== 1 && a.strides[ax] !== st[ax]) return false;
    }
    const offs = new Int32Array(args.length);
    args.forEach((a, i) => { offs[i] = a.offset; });
    const fault = new Int32Array(3);
    const rc = e.call(args.map((a) => a.data), offs, opts.interrupt ?? null, (x) => io.print(formatG6(x)), fault);
    if (rc === 0) return true;
    if (rc === 2 || fault[0] === -1) throw new Interrupted();
    const info = this.unit!.faults[fault[0] - 1];
    if (!info) throw new Error(`internal: compiled kernel '${kernel.name}' failed with an unknown fault ${fault[0]}`);
    throw new RuntimeFault(info.span, info.message(fault[1], fault[2]));
  }

  /** Run a kernel with its parameters bound to these tensors (as Interpreter.runKernel). */
  runKernel(kernel: IR.Kernel, args: TensorView[], io: RunIO, opts: RunOpts = {}): void {
    if (args.length !== kernel.params.length) throw new RuntimeFault(kernel.span, `kernel '${kernel.name}' takes ${kernel.params.length} arguments, got ${args.length}`);
    kernel.params.forEach((p, i) => {
      const a = args[i];
      if (a.precision !== p.type.precision || a.shape.length !== p.type.shape.length || a.shape.some((d, j) => d !== p.type.shape[j])) {
        throw new RuntimeFault(p.span, `parameter '${p.name}' expects ${p.type.precision} ${shapeToString(p.type.shape)}, but was given ${a.precision} ${shapeToString(a.shape)}`);
      }
    });
    if (opts.interrupt && Atomics.load(opts.interrupt, 0) !== 0) throw new Interrupted();
    if (this.tryRun(kernel, args, io, opts)) return;
    new Interpreter({ io, interrupt: opts.interrupt, callHook: (k, a) => this.tryRun(k, a, io, opts) }).runKernel(kernel, args);
  }

  /** Run the program's top-level statements in a session; kernel calls run compiled. */
  runTopLevel(session: Session, io: RunIO, opts: RunOpts = {}): void {
    if (!this.program) throw new Error("internal: this back end was built from kernels, not a program");
    session.interpreter(io, { interrupt: opts.interrupt, callHook: (k, a) => this.tryRun(k, a, io, opts) }).runTopLevel(this.program);
  }
}
