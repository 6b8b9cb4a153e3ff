// The C++ emitter: typed IR (compiler/ir.ts) → one C++17 translation unit over the runtime in
// runtime.ts. What every statement computes is defined by interpreter/ops.ts; this file only
// decides how to compute the same values in C++:
//   - shapes and strides are compile-time constants; only view offsets are computed at run time;
//   - elementwise expressions become one loop nest per statement (no temporaries), evaluated in
//     f32 with the same operation order (the unit is compiled with -ffp-contract=off);
//   - SUM/MAX/MEAN/SUMALL/SOFTMAX are materialized into temps first; sums accumulate in f64 in
//     row-major order, as the interpreter does;
//   - MMUL/MADD go to Eigen (f32 accumulation) or, with `exactMmul`, to f64 sums in k order;
//   - locals and temps live in thread_local static storage (never on the stack, never on the heap);
//   - every run-time check (index, window, integer division, LOOKUP, loop step) reports a fault id
//     that backend.ts maps back to the statement's span and the interpreter's message;
//   - batch loops whose iterations provably write disjoint slices run across OpenMP threads.
// Which loops run in parallel and which statements must compute their value before storing it (the
// source reads what the store overwrites) are decided by compiler/analysis.ts; this file renders.
// Every IR operation has its renderer in a table or an exhaustive switch over the IR's names, so a
// new operation does not compile until it is rendered here.
// Nothing from the .ta source text reaches the output except mangled identifiers ([A-Za-z0-9_]).

import { Analysis, InlineFn, isWhole, KernelAnalysis, broadcastIndex as bcast, WholeFn } from "../analysis.js";
import * as IR from "../ir.js";
import { Span } from "../source.js";
import { bytesPerElement, elementCount, Precision, rowMajorStrides, storageStrides } from "../types.js";
import { runtimeAmalgamation } from "./runtime.js";

export interface EmitOptions {
  /** MMUL sums in f64 in k order (the interpreter's order): bitwise results, slower. For differential tests. */
  exactMmul?: boolean;
  /** Inline the runtime so the file compiles on its own (tensorcore compile). */
  selfContained?: boolean;
  /** Add a main() that runs this kernel on weights/<param>.bin (missing: 0.5) and prints REDUCE output. */
  main?: IR.Kernel;
  /** Estimated element operations a batch loop needs before it is split across threads (default 16384). */
  parallelThreshold?: number;
  /** Optimization level for this unit's own code (a pragma; the runtime stays -O3). Tests use 1 for big batches. */
  optLevel?: 1 | 2 | 3;
  /** Test hook: the statement with this emission index gets C++ that does not compile. */
  injectErrorAt?: number;
  /**
   * Count calls and time of every kernel and statement (tensorcore profile): a separate build, since
   * the timers are emitted only here. Counters are read with tc_profile_read (see profileSlots).
   */
  profile?: boolean;
}

export interface FaultInfo {
  span: Span;
  message: (v0: number, v1: number) => string;
}

export interface EntryInfo {
  kernel: IR.Kernel;
  symbol: string;
  /** Element strides the entry expects for each parameter (the type's storage strides). */
  strides: number[][];
}

export interface EmittedUnit {
  code: string;
  entries: EntryInfo[];
  /** fault id - 1 → where and what */
  faults: FaultInfo[];
  /** C++ line ranges (1-based, inclusive) of each statement's code, innermost last. */
  stmtLines: { span: Span; first: number; last: number }[];
  /** With `profile`: what each counter pair (calls, nanoseconds) of tc_profile_read counts. */
  profileSlots?: { kernel: IR.Kernel; stmt?: IR.Stmt }[];
}

const CT: Record<Precision, string> = { f32: "float", f16: "uint16_t", bf16: "uint16_t", int8: "int8_t", int32: "int32_t" };
const ctype = (k: "f32" | "i32"): string => (k === "f32" ? "float" : "int32_t");

/** An identifier from the source, reduced to [A-Za-z0-9] runs joined by '_' (for names and comments). */
export function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || "x";
}

/** An f32 value as an exact C++ literal (hexfloat), inf/nan via numeric_limits. */
export function f32Literal(x: number): string {
  const f = Math.fround(x);
  if (Number.isNaN(f)) return "std::numeric_limits<float>::quiet_NaN()";
  if (!Number.isFinite(f)) return f > 0 ? "std::numeric_limits<float>::infinity()" : "(-std::numeric_limits<float>::infinity())";
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const bits = buf.getUint32(0);
  const sign = bits >>> 31 ? "-" : "";
  const exp = (bits >>> 23) & 0xff, mant = bits & 0x7fffff;
  const hex = (mant << 1).toString(16).padStart(6, "0");
  if (exp === 0) return `(${sign}0x0.${hex}p-126f)`;
  return `(${sign}0x1.${hex}p${exp - 127}f)`;
}

export function i32Literal(x: number): string {
  const v = x | 0;
  return v === -2147483648 ? "(-2147483647 - 1)" : v < 0 ? `(${v})` : `${v}`;
}

interface VInfo {
  ptr: string; // C++ expression: pointer to the view's element 0
  strides: number[];
  shape: number[];
  precision: Precision;
  base: IR.TensorVar | undefined; // undefined for temps
}

/** A "whole" pure function being computed into the temporary T (see materialize). */
interface WholeArgs {
  e: IR.Expr & { kind: "call" };
  x: IR.Expr; // the operand
  c: Ctx;
  T: string;
  /** The operand's element at idx, in its compute kind. */
  at(idx: string[]): string;
  /** An operand value converted to f32. */
  asF(s: string): string;
}

/** One row of a row-wise whole function: the last axis, D elements, indexed by the loop variable j. */
interface RowArgs {
  j: string;
  D: number;
  /** Row-major offset of the row's first element in T (for results with the operand's shape). */
  rowOff: string;
  /** Row-major index of the row's result in T (for results with the last axis reduced). */
  out: string;
  at(jj: string): string;
}

interface Spec {
  kernel: IR.Kernel;
  strides: number[][];
  name: string;
}

/**
 * Inside a chunk's lambda, the kernel's parameters (p<slot>) are read through local copies. The lambda
 * captures them by reference, and an int8 store (signed char, which may alias any object) could in
 * C++ change a captured pointer, so GCC reloaded every pointer after every int8 store and left such
 * loops scalar (quantizing 64 × 768 activations: 77 µs, against 11 vectorized). Names inside string
 * literals are left alone.
 */
function localParams(lines: string[], start: number, indent: string): void {
  const names = new Set<string>();
  const outsideStrings = (l: string, f: (code: string) => string) => l.split(/("(?:[^"\\]|\\.)*")/).map((part, i) => (i % 2 ? part : f(part))).join("");
  for (let i = start; i < lines.length; i++) {
    if (/^\s*auto const lp\d+ = p\d+;$/.test(lines[i])) continue; // a nested chunk's own copies
    lines[i] = outsideStrings(lines[i], (code) => code.replace(/\bp(\d+)\b/g, (_, d: string) => { names.add(d); return `lp${d}`; }));
  }
  lines.splice(start, 0, ...[...names].map((d) => `${indent}auto const lp${d} = p${d};`));
}

interface Ctx {
  spec: Spec;
  kid: number;
  /** The analysis of spec.kernel: parallel loops, statements that need their value computed first. */
  facts: KernelAnalysis;
  lines: string[];
  depth: number;
  divFault: boolean;
}

function assertNever(x: never): never {
  throw new Error(`internal: unhandled IR node ${JSON.stringify((x as { kind?: string }).kind)}`);
}

const LOAD: Record<Precision, (x: string) => string> = {
  f32: (x) => x, int32: (x) => x, f16: (x) => `tcrt::h2f(${x})`, bf16: (x) => `tcrt::b2f(${x})`, int8: (x) => `(int32_t)${x}`,
};
const load = (p: Precision, x: string): string => LOAD[p](x);

function store(p: Precision, k: "f32" | "i32", v: string): string {
  const f = k === "f32" ? v : `(float)(${v})`;
  switch (p) {
    case "f32": return f;
    case "f16": return `tcrt::f2h(${f})`;
    case "bf16": return `tcrt::f2b(${f})`;
    case "int32": return k === "f32" ? `tcrt::f2i(${v})` : v;
    case "int8": return k === "f32" ? `tcrt::f2i8(${v})` : `tcrt::i2i8(${v})`;
  }
}

/** The runtime function of each activation. */
const ACT_FN: Record<IR.ActKind, string> = {
  gelu_tanh: "tcrt::act_gelu_tanh", gelu_erf: "tcrt::act_gelu_erf", silu: "tcrt::act_silu", relu: "tcrt::act_relu",
};

/** The operands of an inline pure function at the element being computed (each rendered once, in order). */
interface InlineArgs {
  e: IR.Expr & { kind: "call" };
  /** Operand i at this element (broadcast), in its own compute kind. */
  raw(i: number): string;
  /** Operand i at this element, converted to f32. */
  f32(i: number): string;
  /** Operand 0 at the transposed element [idx[1], idx[0]]. */
  transposed(): string;
}

/** Pure functions computed inside the statement's loop nest. */
const INLINE: Record<InlineFn, (a: InlineArgs) => string> = {
  EXP: (a) => `tcrt::fexp(${a.f32(0)})`,
  LOG: (a) => `tcrt::flog(${a.f32(0)})`,
  SQRT: (a) => `tcrt::fsqrt(${a.f32(0)})`,
  TANH: (a) => `tcrt::ftanh(${a.f32(0)})`,
  ABS: (a) => (a.e.compute === "i32" ? `tcrt::iabs(${a.raw(0)})` : `std::fabs(${a.raw(0)})`),
  ACT: (a) => {
    if (!a.e.act) throw new Error("internal: ACT without an activation kind");
    return `${ACT_FN[a.e.act]}(${a.f32(0)})`;
  },
  MAXIMUM: (a) => (a.e.compute === "i32" ? `tcrt::imax(${a.raw(0)}, ${a.raw(1)})` : `tcrt::fmaxn(${a.f32(0)}, ${a.f32(1)})`),
  MINIMUM: (a) => (a.e.compute === "i32" ? `tcrt::imin(${a.raw(0)}, ${a.raw(1)})` : `tcrt::fminn(${a.f32(0)}, ${a.f32(1)})`),
  TRANSPOSE: (a) => a.transposed(),
};

type BinaryOp = (IR.Expr & { kind: "binary" })["op"];
/** Elements from which an elementwise statement's rows are split across the pool's threads. */
const PAR_ELEMENTS = 1 << 15;

/** Whether an expression divides integers: such a division reports its fault through F, which one thread owns. */
function divides(e: IR.Expr): boolean {
  switch (e.kind) {
    case "const": case "loopvar": case "view": return false;
    case "neg": return divides(e.operand);
    case "binary": return (e.compute === "i32" && BINARY[e.op].divides) || divides(e.left) || divides(e.right);
    case "call": return e.args.some(divides);
    default: return assertNever(e);
  }
}

/** Binary operators: f32 arithmetic (as C++ float operations), i32 arithmetic (wrapping runtime helpers; / and % fault on zero). */
const BINARY: Record<BinaryOp, { f32: (a: string, b: string) => string; i32: string; divides: boolean }> = {
  "+": { f32: (a, b) => `(${a} + ${b})`, i32: "tcrt::iadd", divides: false },
  "-": { f32: (a, b) => `(${a} - ${b})`, i32: "tcrt::isub", divides: false },
  "*": { f32: (a, b) => `(${a} * ${b})`, i32: "tcrt::imul", divides: false },
  "/": { f32: (a, b) => `(${a} / ${b})`, i32: "tcrt::idiv", divides: true },
  "%": { f32: (a, b) => `std::fmod(${a}, ${b})`, i32: "tcrt::imod", divides: true },
};

/** Strides with those of length-1 axes normalized (they never move). */
const normStrides = (shape: number[], strides: number[]): number[] => strides.map((s, i) => (shape[i] === 1 ? 1 : s));

export class Emitter {
  private readonly globals: string[] = [];
  private readonly fns: string[] = [];
  private readonly entryCode: string[] = [];
  private readonly decls: string[] = [];
  private readonly faults: FaultInfo[] = [];
  private readonly specs = new Map<string, Spec>();
  private readonly kernelIds = new Map<IR.Kernel, number>();
  private readonly pending: Spec[] = [];
  private readonly analysis: Analysis;
  private n = 0;
  private stmtIndex = 0;
  /** Profile counter slots, one per kernel and per statement (shared by a kernel's specializations). */
  private readonly profSlots: { kernel: IR.Kernel; stmt?: IR.Stmt }[] = [];
  private readonly profSlotOf = new Map<IR.Kernel | IR.Stmt, number>();

  private profSlot(kernel: IR.Kernel, stmt?: IR.Stmt): number {
    const key = stmt ?? kernel;
    let id = this.profSlotOf.get(key);
    if (id === undefined) {
      id = this.profSlots.length;
      this.profSlots.push({ kernel, stmt });
      this.profSlotOf.set(key, id);
    }
    return id;
  }

  constructor(private readonly opts: EmitOptions = {}) {
    this.analysis = new Analysis({ parallelThreshold: opts.parallelThreshold });
  }

  private fresh(p: string): string {
    return `${p}${this.n++}`;
  }

  private kid(k: IR.Kernel): number {
    let id = this.kernelIds.get(k);
    if (id === undefined) {
      id = this.kernelIds.size;
      this.kernelIds.set(k, id);
      // kernel locals: thread_local static storage, one set per kernel (the interpreter also keeps one)
      for (const v of k.locals) {
        this.globals.push(`alignas(64) static thread_local ${CT[v.type.precision]} tl_k${id}_L${v.slot}[${elementCount(v.type.shape)}]; // ${sanitize(k.name)}.${sanitize(v.name)}`);
      }
    }
    return id;
  }

  private fault(span: Span, message: FaultInfo["message"]): number {
    this.faults.push({ span, message });
    return this.faults.length;
  }

  /** Emit the kernels (and every kernel they call) with one C entry point each. */
  emit(kernels: IR.Kernel[]): EmittedUnit {
    const entries: EntryInfo[] = [];
    for (const k of closure(kernels)) {
      const strides = k.params.map((p) => storageStrides(p.type));
      const spec = this.specialize(k, strides);
      const id = this.kid(k);
      const sym = `tc_entry_${id}`;
      const args = k.params.map((_, i) => `void* a${i}`);
      const call = k.params.map((p, i) => `(${CT[p.type.precision]}*)a${i} + offs[${i}]`);
      this.entryCode.push([
        `// entry: kernel ${sanitize(k.name)}`,
        `TC_EXPORT int32_t ${sym}(${[...args, "const int32_t* offs", "const int32_t* intr", "tcrt::print_fn print", "int32_t* fault"].join(", ")}) {`,
        `  (void)offs; tcrt::Rt rt{intr, print}; tcrt::Fault F{0, 0, 0};`,
        `  const int rc = ${spec.name}(${[...call, "&rt", "&F"].join(", ")});`,
        `  if (fault) { fault[0] = F.id; fault[1] = F.v0; fault[2] = F.v1; }`,
        `  return rc;`,
        `}`,
      ].join("\n"));
      entries.push({ kernel: k, symbol: sym, strides });
    }
    while (this.pending.length) this.emitSpec(this.pending.shift()!);
    const parts: string[] = [];
    parts.push("// Generated by tensorcore (C++/Eigen back end). Do not edit.");
    if (this.opts.selfContained) {
      parts.push(runtimeAmalgamation());
      if (this.opts.main) parts.push("#include <cstdio>\n#include <vector>");
    } else parts.push("// compiled with -include tc_runtime.h (the runtime header, precompiled)");
    if (this.opts.optLevel) parts.push(`#pragma GCC optimize ("O${this.opts.optLevel}")`);
    const prof = this.opts.profile ? profileRuntime(this.profSlots.length) : { inner: [], exported: [] };
    if (this.opts.profile) parts.push("#include <chrono>");
    parts.push("namespace {", ...prof.inner, ...this.globals, ...this.decls, ...this.fns, "} // namespace", ...this.entryCode, ...prof.exported, ...(this.opts.main ? [this.emitMain(this.opts.main)] : []));
    const code = parts.join("\n") + "\n";
    return { code, entries, faults: this.faults, stmtLines: lineMap(code, this.stmtSpans), ...(this.opts.profile ? { profileSlots: this.profSlots } : {}) };
  }

  private readonly stmtSpans: Span[] = [];

  private specialize(k: IR.Kernel, strides: number[][]): Spec {
    const kid = this.kid(k);
    const norm = strides.map((s, i) => normStrides(k.params[i].type.shape, s));
    const key = `${kid}:${JSON.stringify(norm)}`;
    let spec = this.specs.get(key);
    if (!spec) {
      spec = { kernel: k, strides: norm, name: `k${kid}s${this.specs.size}_${sanitize(k.name)}` };
      this.specs.set(key, spec);
      const params = k.params.map((p) => `${CT[p.type.precision]}* p${p.slot}`);
      this.decls.push(`static int ${spec.name}(${[...params, "const tcrt::Rt* rt", "tcrt::Fault* F"].join(", ")});`);
      this.pending.push(spec);
    }
    return spec;
  }

  private emitSpec(spec: Spec): void {
    const k = spec.kernel;
    const kid = this.kid(k);
    const c: Ctx = { spec, kid, facts: this.analysis.kernel(k), lines: [], depth: 1, divFault: false };
    const params = k.params.map((p) => `${CT[p.type.precision]}* p${p.slot}`);
    c.lines.push(`// kernel ${sanitize(k.name)}, parameter strides ${JSON.stringify(spec.strides)}`);
    c.lines.push(`static int ${spec.name}(${[...params, "const tcrt::Rt* rt", "tcrt::Fault* F"].join(", ")}) {`);
    c.lines.push("  (void)rt; (void)F;");
    for (const v of k.locals) c.lines.push(`  ${CT[v.type.precision]}* const L${v.slot} = tl_k${kid}_L${v.slot}; (void)L${v.slot};`);
    if (this.opts.profile) c.lines.push("  const uint64_t tcp_k = tc_prof_now();");
    this.block(k.body, c);
    if (this.opts.profile) c.lines.push(`  tc_prof_add(${this.profSlot(k)}, tcp_k);`);
    c.lines.push("  return 0;", "}");
    this.fns.push(c.lines.join("\n"));
  }

  private line(c: Ctx, s: string): void {
    c.lines.push("  ".repeat(c.depth) + s);
  }

  private block(stmts: IR.Stmt[], c: Ctx): void {
    for (const s of stmts) this.stmt(s, c);
  }

  private stmt(s: IR.Stmt, c: Ctx): void {
    const id = this.stmtSpans.length;
    this.stmtSpans.push(s.span);
    this.line(c, `{ // @stmt ${id}`);
    c.depth++;
    if (this.opts.injectErrorAt === this.stmtIndex++) this.line(c, "tc_injected_error_for_tests = 1;");
    if (this.opts.profile) this.line(c, `const uint64_t tcp_${id} = tc_prof_now();`);
    c.divFault = false;
    switch (s.kind) {
      case "assign": this.assign(s, c); break;
      case "zero": {
        if (s.target.role === "session") throw new Error("internal: session tensor inside a compiled kernel");
        this.line(c, `std::memset(L${s.target.slot}, 0, ${elementCount(s.target.type.shape) * bytesPerElement(s.target.type.precision)});`);
        break;
      }
      case "mmul": this.mmul(s, c); break;
      case "lookup": this.lookup(s, c); break;
      case "causal_mask": this.causalMask(s, c); break;
      case "print": this.print(s, c); break;
      case "loop": this.loop(s, c); break;
      case "call": this.call(s, c); break;
      case "show": throw new Error("internal: a show statement inside a compiled kernel");
      default: assertNever(s);
    }
    if (this.opts.profile) this.line(c, `tc_prof_add(${this.profSlot(c.spec.kernel, s)}, tcp_${id});`);
    if (c.divFault) this.line(c, "if (F->id) return 1;");
    c.depth--;
    this.line(c, `} // @end ${id}`);
  }

  // ---- views ------------------------------------------------------------------------------------

  private baseInfo(v: IR.TensorVar, c: Ctx): VInfo {
    if (v.role === "param") {
      return { ptr: `p${v.slot}`, strides: c.spec.strides[v.slot], shape: v.type.shape, precision: v.type.precision, base: v };
    }
    if (v.role === "local") {
      return { ptr: `L${v.slot}`, strides: storageStrides(v.type), shape: v.type.shape, precision: v.type.precision, base: v };
    }
    throw new Error("internal: session tensor inside a compiled kernel");
  }

  /** Resolve a view: emits the offset computation and its bounds checks, in the interpreter's order. */
  private view(view: IR.View, c: Ctx): VInfo {
    const b = this.baseInfo(view.base, c);
    if (view.steps.length === 0) return b;
    let shape = b.shape, strides = b.strides;
    let offConst = 0;
    const dyn: string[] = [];
    for (const step of view.steps) {
      const nShape: number[] = [], nStrides: number[] = [];
      for (let axis = 0; axis < shape.length; axis++) {
        const sel = step[axis];
        if (!sel || sel.kind === "all") { nShape.push(shape[axis]); nStrides.push(strides[axis]); continue; }
        const e = sel.kind === "at" ? sel.index : sel.start;
        if (e.kind === "const") {
          offConst += e.value * strides[axis];
        } else {
          const x = this.scalarInt(e, c);
          const dim = shape[axis], name = view.base.name;
          if (sel.kind === "at") {
            const fid = this.fault(e.span, (i) => `index ${i} is out of range for axis ${axis} of '${name}' (size ${dim})`);
            this.line(c, `if (${x} < 0 || ${x} >= ${dim}) return tcrt::fault(F, ${fid}, ${x});`);
          } else {
            const len = sel.length;
            const fid = this.fault(e.span, (s) => `window ${s} +: ${len} is out of range for axis ${axis} of '${name}' (size ${dim})`);
            this.line(c, `if (${x} < 0 || (int64_t)${x} + ${len} > ${dim}) return tcrt::fault(F, ${fid}, ${x});`);
          }
          dyn.push(`(int64_t)${x} * ${strides[axis]}`);
        }
        if (sel.kind === "window") { nShape.push(sel.length); nStrides.push(strides[axis]); }
      }
      shape = nShape;
      strides = nStrides;
    }
    const ptr = this.fresh("v");
    this.line(c, `${CT[b.precision]}* const ${ptr} = ${b.ptr} + ${[String(offConst), ...dyn].join(" + ")};`);
    return { ptr, strides, shape, precision: b.precision, base: view.base };
  }

  /** A scalar integer expression (an index, a bound): emitted into a const variable. */
  private scalarInt(e: IR.Expr, c: Ctx): string {
    if (e.kind === "const") return i32Literal(e.value);
    if (e.kind === "loopvar") return `lv${e.v.slot}`;
    const m = new Map<IR.Expr, VInfo>();
    this.prepare(e, c, m);
    const saved = c.divFault;
    c.divFault = false;
    const v = this.elem(e, [], m, c);
    const name = this.fresh("x");
    this.line(c, `const int32_t ${name} = ${e.compute === "i32" ? v : `(int32_t)(${v})`};`);
    if (c.divFault) this.line(c, "if (F->id) return 1;");
    c.divFault = saved;
    return name;
  }

  // ---- expressions --------------------------------------------------------------------------------

  /** Resolve views and materialize "whole" functions, children first (the interpreter's order). */
  private prepare(e: IR.Expr, c: Ctx, m: Map<IR.Expr, VInfo>): void {
    switch (e.kind) {
      case "const": case "loopvar": return;
      case "view": m.set(e, this.view(e.view, c)); return;
      case "neg": this.prepare(e.operand, c, m); return;
      case "binary": this.prepare(e.left, c, m); this.prepare(e.right, c, m); return;
      case "call": {
        for (const a of e.args) this.prepare(a, c, m);
        if (isWhole(e.fn)) m.set(e, this.materialize(e, e.fn, c, m));
        return;
      }
      default: assertNever(e);
    }
  }

  private temp(c: Ctx, type: string, n: number): string {
    const name = this.fresh("T");
    if (n * 8 <= 2048) this.line(c, `alignas(64) ${type} ${name}[${n}];`);
    else {
      this.globals.push(`alignas(64) static thread_local ${type} tl_${name}[${n}];`);
      this.line(c, `${type}* const ${name} = tl_${name};`);
    }
    return name;
  }

  private loops(c: Ctx, shape: number[], body: (idx: string[]) => void, split = false): void {
    const idx = shape.map((d) => (d === 1 ? "0" : this.fresh("i")));
    this.nest(c, shape, idx, split, () => body(idx));
  }

  /**
   * One loop per axis of `shape` longer than 1, over the index names `idx`, around body(). `split`:
   * the outermost such axis is cut into chunks that the pool's threads run (the caller has checked
   * that the body's iterations are independent and report no faults).
   */
  private nest(c: Ctx, shape: number[], idx: string[], split: boolean, body: () => void): void {
    const outer = split ? shape.findIndex((n) => n > 1) : -1;
    const ch = outer >= 0 ? this.fresh("ch") : "";
    let opened = 0;
    let lambdaStart = -1;
    shape.forEach((n, a) => {
      if (n === 1) return;
      if (a === outer) {
        const chunks = Math.min(n, 8);
        this.line(c, `tcrt::run_chunks(${chunks}, tcrt::pool_width(), [&](int64_t ${ch}, int) {`);
        c.depth++;
        lambdaStart = c.lines.length;
        this.line(c, `for (int ${idx[a]} = (int)(${ch} * ${n} / ${chunks}); ${idx[a]} < (int)((${ch} + 1) * ${n} / ${chunks}); ++${idx[a]}) {`);
      } else this.line(c, `for (int ${idx[a]} = 0; ${idx[a]} < ${n}; ++${idx[a]}) {`);
      c.depth++;
      opened++;
    });
    body();
    for (let i = 0; i < opened; i++) { c.depth--; this.line(c, "}"); }
    if (outer >= 0) {
      localParams(c.lines, lambdaStart, "  ".repeat(c.depth));
      c.depth--;
      this.line(c, "});");
    }
  }

  /** Whether a statement over `shape` whose values come from `src` splits across the pool (see nest). */
  private splits(shape: number[], src: IR.Expr): boolean {
    return elementCount(shape) >= PAR_ELEMENTS && shape.some((n) => n > 1) && !divides(src);
  }

  /** Compute a "whole" pure function (reductions, softmax) into a temporary, before the elements that use it. */
  private materialize(e: IR.Expr & { kind: "call" }, fn: WholeFn, c: Ctx, m: Map<IR.Expr, VInfo>): VInfo {
    const x = e.args[0];
    const T = this.temp(c, ctype(e.compute), elementCount(e.shape));
    this.whole[fn]({
      e, x, c, T,
      at: (idx) => this.elem(x, idx, m, c),
      asF: (s) => (x.compute === "i32" ? `(float)(${s})` : s),
    });
    return { ptr: T, strides: rowMajorStrides(e.shape), shape: e.shape, precision: e.compute === "f32" ? "f32" : "int32", base: undefined };
  }

  /** The C++ of each "whole" pure function, writing its value into the temporary w.T. */
  private readonly whole: Record<WholeFn, (w: WholeArgs) => void> = {
    SUMALL: ({ e, x, c, T, at, asF }) => {
      const s = this.fresh("s");
      this.line(c, e.compute === "f32" ? `double ${s} = 0;` : `uint32_t ${s} = 0;`);
      this.loops(c, x.shape, (idx) => this.line(c, `${s} += ${e.compute === "f32" ? `(double)${asF(at(idx))}` : `(uint32_t)${at(idx)}`};`));
      this.line(c, `${T}[0] = ${e.compute === "f32" ? `(float)${s}` : `(int32_t)${s}`};`);
    },
    SUM: (w) => this.rows(w, (r) => this.rowSum(w, r, false)),
    MEAN: (w) => this.rows(w, (r) => this.rowSum(w, r, true)),
    MAX: (w) => this.rows(w, ({ j, D, out, at }) => {
      const { c, T } = w;
      const mm = this.fresh("m"), t = this.fresh("t");
      const ty = ctype(w.e.compute);
      this.line(c, `${ty} ${mm} = ${at("0")};`);
      this.line(c, `for (int ${j} = 1; ${j} < ${D}; ++${j}) { const ${ty} ${t} = ${at(j)}; if (${t} > ${mm} || ${t} != ${t}) ${mm} = ${t}; }`);
      this.line(c, `${T}[${out}] = ${mm};`);
    }),
    SOFTMAX: (w) => this.rows(w, ({ j, D, rowOff, at }) => {
      // m = max (NaN ignored), e = f32(exp(f32(x - m))), out = e / sum(e) with the sum in f64
      const { c, T, asF } = w;
      const mm = this.fresh("m"), s = this.fresh("s"), row = this.fresh("r");
      this.line(c, `float* const ${row} = ${T} + ${rowOff};`);
      this.line(c, `float ${mm} = -std::numeric_limits<float>::infinity();`);
      this.line(c, `for (int ${j} = 0; ${j} < ${D}; ++${j}) { ${row}[${j}] = ${asF(at(j))}; if (${row}[${j}] > ${mm}) ${mm} = ${row}[${j}]; }`);
      this.line(c, `double ${s} = 0;`);
      this.line(c, `for (int ${j} = 0; ${j} < ${D}; ++${j}) { ${row}[${j}] = tcrt::fexp(${row}[${j}] - ${mm}); ${s} += ${row}[${j}]; }`);
      this.line(c, `for (int ${j} = 0; ${j} < ${D}; ++${j}) ${row}[${j}] = (float)((double)${row}[${j}] / ${s});`);
    }),
  };

  /** One loop nest over the rows (every axis but the last) of a whole function's operand. */
  private rows(w: WholeArgs, body: (r: RowArgs) => void): void {
    const D = w.x.shape[w.x.shape.length - 1];
    const outer = w.x.shape.slice(0, -1);
    this.loops(w.c, outer, (oidx) => {
      const rowOff = rmIndex([...oidx, "0"], w.x.shape);
      const j = this.fresh("j");
      body({ j, D, rowOff, out: rmIndex(oidx, outer), at: (jj) => w.at([...oidx, jj]) });
    }, this.splits(w.x.shape, w.x)); // rows are reduced one by one, each into its own slot
  }

  /** SUM (i32: wrapping int32; f32: f64 accumulation) or MEAN (f64 sum / D) of one row. */
  private rowSum({ e, c, T, asF }: WholeArgs, { j, D, out, at }: RowArgs, mean: boolean): void {
    const s = this.fresh("s");
    const int = !mean && e.compute === "i32";
    this.line(c, int ? `uint32_t ${s} = 0;` : `double ${s} = 0;`);
    this.line(c, `for (int ${j} = 0; ${j} < ${D}; ++${j}) ${s} += ${int ? `(uint32_t)${at(j)}` : `(double)${asF(at(j))}`};`);
    this.line(c, `${T}[${out}] = ${int ? `(int32_t)${s}` : mean ? `(float)(${s} / ${D})` : `(float)${s}`};`);
  }

  /**
   * The C++ expression for element `idx` of e (idx has one entry per axis of e.shape; "0" for length-1
   * axes). Views and "whole" functions were resolved by prepare() into `m`.
   */
  private elem(e: IR.Expr, idx: string[], m: Map<IR.Expr, VInfo>, c: Ctx): string {
    const sub = (x: IR.Expr, i: string[] = bcast(x.shape, idx)) => this.elem(x, i, m, c);
    const asF = (x: IR.Expr, s: string) => (x.compute === "i32" ? `(float)(${s})` : s);
    const pre = m.get(e);
    if (pre) return load(pre.precision, `${pre.ptr}[${addr(idx, pre.strides)}]`);
    switch (e.kind) {
      case "const": return e.compute === "f32" ? f32Literal(e.value) : i32Literal(e.value);
      case "loopvar": return `lv${e.v.slot}`;
      case "view": throw new Error("internal: unresolved view");
      case "neg": return e.compute === "f32" ? `(-${sub(e.operand)})` : `tcrt::ineg(${sub(e.operand)})`;
      case "binary": {
        const l = sub(e.left), r = sub(e.right);
        const op = BINARY[e.op];
        if (e.compute === "f32") return op.f32(asF(e.left, l), asF(e.right, r));
        if (!op.divides) return `${op.i32}(${l}, ${r})`;
        const fid = this.fault(e.span, () => "integer division by zero");
        c.divFault = true;
        return `${op.i32}(${l}, ${r}, F, ${fid})`;
      }
      case "call": {
        const fn = e.fn;
        if (isWhole(fn)) throw new Error(`internal: ${fn} was not materialized`);
        return INLINE[fn]({
          e,
          raw: (i) => sub(e.args[i]),
          f32: (i) => asF(e.args[i], sub(e.args[i])),
          transposed: () => sub(e.args[0], [idx[1], idx[0]]),
        });
      }
      default: return assertNever(e);
    }
  }

  // ---- statements -----------------------------------------------------------------------------------

  private assign(s: IR.Stmt & { kind: "assign" }, c: Ctx): void {
    const d = this.view(s.dst, c);
    const m = new Map<IR.Expr, VInfo>();
    this.prepare(s.src, c, m);
    const idx = d.shape.map((n) => (n === 1 ? "0" : this.fresh("i")));
    const srcIdx = s.squeeze ? [...idx, "0"] : bcast(s.src.shape, idx);
    const value = this.elem(s.src, srcIdx, m, c);
    // A large statement (a prefill's ACT over {64, 3072}) runs its rows on the pool's threads: each
    // element is computed alone, so the bits do not depend on the threads. Not when it divides
    // integers (a division fault is reported through one thread's F).
    const split = this.splits(d.shape, s.src);
    const loopsWith = (body: (i: string[]) => string) => this.nest(c, d.shape, idx, split, () => this.line(c, body(idx)));
    if (!c.facts.copyAssigns.has(s)) {
      loopsWith(() => `${d.ptr}[${addr(idx, d.strides)}] = ${store(d.precision, s.src.compute, value)};`);
      return;
    }
    // The source reads what the store overwrites: evaluate it completely first (as the interpreter does).
    const T = this.temp(c, ctype(s.src.compute), elementCount(d.shape));
    const rm = rmIndex(idx, d.shape);
    loopsWith(() => `${T}[${rm}] = ${value};`);
    loopsWith(() => `${d.ptr}[${addr(idx, d.strides)}] = ${store(d.precision, s.src.compute, `${T}[${rm}]`)};`);
  }

  /**
   * A float operand for the product helpers, as f32, copied to a row-major temp unless it already
   * has the strides `need` asks for: "any", a unit stride on some axis ("unit"), or contiguous rows
   * ("rows": a unit stride on the last axis).
   */
  private productOperand(v: VInfo, c: Ctx, need: "any" | "unit" | "rows"): VInfo {
    const st = normStrides(v.shape, v.strides);
    const last = st[st.length - 1] === 1;
    const ok = v.precision === "f32" && (need === "any" || (need === "rows" ? last : last || st[0] === 1));
    if (ok) return { ...v, strides: st };
    const T = this.temp(c, "float", elementCount(v.shape));
    this.loops(c, v.shape, (idx) => this.line(c, `${T}[${rmIndex(idx, v.shape)}] = ${load(v.precision, `${v.ptr}[${addr(idx, v.strides)}]`)};`));
    return { ptr: T, strides: rowMajorStrides(v.shape), shape: v.shape, precision: "f32", base: undefined };
  }

  private mmul(s: IR.Stmt & { kind: "mmul" }, c: Ctx): void {
    const acc = this.view(s.acc, c);
    // an operand written TRANSPOSE(x) is x's view with its two axes swapped: read in place, no copy
    const swap = (v: VInfo, t?: boolean): VInfo => (t ? { ...v, shape: [v.shape[1], v.shape[0]], strides: [v.strides[1], v.strides[0]] } : v);
    let a = swap(this.view(s.a, c), s.transA), b = swap(this.view(s.b, c), s.transB);
    const cc = s.c ? this.view(s.c, c) : undefined;
    const integer = acc.precision === "int32";
    const kind = a.shape.length === 2 && b.shape.length === 2 ? 0 : b.shape.length === 1 ? 1 : 2;
    const M = kind === 2 ? 1 : a.shape[0], K = kind === 2 ? a.shape[0] : a.shape[1], N = kind === 1 ? 1 : b.shape[1];
    const P = this.temp(c, integer ? "int32_t" : this.opts.exactMmul ? "double" : "float", M * N);
    const wcode: Partial<Record<Precision, number>> = { f32: 0, bf16: 1, f16: 2 };
    const unitCols = (v: VInfo) => v.shape.length === 1 ? normStrides(v.shape, v.strides)[0] === 1 : normStrides(v.shape, v.strides)[1] === 1;
    if (!integer && !this.opts.exactMmul && kind !== 1 && wcode[b.precision] !== undefined && unitCols(b) && !(M > 64 && b.precision === "f32")) {
      // weights {K,N} (or a {K,N} window) with contiguous columns: hand-written SIMD tiles read them in
      // place, in their own precision (no f32 copy of a bf16/f16 weight matrix); A (activations) as f32
      a = this.productOperand(a, c, "any");
      const [as0, as1] = kind === 2 ? [0, a.strides[0]] : a.strides;
      // a Tiled(R x C) weight sets the packed product's k-block (R) and panel width (C)
      const tile = !s.transB && b.base?.type.layout.kind === "Tiled" ? b.base.type.layout : undefined;
      this.line(c, `tcrt::mm_rowB(${M}, ${K}, ${N}, ${a.ptr}, ${as0}, ${as1}, ${b.ptr}, ${wcode[b.precision]}, ${b.strides[0]}, ${P}, ${tile?.rows ?? 0}, ${tile?.cols ?? 0});`);
    } else if (!integer && !this.opts.exactMmul && kind === 0 && M <= 8 && s.transB && wcode[b.precision] !== undefined && b.strides[0] === 1) {
      // {M,K}·TRANSPOSE({N,K}) with contiguous rows and few rows M (a decode step's scores against a
      // tile of cached keys, one row per query head of a group): N dot products over B's rows for each
      // row of A, as the LM head's (a tile re-read for the next row comes from L1)
      a = this.productOperand(a, c, "rows");
      for (let i = 0; i < M; i++)
        this.line(c, `tcrt::mv_rowA(${N}, ${K}, ${b.ptr}, ${wcode[b.precision]}, ${b.strides[1]}, ${a.ptr} + ${i * a.strides[0]}, ${P} + ${i * N});`);
    } else if (!integer && !this.opts.exactMmul && kind === 1 && wcode[a.precision] !== undefined && unitCols(a)) {
      // {M,K}·{K} with contiguous rows (the LM head): dot products over A in its own precision
      b = this.productOperand(b, c, "unit");
      this.line(c, `tcrt::mv_rowA(${M}, ${K}, ${a.ptr}, ${wcode[a.precision]}, ${M === 1 ? K : a.strides[0]}, ${b.ptr}, ${P});`);
    } else if (integer && a.precision === "int8" && b.precision === "int8" && kind === 1 && unitCols(a)) {
      // int8 {M,K}·{K} with contiguous rows (the int8 LM head): vpmaddwd dot products, rows split across threads
      this.line(c, `tcrt::mv_i8(${M}, ${K}, ${a.ptr}, ${M === 1 ? K : a.strides[0]}, ${b.ptr}, ${normStrides(b.shape, b.strides)[0]}, ${P});`);
    } else if (integer && a.precision === "int8" && b.precision === "int8" && kind !== 1 && unitCols(b)) {
      const [as0, as1] = kind === 2 ? [0, a.strides[0]] : a.strides;
      this.line(c, `tcrt::mm_i8(${M}, ${K}, ${N}, ${a.ptr}, ${as0}, ${as1}, ${b.ptr}, ${b.strides[0]}, ${P});`);
    } else {
      if (!integer) {
        const exact = !!this.opts.exactMmul;
        a = this.productOperand(a, c, exact ? "any" : "unit");
        b = this.productOperand(b, c, exact ? "any" : "unit");
      }
      const [as0, as1] = kind === 2 ? [0, a.strides[0]] : a.strides;
      const [bs0, bs1] = kind === 1 ? [b.strides[0], 0] : b.strides;
      const args = `${M}, ${K}, ${N}, ${a.ptr}, ${as0}, ${as1}, ${b.ptr}, ${bs0}, ${bs1}`;
      if (integer) this.line(c, `tcrt::mm_int(${args}, ${P});`);
      else if (this.opts.exactMmul) this.line(c, `tcrt::mm_exact(${args}, ${P});`);
      else this.line(c, `tcrt::mm_f32(${kind}, ${args}, ${P});`);
    }
    // out = acc + product (+ C), in acc's arithmetic, then stored in acc's precision
    const twoPass = c.facts.twoPassMmuls.has(s);
    const Q = twoPass ? this.temp(c, integer ? "int32_t" : "float", M * N) : undefined;
    const cIdx = (idx: string[]) => (cc ? bcast(cc.shape, idx) : []);
    this.loops(c, acc.shape, (idx) => {
      const k = rmIndex(idx, acc.shape);
      const av = load(acc.precision, `${acc.ptr}[${addr(idx, acc.strides)}]`);
      let o = integer ? `tcrt::iadd(${av}, ${P}[${k}])` : this.opts.exactMmul ? `(float)((double)${av} + ${P}[${k}])` : `(${av} + ${P}[${k}])`;
      if (cc) {
        const cv = load(cc.precision, `${cc.ptr}[${addr(cIdx(idx), cc.strides)}]`);
        o = integer ? `tcrt::iadd(${o}, ${cv})` : `(${o} + ${cv})`;
      }
      if (Q) this.line(c, `${Q}[${k}] = ${o};`);
      else this.line(c, `${acc.ptr}[${addr(idx, acc.strides)}] = ${store(acc.precision, integer ? "i32" : "f32", o)};`);
    });
    if (Q) this.loops(c, acc.shape, (idx) => this.line(c, `${acc.ptr}[${addr(idx, acc.strides)}] = ${store(acc.precision, integer ? "i32" : "f32", `${Q}[${rmIndex(idx, acc.shape)}]`)};`));
  }

  private lookup(s: IR.Stmt & { kind: "lookup" }, c: Ctx): void {
    const dst = this.view(s.dst, c), table = this.view(s.table, c), idx = this.view(s.idx, c);
    const [V, D] = table.shape;
    const n = idx.shape.length === 0 ? 1 : idx.shape[0];
    const kind = table.precision === "int8" || table.precision === "int32" ? "i32" : "f32";
    const fid = this.fault(s.span, (t) => `LOOKUP index ${t} is out of range for a table of ${V} rows`);
    const r = this.fresh("r"), t = this.fresh("t"), j = this.fresh("j");
    this.line(c, `for (int ${r} = 0; ${r} < ${n}; ++${r}) {`);
    this.line(c, `  const int32_t ${t} = ${idx.ptr}[${idx.shape.length ? `${r} * ${idx.strides[0]}` : "0"}];`);
    this.line(c, `  if (!(${t} >= 0 && ${t} < ${V})) return tcrt::fault(F, ${fid}, ${t});`);
    this.line(c, `}`);
    const dRow = dst.shape.length === 2 ? `${r} * ${dst.strides[0]} + ` : "";
    const dCol = dst.strides[dst.shape.length - 1];
    this.line(c, `for (int ${r} = 0; ${r} < ${n}; ++${r}) {`);
    this.line(c, `  const int32_t ${t} = ${idx.ptr}[${idx.shape.length ? `${r} * ${idx.strides[0]}` : "0"}];`);
    this.line(c, `  for (int ${j} = 0; ${j} < ${D}; ++${j}) ${dst.ptr}[${dRow}${j} * ${dCol}] = ${store(dst.precision, kind, load(table.precision, `${table.ptr}[(int64_t)${t} * ${table.strides[0]} + ${j} * ${table.strides[1]}]`))};`);
    this.line(c, `}`);
  }

  private causalMask(s: IR.Stmt & { kind: "causal_mask" }, c: Ctx): void {
    const x = this.view(s.target, c);
    const off = this.scalarInt(s.offset, c);
    const rank = x.shape.length;
    const C = x.shape[rank - 1], R = rank >= 2 ? x.shape[rank - 2] : 1;
    const neg = x.precision === "f32" ? "(-std::numeric_limits<float>::infinity())" : x.precision === "f16" ? "(uint16_t)0xfc00u" : "(uint16_t)0xff80u";
    const outer = x.shape.slice(0, Math.max(0, rank - 2));
    const cs = x.strides[rank - 1], rs = rank >= 2 ? x.strides[rank - 2] : 0;
    this.loops(c, outer, (oidx) => {
      const base = addr(oidx, x.strides);
      const i = this.fresh("i"), j = this.fresh("j");
      this.line(c, `for (int ${i} = 0; ${i} < ${R}; ++${i}) {`);
      this.line(c, `  const int64_t f = std::max<int64_t>(0, (int64_t)${i} + ${off} + 1);`);
      this.line(c, `  for (int64_t ${j} = f; ${j} < ${C}; ++${j}) ${x.ptr}[${base} + ${i} * ${rs} + ${j} * ${cs}] = ${neg};`);
      this.line(c, `}`);
    });
  }

  private print(s: IR.Stmt & { kind: "print" }, c: Ctx): void {
    const v = this.view(s.src, c);
    const sum = this.fresh("s");
    this.line(c, `double ${sum} = 0;`);
    this.loops(c, v.shape, (idx) => this.line(c, `${sum} += (double)${load(v.precision, `${v.ptr}[${addr(idx, v.strides)}]`)};`));
    this.line(c, `if (rt->print) rt->print(${sum});`);
  }

  private call(s: IR.Stmt & { kind: "call" }, c: Ctx): void {
    const args = s.args.map((a) => this.view(a, c));
    const spec = this.specialize(s.kernel, args.map((a) => a.strides));
    this.line(c, "if (tcrt::interrupted(rt)) return tcrt::interrupt(F);");
    this.line(c, `if (const int rc = ${spec.name}(${[...args.map((a) => a.ptr), "rt", "F"].join(", ")})) return rc;`);
  }

  private loop(s: IR.Stmt & { kind: "loop" }, c: Ctx): void {
    const start = this.scalarInt(s.start, c), end = this.scalarInt(s.end, c), step = this.scalarInt(s.step, c);
    const fid = this.fault(s.step.span, (v) => `the loop step must be positive, got ${v}`);
    if (!(s.step.kind === "const" && s.step.value > 0)) this.line(c, `if (${step} <= 0) return tcrt::fault(F, ${fid}, ${step});`);
    const it = this.fresh("it");
    const par = c.facts.parallel.get(s);
    if (!par) {
      this.line(c, `for (int64_t ${it} = ${start}; ${it} < ${end}; ${it} += ${step}) {`);
      c.depth++;
      this.line(c, "if (tcrt::interrupted(rt)) return tcrt::interrupt(F);");
      this.line(c, `const int32_t lv${s.v.slot} = (int32_t)${it}; (void)lv${s.v.slot};`);
      this.block(s.body, c);
      c.depth--;
      this.line(c, "}");
      return;
    }
    // Iterations write disjoint slices: one lambda per iteration, run across threads when it pays.
    const body = this.fresh("body");
    this.line(c, `auto ${body} = [&](int64_t ${it}, tcrt::Fault* F) -> int {`);
    c.depth++;
    this.line(c, `const int32_t lv${s.v.slot} = (int32_t)${it}; (void)lv${s.v.slot};`);
    for (const v of par.privateLocals) this.line(c, `${CT[v.type.precision]}* const L${v.slot} = tl_k${c.kid}_L${v.slot}; (void)L${v.slot};`);
    this.block(s.body, c);
    this.line(c, "return 0;");
    c.depth--;
    this.line(c, "};");
    const cnt = this.fresh("n");
    this.line(c, `const int64_t ${cnt} = ${end} > ${start} ? ((int64_t)${end} - ${start} + ${step} - 1) / ${step} : 0;`);
    // the bytes a parameter's view spans under this specialization's strides
    const extent = (p: IR.TensorVar) => {
      const st = c.spec.strides[p.slot];
      const span = p.type.shape.reduce((acc, d, i) => acc + (d - 1) * st[i], 0) + 1;
      return `p${p.slot}, ${span * bytesPerElement(p.type.precision)}`;
    };
    const checks = par.overlapChecks.map(([x, y]) => `tcrt::disjoint(${extent(x)}, ${extent(y)})`);
    this.line(c, `if (${[`${cnt} >= 2`, "tcrt::can_parallel()", ...checks].join(" && ")}) {`);
    this.line(c, `  if (const int rc = tcrt::par_for(${cnt}, [&](int64_t k, tcrt::Fault* f) { return ${body}((int64_t)${start} + k * ${step}, f); }, rt, F)) return rc;`);
    this.line(c, "} else {");
    this.line(c, `  for (int64_t ${it} = ${start}; ${it} < ${end}; ${it} += ${step}) {`);
    this.line(c, "    if (tcrt::interrupted(rt)) return tcrt::interrupt(F);");
    this.line(c, `    if (const int rc = ${body}(${it}, F)) return rc;`);
    this.line(c, "  }");
    this.line(c, "}");
  }

  // ---- main() for `tensorcore compile --main` ------------------------------------------------------------

  private emitMain(k: IR.Kernel): string {
    const id = this.kid(k);
    const lines: string[] = ["", "// main: parameters from weights/<name>.bin (raw little-endian, row-major; missing: 0.5)"];
    lines.push("static void tc_print_line(double s) { std::printf(\"%.6g\\n\", s); }");
    lines.push("int main() {");
    const half: Record<Precision, string> = { f32: "0.5f", f16: "(uint16_t)0x3800u", bf16: "(uint16_t)0x3f00u", int8: "(int8_t)0", int32: "0" };
    k.params.forEach((p, i) => {
      const n = elementCount(p.type.shape), t = CT[p.type.precision], bytes = n * bytesPerElement(p.type.precision);
      const name = sanitize(p.name); // identifiers are [A-Za-z_][A-Za-z0-9_]*; sanitize() keeps only [A-Za-z0-9_]
      lines.push(`  std::vector<${t}> b${i}(${n}, ${half[p.type.precision]});`);
      lines.push(`  if (std::FILE* f = std::fopen("weights/${name}.bin", "rb")) {`);
      lines.push(`    const size_t got = std::fread(b${i}.data(), 1, ${bytes}, f); std::fclose(f);`);
      lines.push(`    if (got != ${bytes}) { std::fprintf(stderr, "weights/${name}.bin: expected ${bytes} bytes\\n"); return 1; }`);
      lines.push("  }");
    });
    const offs = `  const int32_t offs[${Math.max(1, k.params.length)}] = {0};`;
    lines.push(offs, "  int32_t fault[3] = {0, 0, 0};");
    lines.push(`  const int rc = tc_entry_${id}(${[...k.params.map((_, i) => `b${i}.data()`), "offs", "nullptr", "tc_print_line", "fault"].join(", ")});`);
    const table = this.faults.map((f) => {
      const p = f.span.file.position(f.span.start);
      return `{${p.line}, ${p.col}}`;
    });
    lines.push(`  static const int where[][2] = {{0, 0}${table.length ? ", " + table.join(", ") : ""}};`);
    lines.push("  if (rc == 2) { std::fprintf(stderr, \"interrupted\\n\"); return 1; }");
    lines.push("  if (rc) { std::fprintf(stderr, \"runtime error at line %d, column %d (fault %d, value %d)\\n\", where[fault[0]][0], where[fault[0]][1], fault[0], fault[1]); return 1; }");
    lines.push("  return 0;", "}");
    return lines.join("\n");
  }
}

/**
 * The profile counters of a profiling build: per slot a call count and nanoseconds, added atomically
 * (statements inside parallel batch loops run on several threads, so their times are thread-time).
 */
function profileRuntime(slots: number): { inner: string[]; exported: string[] } {
  const n = Math.max(1, 2 * slots);
  return {
    inner: [
      `static uint64_t tc_prof[${n}];`,
      "static inline uint64_t tc_prof_now() { return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count(); }",
      "static inline void tc_prof_add(int i, uint64_t t0) {",
      "  const uint64_t dt = tc_prof_now() - t0;",
      "  __atomic_fetch_add(&tc_prof[2 * i], (uint64_t)1, __ATOMIC_RELAXED);",
      "  __atomic_fetch_add(&tc_prof[2 * i + 1], dt, __ATOMIC_RELAXED);",
      "}",
    ],
    exported: [
      `TC_EXPORT int32_t tc_profile_read(double* out, int32_t n) { for (int32_t i = 0; i < n && i < ${n}; i++) out[i] = (double)__atomic_load_n(&tc_prof[i], __ATOMIC_RELAXED); return ${n}; }`,
      `TC_EXPORT void tc_profile_reset() { for (int32_t i = 0; i < ${n}; i++) __atomic_store_n(&tc_prof[i], (uint64_t)0, __ATOMIC_RELAXED); }`,
    ],
  };
}

/** Every kernel reachable from these (callees first). */
export function closure(kernels: IR.Kernel[]): IR.Kernel[] {
  const out: IR.Kernel[] = [];
  const seen = new Set<IR.Kernel>();
  const visit = (k: IR.Kernel) => {
    if (seen.has(k)) return;
    seen.add(k);
    for (const c of k.callees) visit(c);
    out.push(k);
  };
  kernels.forEach(visit);
  return out;
}

function addr(idx: string[], strides: number[]): string {
  const t = idx.map((x, a) => (x === "0" ? "" : strides[a] === 1 ? x : `${x} * ${strides[a]}`)).filter((s) => s);
  return t.length ? t.join(" + ") : "0";
}

function rmIndex(idx: string[], shape: number[]): string {
  return addr(idx, rowMajorStrides(shape));
}

function lineMap(code: string, spans: Span[]): EmittedUnit["stmtLines"] {
  const out: EmittedUnit["stmtLines"] = [];
  const open = new Map<number, number>();
  code.split("\n").forEach((l, i) => {
    let m = /\/\/ @stmt (\d+)$/.exec(l);
    if (m) open.set(+m[1], i + 1);
    m = /\/\/ @end (\d+)$/.exec(l);
    if (m) out.push({ span: spans[+m[1]], first: open.get(+m[1])!, last: i + 1 });
  });
  return out;
}

/** Emit one translation unit for these kernels. */
export function emitCpp(kernels: IR.Kernel[], opts: EmitOptions = {}): EmittedUnit {
  return new Emitter(opts).emit(kernels);
}
