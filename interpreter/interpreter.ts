// The reference interpreter: executes the checked IR over typed arrays. What each intrinsic
// computes is in ops.ts; this file walks statements, resolves views and manages frames.

import { Interrupted, RuntimeFault } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { elementCount } from "../compiler/types.js";
import { checkArgs, RunIO } from "../runtime/executor.js";
import { ComputeArray } from "../runtime/precision.js";
import { formatG6 } from "../runtime/format.js";
import * as ops from "./ops.js";
import { fastMatmulAccumulate, ParallelMatmul } from "./fast/products.js";
import * as views from "./fast/views.js";
import { allocCompute, allocTensor, TensorView } from "../runtime/tensor.js";
import type { RawProfile } from "../runtime/profile.js";

/** Where session tensors live between programs (runtime/session.ts's TensorStore). */
export interface SessionTensors {
  get(v: IR.TensorVar): TensorView | undefined;
  set(v: IR.TensorVar, t: TensorView): void;
}

export interface InterpreterOptions {
  /** Set element 0 to non-zero (from any thread) to stop the run at the next loop iteration or call. */
  interrupt?: Int32Array;
  /** Allocate tensors on SharedArrayBuffer (so worker threads and FFI calls can share them). */
  sharedMemory?: boolean;
  /**
   * An execution budget: the run stops with a RuntimeFault after this many steps (one per statement
   * executed and per loop iteration). For hosts that run untrusted or generated programs (fuzzing).
   */
  maxSteps?: number;
  /**
   * Runs large f32 matrix products on several threads (interpreter/fast/parallel.ts). Operands must be
   * in shared memory to be split, so it goes with `sharedMemory: true` and shared weights.
   */
  parallelMatmul?: ParallelMatmul;
  /**
   * Count calls and time of every kernel and statement (`profile()`). Off by default, and then no
   * timing code runs at all: the timed paths replace `exec` and `invoke` on this instance only.
   */
  profile?: boolean;
}

interface ProfileCounts {
  stmts: Map<IR.Stmt, { kernel: IR.Kernel | null; calls: number; seconds: number }>;
  kernels: Map<IR.Kernel | null, { calls: number; seconds: number }>;
}

interface Frame {
  tensors: TensorView[];
  loops: Int32Array;
}

export class Interpreter {
  private readonly temps = new WeakMap<IR.Expr | IR.Stmt, ComputeArray>();
  private readonly kernelLocals = new WeakMap<IR.Kernel, TensorView[]>();
  private io: RunIO = { print: () => {} };
  private session: SessionTensors = new Map<IR.TensorVar, TensorView>();
  private steps = 0;

  private counts?: ProfileCounts;
  /** The kernel whose statements run now (null: a program's top level), for the profile. */
  private current: IR.Kernel | null = null;

  constructor(private readonly opts: InterpreterOptions = {}) {
    if (opts.profile) this.installProfiling();
  }

  /** What was counted since the last reset (an interpreter made with `profile: true`). */
  profile(): RawProfile | undefined {
    const c = this.counts;
    if (!c) return undefined;
    return {
      backend: "interp",
      kernels: [...c.kernels].map(([kernel, v]) => ({ kernel, ...v })),
      stmts: [...c.stmts].map(([stmt, v]) => ({ stmt, ...v })),
    };
  }

  resetProfile(): void {
    if (this.counts) this.counts = { stmts: new Map(), kernels: new Map() };
  }

  private installProfiling(): void {
    this.counts = { stmts: new Map(), kernels: new Map() };
    const exec = this.exec, invoke = this.invoke, top = this.runTopLevel;
    const addKernel = (k: IR.Kernel | null, seconds: number) => {
      const m = this.counts!.kernels, e = m.get(k);
      if (e) { e.calls++; e.seconds += seconds; } else m.set(k, { calls: 1, seconds });
    };
    this.exec = (s: IR.Stmt, frame: Frame): void => {
      // declaring a session tensor is the host's allocation, not work (compiled code never runs it)
      if (s.kind === "zero" && s.target.role === "session") return exec.call(this, s, frame);
      const t0 = performance.now();
      exec.call(this, s, frame);
      const seconds = (performance.now() - t0) / 1e3;
      const m = this.counts!.stmts, e = m.get(s);
      if (e) { e.calls++; e.seconds += seconds; } else m.set(s, { kernel: this.current, calls: 1, seconds });
    };
    this.invoke = (kernel: IR.Kernel, args: TensorView[]): void => {
      const outer = this.current;
      this.current = kernel;
      const t0 = performance.now();
      try {
        invoke.call(this, kernel, args);
      } finally {
        this.current = outer;
      }
      addKernel(kernel, (performance.now() - t0) / 1e3);
    };
    this.runTopLevel = (program: IR.Program, session: SessionTensors, io: RunIO): void => {
      this.current = null;
      const t0 = performance.now();
      top.call(this, program, session, io);
      addKernel(null, (performance.now() - t0) / 1e3);
    };
  }

  /** Run a kernel with its parameters bound to the given tensors (shapes and precisions must match). */
  runKernel(kernel: IR.Kernel, args: TensorView[], io: RunIO): void {
    checkArgs(kernel, args, (span, message) => new RuntimeFault(span, message));
    this.io = io;
    this.steps = 0;
    this.invoke(kernel, args);
  }

  /** Run a program's top-level statements against a session's tensors. */
  runTopLevel(program: IR.Program, session: SessionTensors, io: RunIO): void {
    this.io = io;
    this.session = session;
    this.steps = 0;
    const frame: Frame = { tensors: [], loops: new Int32Array(program.topLevelLoopSlots) };
    this.execBlock(program.topLevel, frame);
  }

  private invoke(kernel: IR.Kernel, args: TensorView[]): void {
    this.checkInterrupt();
    let locals = this.kernelLocals.get(kernel);
    if (!locals) {
      locals = kernel.locals.map((v) => allocTensor(v.type, this.opts.sharedMemory));
      this.kernelLocals.set(kernel, locals);
    }
    const frame: Frame = { tensors: [...args, ...locals], loops: new Int32Array(kernel.loopSlots) };
    this.execBlock(kernel.body, frame);
  }

  private checkInterrupt(): void {
    const f = this.opts.interrupt;
    if (f && Atomics.load(f, 0) !== 0) throw new Interrupted();
  }

  private execBlock(stmts: IR.Stmt[], frame: Frame): void {
    for (const s of stmts) this.exec(s, frame);
  }

  private tick(span: IR.Stmt["span"]): void {
    if (this.opts.maxSteps !== undefined && ++this.steps > this.opts.maxSteps) {
      throw new RuntimeFault(span, `the run exceeded its budget of ${this.opts.maxSteps} steps`);
    }
  }

  private exec(s: IR.Stmt, frame: Frame): void {
    this.tick(s.span);
    switch (s.kind) {
      case "assign": {
        const dst = this.resolve(s.dst, frame);
        let value = this.eval(s.src, frame);
        // A value that aliases the destination's storage (x[1 +: 3] = x[0 +: 3]) is copied first.
        if (value.buffer === dst.data.buffer) value = value.slice();
        views.scatter(value, s.squeeze ? dst.shape : s.src.shape, dst);
        return;
      }
      case "zero": {
        if (s.target.role === "session") {
          this.session.set(s.target, allocTensor(s.target.type, this.opts.sharedMemory));
        } else {
          const t = frame.tensors[s.target.slot];
          t.data.fill(0);
        }
        return;
      }
      case "mmul": {
        const acc = this.resolve(s.acc, frame);
        const integer = acc.precision === "int32";
        const kind = integer ? "i32" : "f32";
        // an operand written TRANSPOSE(x): x gathered, then transposed (the values of kT = TRANSPOSE(x); MMUL(acc, A, kT))
        const operand = (v: IR.View, transposed: boolean | undefined, slot: number) => {
          const x = this.readView(v, frame, kind, s, slot);
          if (!transposed) return x;
          const t = this.temp(s, kind, x.length, slot + 3);
          ops.transpose2d(x, v.shape, t);
          return t;
        };
        const a = operand(s.a, s.transA, 1), b = operand(s.b, s.transB, 2);
        const c = s.c ? this.readView(s.c, frame, kind, s, 3) : undefined;
        const shapes = IR.mmulShapes(s);
        // ops.matmulAccumulate, bit for bit, by the fast kernels
        fastMatmulAccumulate(acc, a, shapes.a, b, shapes.b, c, s.c?.shape, integer, this.temp(s, kind, elementCount(s.acc.shape), 0), this.opts.parallelMatmul);
        return;
      }
      case "lookup": {
        const dst = this.resolve(s.dst, frame), table = this.resolve(s.table, frame);
        const idx = Array.from(this.readView(s.idx, frame, "i32", s, 1));
        ops.lookupRows(dst, table, idx, s.span, this.temp(s, table.precision === "int8" || table.precision === "int32" ? "i32" : "f32", s.table.shape[1], 0));
        return;
      }
      case "causal_mask":
        ops.causalMask(this.resolve(s.target, frame), this.evalIndex(s.offset, frame));
        return;
      case "print": {
        const kind = s.src.precision === "int8" || s.src.precision === "int32" ? "i32" : "f32";
        const v = this.readView(s.src, frame, kind, s, 0);
        this.io.print(formatG6(ops.sumAll(v)));
        return;
      }
      case "loop": {
        const start = this.evalIndex(s.start, frame), end = this.evalIndex(s.end, frame), step = this.evalIndex(s.step, frame);
        if (step <= 0) throw new RuntimeFault(s.step.span, `the loop step must be positive, got ${step}`);
        for (let i = start; i < end; i += step) {
          this.checkInterrupt();
          this.tick(s.span);
          frame.loops[s.v.slot] = i;
          this.execBlock(s.body, frame);
        }
        return;
      }
      case "call":
        this.invoke(s.kernel, s.args.map((a) => this.resolve(a, frame)));
        return;
      case "show": {
        const e = s.expr;
        let value: TensorView;
        if (e.kind === "view") {
          value = this.resolve(e.view, frame);
        } else {
          const data = this.eval(e, frame);
          value = allocTensor({ precision: e.compute === "f32" ? "f32" : "int32", shape: e.shape, layout: { kind: "RowMajor" } });
          ops.scatter(data, e.shape, value);
        }
        this.io.show?.(value, e);
        return;
      }
    }
  }

  /** A temp compute array owned by an IR node (shapes are static, so it is allocated once). */
  private temp(owner: IR.Expr | IR.Stmt, kind: "f32" | "i32", n: number, slot: number): ComputeArray {
    const key = slot === 0 ? owner : (this.slotKey(owner, slot) as IR.Expr);
    let t = this.temps.get(key);
    if (!t || t.length !== n || (kind === "f32") !== t instanceof Float32Array) {
      t = allocCompute(kind, n, this.opts.sharedMemory);
      this.temps.set(key, t);
    }
    return t;
  }
  private readonly slotKeys = new WeakMap<object, object[]>();
  private slotKey(owner: object, slot: number): object {
    let keys = this.slotKeys.get(owner);
    if (!keys) { keys = []; this.slotKeys.set(owner, keys); }
    return (keys[slot] ??= {});
  }

  /** Read a view into a compute array; a contiguous f32 view is used in place, without a copy. */
  private readView(v: IR.View, frame: Frame, kind: "f32" | "i32", owner: IR.Expr | IR.Stmt, slot: number): ComputeArray {
    const t = this.resolve(v, frame);
    const n = elementCount(t.shape);
    if (kind === "f32" && t.data instanceof Float32Array && isRowMajorContiguous(t)) return t.data.subarray(t.offset, t.offset + n);
    if (kind === "i32" && t.data instanceof Int32Array && isRowMajorContiguous(t)) return t.data.subarray(t.offset, t.offset + n);
    return views.gather(t, kind, this.temp(owner, kind, n, slot));
  }

  // ---- views ----------------------------------------------------------------------------------

  private baseTensor(v: IR.TensorVar, frame: Frame, span: IR.View["span"]): TensorView {
    if (v.role === "session") {
      const t = this.session.get(v);
      if (!t) throw new RuntimeFault(span, `session tensor '${v.name}' has no value`);
      return t;
    }
    return frame.tensors[v.slot];
  }

  private resolve(view: IR.View, frame: Frame): TensorView {
    const base = this.baseTensor(view.base, frame, view.span);
    if (view.steps.length === 0) return base;
    let offset = base.offset;
    let shape = base.shape, strides = base.strides;
    for (const step of view.steps) {
      const nShape: number[] = [], nStrides: number[] = [];
      for (let axis = 0; axis < shape.length; axis++) {
        const sel = step[axis];
        if (!sel || sel.kind === "all") { nShape.push(shape[axis]); nStrides.push(strides[axis]); continue; }
        if (sel.kind === "at") {
          const i = this.evalIndex(sel.index, frame);
          if (i < 0 || i >= shape[axis]) throw new RuntimeFault(sel.index.span, `index ${i} is out of range for axis ${axis} of '${view.base.name}' (size ${shape[axis]})`);
          offset += i * strides[axis];
        } else {
          const s = this.evalIndex(sel.start, frame);
          if (s < 0 || s + sel.length > shape[axis]) throw new RuntimeFault(sel.start.span, `window ${s} +: ${sel.length} is out of range for axis ${axis} of '${view.base.name}' (size ${shape[axis]})`);
          offset += s * strides[axis];
          nShape.push(sel.length);
          nStrides.push(strides[axis]);
        }
      }
      shape = nShape;
      strides = nStrides;
    }
    return { precision: base.precision, data: base.data, offset, shape, strides };
  }

  // ---- expressions ------------------------------------------------------------------------------

  /** An integer scalar (an index, a loop bound): evaluated without temps. */
  private evalIndex(e: IR.Expr, frame: Frame): number {
    switch (e.kind) {
      case "const": return e.value;
      case "loopvar": return frame.loops[e.v.slot];
      case "neg": return -this.evalIndex(e.operand, frame) | 0;
      case "binary": {
        const a = this.evalIndex(e.left, frame), b = this.evalIndex(e.right, frame);
        switch (e.op) {
          case "+": return (a + b) | 0;
          case "-": return (a - b) | 0;
          case "*": return Math.imul(a, b);
          case "/": if (b === 0) throw new RuntimeFault(e.span, "integer division by zero"); return Math.trunc(a / b) | 0;
          case "%": if (b === 0) throw new RuntimeFault(e.span, "integer division by zero"); return a % b | 0;
        }
        return 0; // unreachable: the switch covers every operator
      }
      case "view": {
        const t = this.resolve(e.view, frame);
        return t.data[t.offset] as number;
      }
      default:
        return this.eval(e, frame)[0] | 0;
    }
  }

  /** Evaluate an expression into its node's temp array (row-major, length = product of its shape). */
  private eval(e: IR.Expr, frame: Frame): ComputeArray {
    switch (e.kind) {
      case "const": {
        const t = this.temp(e, e.compute, 1, 0);
        t[0] = e.value;
        return t;
      }
      case "loopvar": {
        const t = this.temp(e, e.compute, 1, 0);
        t[0] = frame.loops[e.v.slot];
        return t;
      }
      case "view":
        return this.readView(e.view, frame, e.compute, e, 0);
      case "neg": {
        const a = this.eval(e.operand, frame);
        const out = this.temp(e, e.compute, a.length, 0);
        ops.negate(e.compute, a, out);
        return out;
      }
      case "binary": {
        let a = this.eval(e.left, frame), b = this.eval(e.right, frame);
        if (e.compute === "f32") { a = this.asF32(a, e.left); b = this.asF32(b, e.right); }
        const out = this.temp(e, e.compute, elementCount(e.shape), 0);
        views.binary(e.op, e.compute, a, e.left.shape, b, e.right.shape, out, e.shape, e.span);
        return out;
      }
      case "call": {
        const out = this.temp(e, e.compute, elementCount(e.shape), 0);
        PURE[e.fn](this, e, frame, out);
        return out;
      }
    }
  }

  /** An argument of a pure function, evaluated (ints converted where the function computes in f32). */
  arg(e: IR.Expr & { kind: "call" }, i: number, frame: Frame, asFloat: boolean): ComputeArray {
    const a = this.eval(e.args[i], frame);
    return asFloat ? this.asF32(a, e.args[i]) : a;
  }

  /** The view an f32 argument reads when it is a view of f32 storage (not a computed value). */
  f32View(e: IR.Expr, frame: Frame): TensorView | undefined {
    if (e.kind !== "view" || e.compute !== "f32") return undefined;
    const t = this.resolve(e.view, frame);
    return views.isF32View(t) ? t : undefined;
  }

  /** Integer values used in float arithmetic are converted (as C converts int to float). */
  private asF32(a: ComputeArray, owner: IR.Expr): ComputeArray {
    if (a instanceof Float32Array) return a;
    const t = this.temp(owner, "f32", a.length, 7) as Float32Array;
    t.set(a);
    return t;
  }
}

type Call = IR.Expr & { kind: "call" };
/**
 * How the interpreter runs each pure function of the IR (one row per IR.PureFn: a function added
 * to the catalogue is a compile error here until it has one). The arithmetic is in ops.ts.
 */
const PURE: Record<IR.PureFn, (it: Interpreter, e: Call, frame: Frame, out: ComputeArray) => void> = {
  EXP: (it, e, f, out) => unary(it, e, f, out),
  LOG: (it, e, f, out) => unary(it, e, f, out),
  SQRT: (it, e, f, out) => unary(it, e, f, out),
  TANH: (it, e, f, out) => unary(it, e, f, out),
  ABS: (it, e, f, out) => unary(it, e, f, out),
  ACT: (it, e, f, out) => unary(it, e, f, out),
  MAXIMUM: (it, e, f, out) => minmax(it, e, f, out),
  MINIMUM: (it, e, f, out) => minmax(it, e, f, out),
  SUM: (it, e, f, out) => ops.reduceLast(e.fn as "SUM", e.compute, it.arg(e, 0, f, e.compute === "f32"), e.args[0].shape, out),
  MAX: (it, e, f, out) => ops.reduceLast(e.fn as "MAX", e.compute, it.arg(e, 0, f, e.compute === "f32"), e.args[0].shape, out),
  MEAN: (it, e, f, out) => ops.reduceLast(e.fn as "MEAN", e.compute, it.arg(e, 0, f, e.compute === "f32"), e.args[0].shape, out),
  SUMALL: (it, e, f, out) => {
    const s = ops.sumAll(it.arg(e, 0, f, false));
    out[0] = e.compute === "i32" ? s | 0 : s;
  },
  SOFTMAX: (it, e, f, out) => ops.softmaxLast(it.arg(e, 0, f, true), e.args[0].shape, out as Float32Array),
  TRANSPOSE: (it, e, f, out) => {
    // a strided f32 view (a window of a cache) is transposed in place, without gathering it first
    const v = it.f32View(e.args[0], f);
    if (v && out instanceof Float32Array) views.transposeViewF32(v, out);
    else ops.transpose2d(it.arg(e, 0, f, false), e.args[0].shape, out);
  },
};

function unary(it: Interpreter, e: Call, f: Frame, out: ComputeArray): void {
  ops.unary(e.fn as Parameters<typeof ops.unary>[0], e.compute, it.arg(e, 0, f, e.compute === "f32"), out, e.act);
}

function minmax(it: Interpreter, e: Call, f: Frame, out: ComputeArray): void {
  const fl = e.compute === "f32";
  ops.minmax(e.fn as "MAXIMUM" | "MINIMUM", it.arg(e, 0, f, fl), e.args[0].shape, it.arg(e, 1, f, fl), e.args[1].shape, out, e.shape);
}

function isRowMajorContiguous(t: TensorView): boolean {
  let expect = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== expect) return false;
    expect *= t.shape[i];
  }
  return true;
}
