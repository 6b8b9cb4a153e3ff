// Facts about the IR that a back end needs before it decides how to compute a kernel, derived from
// the IR alone (no strides, no generated code): which tensors a kernel writes, the estimated work
// of statements, which batch loops may run their iterations at once, and which statements read
// memory they may already have overwritten (so the value must be computed completely before the
// store). The C++ emitter renders from these answers; compiler/eigen/emit-cpp.ts has no analysis.

import * as IR from "./ir.js";
import { elementCount } from "./types.js";

export type LoopStmt = IR.Stmt & { kind: "loop" };
export type AssignStmt = IR.Stmt & { kind: "assign" };
export type MmulStmt = IR.Stmt & { kind: "mmul" };

/**
 * How element `idx` of a pure function's value depends on its operands:
 * - "elementwise": on element `idx` of each operand (broadcast);
 * - "transpose": on element `[idx[1], idx[0]]` of its 2-D operand;
 * - "whole": on a whole row or the whole operand (reductions, softmax). A back end that evaluates an
 *   expression element by element computes these first, into a temporary.
 */
export type PureEval = "elementwise" | "transpose" | "whole";

export const PURE_EVAL = {
  EXP: "elementwise", LOG: "elementwise", SQRT: "elementwise", TANH: "elementwise", ABS: "elementwise", ACT: "elementwise",
  MAXIMUM: "elementwise", MINIMUM: "elementwise",
  TRANSPOSE: "transpose",
  SUM: "whole", MAX: "whole", MEAN: "whole", SUMALL: "whole", SOFTMAX: "whole",
} as const satisfies Record<IR.PureFn, PureEval>;

/** Pure functions computed inline, element by element. */
export type InlineFn = { [F in IR.PureFn]: (typeof PURE_EVAL)[F] extends "whole" ? never : F }[IR.PureFn];
/** Pure functions whose value is computed whole (into a temporary) before the elements that use it. */
export type WholeFn = Exclude<IR.PureFn, InlineFn>;

export const isWhole = (fn: IR.PureFn): fn is WholeFn => PURE_EVAL[fn] === "whole";

/** A batch loop whose iterations may run at once. */
export interface ParallelLoop {
  /** Locals the body declares (zeroes) itself: each thread needs its own storage for them. */
  privateLocals: IR.TensorVar[];
  /**
   * Pairs (written parameter, another parameter of its precision that the body touches) that must not
   * overlap in memory for the iterations to be independent: a caller may pass views of one tensor, so
   * this is checked at run time. Each unordered pair appears once.
   */
  overlapChecks: [IR.TensorVar, IR.TensorVar][];
}

/** Everything the C++ emitter needs to know about one kernel body. */
export interface KernelAnalysis {
  /** Batch loops to run in parallel. Only outermost ones: a loop inside a parallel loop stays sequential. */
  parallel: Map<LoopStmt, ParallelLoop>;
  /** Assignments whose source reads memory the store may already have overwritten: compute the value first. */
  copyAssigns: Set<AssignStmt>;
  /** MADDs whose C may alias the accumulator: compute every element of acc + A·B + C before storing any. */
  twoPassMmuls: Set<MmulStmt>;
}

export interface AnalysisOptions {
  /** Estimated element operations a batch loop needs before it is worth running in parallel (default 16384). */
  parallelThreshold?: number;
}

function assertNever(x: never): never {
  throw new Error(`internal: unhandled IR node ${JSON.stringify((x as { kind?: string }).kind)}`);
}

/** Answers for a set of kernels; results per kernel are memoized (kernels are immutable IR). */
export class Analysis {
  private readonly writes = new Map<IR.Kernel, Set<number>>();
  private readonly printMemo = new Map<IR.Kernel, boolean>();
  private readonly workMemo = new Map<IR.Kernel, number>();
  private readonly kernels = new Map<IR.Kernel, KernelAnalysis>();
  private readonly threshold: number;

  constructor(opts: AnalysisOptions = {}) {
    this.threshold = opts.parallelThreshold ?? 16384;
  }

  /** The kernel's parallel loops and alias copies. */
  kernel(k: IR.Kernel): KernelAnalysis {
    let a = this.kernels.get(k);
    if (a) return a;
    a = { parallel: new Map(), copyAssigns: new Set(), twoPassMmuls: new Set() };
    const visit = (stmts: IR.Stmt[], inParallel: boolean) => {
      for (const s of stmts) {
        if (s.kind === "assign" && assignNeedsCopy(s)) a!.copyAssigns.add(s);
        else if (s.kind === "mmul" && s.c && mayAlias(s.acc, s.c)) a!.twoPassMmuls.add(s);
        else if (s.kind === "loop") {
          const par = inParallel ? undefined : this.parallelLoop(s, k);
          if (par) a!.parallel.set(s, par);
          visit(s.body, inParallel || par !== undefined);
        }
      }
    };
    visit(k.body, false);
    this.kernels.set(k, a);
    return a;
  }

  /** Slots of the parameters a kernel writes, directly or through the kernels it calls. */
  written(k: IR.Kernel): Set<number> {
    let w = this.writes.get(k);
    if (w) return w;
    w = new Set();
    this.writes.set(k, w);
    const mark = (v: IR.View) => { if (v.base.role === "param") w!.add(v.base.slot); };
    const visit = (stmts: IR.Stmt[]) => {
      for (const s of stmts) {
        for (const v of writtenViews(s, this)) mark(v);
        if (s.kind === "loop") visit(s.body);
      }
    };
    visit(k.body);
    return w;
  }

  /** Does a kernel print, directly or through its callees? Prints stay on the calling thread, in order. */
  prints(k: IR.Kernel): boolean {
    let p = this.printMemo.get(k);
    if (p === undefined) {
      const visit = (stmts: IR.Stmt[]): boolean => stmts.some((s) => s.kind === "print" || (s.kind === "loop" && visit(s.body)) || (s.kind === "call" && this.prints(s.kernel)));
      p = visit(k.body);
      this.printMemo.set(k, p);
    }
    return p;
  }

  /**
   * Estimated element operations of these statements: elements stored × (1 + expression nodes) for
   * assignments, multiply-adds for products, 16 trips for a loop with a bound known only at run time.
   */
  work(stmts: IR.Stmt[]): number {
    let w = 0;
    for (const s of stmts) {
      switch (s.kind) {
        case "assign": w += elementCount(s.dst.shape) * (1 + exprSize(s.src)); break;
        case "mmul": { const a = IR.mmulShapes(s).a; w += elementCount(s.acc.shape) * a[a.length - 1]; break; }
        case "lookup": w += elementCount(s.dst.shape); break;
        case "causal_mask": w += elementCount(s.target.shape); break;
        case "print": w += elementCount(s.src.shape); break;
        case "zero": w += elementCount(s.target.type.shape) / 16; break;
        case "loop": {
          const trips = s.start.kind === "const" && s.end.kind === "const" && s.step.kind === "const" && s.step.value > 0
            ? Math.max(0, Math.ceil((s.end.value - s.start.value) / s.step.value)) : 16;
          w += trips * this.work(s.body);
          break;
        }
        case "call": {
          let kw = this.workMemo.get(s.kernel);
          if (kw === undefined) { kw = this.work(s.kernel.body); this.workMemo.set(s.kernel, kw); }
          w += kw;
          break;
        }
        case "show": break;
        default: assertNever(s);
      }
    }
    return w;
  }

  /**
   * May the iterations of this loop (in kernel k) run at once? Conservatively: it has at least 2
   * iterations and enough work; nothing in it prints; every tensor the body writes (other than locals
   * it declares itself) is only ever touched in the iteration's own slab, `x[i]...` or a window
   * `x[:, i*W +: L]` (L ≤ W) on one axis, the same for every access. Written parameters still need
   * the returned run-time overlap checks against the other parameters of their precision.
   */
  parallelLoop(s: LoopStmt, k: IR.Kernel): ParallelLoop | undefined {
    const trips = s.start.kind === "const" && s.end.kind === "const" && s.step.kind === "const" ? Math.ceil((s.end.value - s.start.value) / s.step.value) : Infinity;
    if (trips < 2) return undefined;
    if (this.work([s]) < this.threshold) return undefined;
    const declared = new Set<IR.TensorVar>();
    const writes: IR.View[] = [], reads: IR.View[] = [];
    let ok = true;
    const exprViews = (e: IR.Expr) => walkExpr(e, (x) => { if (x.kind === "view") { reads.push(x.view); indexViews(x.view, reads); } });
    const stepViews = (v: IR.View) => indexViews(v, reads);
    const visit = (stmts: IR.Stmt[]) => {
      for (const t of stmts) {
        switch (t.kind) {
          case "zero": declared.add(t.target); break;
          case "print": case "show": ok = false; break;
          case "assign": writes.push(t.dst); stepViews(t.dst); exprViews(t.src); break;
          case "mmul": writes.push(t.acc); stepViews(t.acc); for (const v of [t.a, t.b, ...(t.c ? [t.c] : [])]) { reads.push(v); stepViews(v); } break;
          case "lookup": writes.push(t.dst); stepViews(t.dst); for (const v of [t.table, t.idx]) { reads.push(v); stepViews(v); } break;
          case "causal_mask": writes.push(t.target); stepViews(t.target); exprViews(t.offset); break;
          case "loop": exprViews(t.start); exprViews(t.end); exprViews(t.step); visit(t.body); break;
          case "call": {
            if (this.prints(t.kernel)) { ok = false; break; }
            const cw = this.written(t.kernel);
            t.args.forEach((a, i) => { if (cw.has(i)) writes.push(a); reads.push(a); stepViews(a); });
            break;
          }
          default: assertNever(t);
        }
      }
    };
    visit(s.body);
    if (!ok) return undefined;
    // The slab of the base tensor one iteration may touch: along `axis`, elements [i·mult, i·mult + len)
    // with len ≤ mult (i = the loop variable), from `x[i]` (mult 1) or a window `x[:, i*W +: L]`. Two
    // iterations' slabs are disjoint when every access to the tensor has the same axis and mult.
    const isLoopVar = (e: IR.Expr) => e.kind === "loopvar" && e.v === s.v;
    const slab = (v: IR.View): string | undefined => {
      const group = v.steps[0] ?? [];
      for (let axis = 0; axis < group.length; axis++) {
        const sel = group[axis];
        if (sel.kind === "at" && isLoopVar(sel.index)) return `${axis}:1`;
        if (sel.kind === "window" && sel.start.kind === "binary" && sel.start.op === "*") {
          const { left, right } = sel.start;
          const mult = isLoopVar(left) && right.kind === "const" ? right.value : isLoopVar(right) && left.kind === "const" ? left.value : undefined;
          if (mult !== undefined && Number.isInteger(mult) && sel.length <= mult) return `${axis}:${mult}`;
        }
      }
      return undefined;
    };
    const shared = new Map<IR.TensorVar, string>();
    for (const v of [...writes, ...reads]) {
      if (declared.has(v.base)) continue;
      if (!writes.some((w) => w.base === v.base)) continue;
      const sl = slab(v);
      if (sl === undefined || (shared.has(v.base) && shared.get(v.base) !== sl)) return undefined;
      shared.set(v.base, sl);
    }
    // parameters that may alias a written parameter at run time
    const touched = new Set([...reads, ...writes].map((v) => v.base));
    const checks: [IR.TensorVar, IR.TensorVar][] = [];
    for (const w of shared.keys()) {
      if (w.role !== "param") continue;
      for (const p of k.params) {
        if (p === w || !touched.has(p) || p.type.precision !== w.type.precision) continue;
        if (shared.has(p) && p.slot < w.slot) continue; // pair already listed
        checks.push([w, p]);
      }
    }
    return { privateLocals: [...declared], overlapChecks: checks };
  }
}

/** The views a statement writes itself (a call: the arguments its callee writes); not those of a loop's body. */
function writtenViews(s: IR.Stmt, a: Analysis): IR.View[] {
  switch (s.kind) {
    case "assign": return [s.dst];
    case "mmul": return [s.acc];
    case "lookup": return [s.dst];
    case "causal_mask": return [s.target];
    case "call": { const cw = a.written(s.kernel); return s.args.filter((_, i) => cw.has(i)); }
    case "zero": case "print": case "loop": case "show": return [];
    default: return assertNever(s);
  }
}

/**
 * May these two views share memory? The same tensor, or two parameters of one precision (a caller
 * may pass views of one tensor for both). Locals and parameters never alias each other.
 */
export function mayAlias(a: IR.View, b: IR.View): boolean {
  if (a.base === b.base) return true;
  return a.base.role === "param" && b.base.role === "param" && a.base.type.precision === b.base.type.precision;
}

/**
 * Does an assignment, evaluated element by element into its destination, read memory the store may
 * already have overwritten? Reads inside "whole" functions (computed before the store) and in index
 * expressions (evaluated before) do not count. Reading the destination's own view at the element
 * being stored is safe (`x = x * 2`, `y[i] = y[i] + 1`); any other read of a view that may alias
 * the destination (`x[1 +: 3] = x[0 +: 3]`, `x = TRANSPOSE(x)`, `p = q` for two f32 parameters) is not.
 */
export function assignNeedsCopy(s: AssignStmt): boolean {
  // Symbolic element indices: the destination's axis a is "i<a>"; length-1 axes are always "0".
  const dstIdx = s.dst.shape.map((n, a) => (n === 1 ? "0" : `i${a}`));
  const srcIdx = s.squeeze ? [...dstIdx, "0"] : broadcastIndex(s.src.shape, dstIdx);
  const identity = sameArr(srcIdx, dstIdx);
  const dstKey = viewKey(s.dst);
  const unsafe = (e: IR.Expr, idx: string[]): boolean => {
    switch (e.kind) {
      case "const": case "loopvar": return false;
      case "view": return mayAlias(s.dst, e.view) && !(identity && sameArr(idx, dstIdx) && viewKey(e.view) === dstKey);
      case "neg": return unsafe(e.operand, broadcastIndex(e.operand.shape, idx));
      case "binary": return unsafe(e.left, broadcastIndex(e.left.shape, idx)) || unsafe(e.right, broadcastIndex(e.right.shape, idx));
      case "call": {
        const how: PureEval = PURE_EVAL[e.fn];
        if (how === "whole") return false;
        if (how === "transpose") return unsafe(e.args[0], [idx[1], idx[0]]);
        return e.args.some((x) => unsafe(x, broadcastIndex(x.shape, idx)));
      }
      default: return assertNever(e);
    }
  };
  return unsafe(s.src, srcIdx);
}

/** Broadcast a parent's element index to an operand of shape `shape` (numpy rules; length-1 axes read 0). */
export function broadcastIndex<T extends string>(shape: number[], idx: T[]): (T | "0")[] {
  const r = shape.length, n = idx.length;
  return shape.map((d, a) => (d === 1 ? "0" : idx[n - r + a]));
}

function sameArr(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Equal keys ⇒ the two views select the same elements at the same addresses (same base, same index steps). */
export function viewKey(v: IR.View): string {
  const base = `${v.base.role}${v.base.slot}`;
  if (v.steps.length === 0) return base;
  const parts = [base];
  let rank = v.base.type.shape.length;
  for (const step of v.steps) {
    const kp: string[] = [];
    let kept = 0;
    for (let axis = 0; axis < rank; axis++) {
      const sel = step[axis];
      if (!sel || sel.kind === "all") { kp.push(":"); kept++; continue; }
      if (sel.kind === "at") kp.push(`@${exprKey(sel.index)}`);
      else { kp.push(`w${exprKey(sel.start)}+${sel.length}`); kept++; }
    }
    parts.push(kp.join(","));
    rank = kept;
  }
  return parts.join("|");
}

/** A canonical string for an expression: equal keys ⇒ equal values (at one point of a kernel's execution). */
export function exprKey(e: IR.Expr): string {
  switch (e.kind) {
    case "const": return `c${e.compute}${e.value}`;
    case "loopvar": return `l${e.v.slot}`;
    case "view": return `v(${e.view.base.role}${e.view.base.slot}${JSON.stringify(e.view.steps.map((st) => st.map((s) => (s?.kind === "at" ? exprKey(s.index) : s?.kind === "window" ? `${exprKey(s.start)}+${s.length}` : ":"))))})`;
    case "neg": return `-(${exprKey(e.operand)})`;
    case "binary": return `(${exprKey(e.left)}${e.op}${exprKey(e.right)})`;
    case "call": return `${e.fn}${e.act ?? ""}(${e.args.map(exprKey).join(",")})`;
    default: return assertNever(e);
  }
}

export function walkExpr(e: IR.Expr, f: (e: IR.Expr) => void): void {
  f(e);
  if (e.kind === "neg") walkExpr(e.operand, f);
  else if (e.kind === "binary") { walkExpr(e.left, f); walkExpr(e.right, f); }
  else if (e.kind === "call") e.args.forEach((a) => walkExpr(a, f));
}

/** Views read by the index expressions of a view (recursively: an index may itself be indexed). */
function indexViews(v: IR.View, out: IR.View[]): void {
  for (const step of v.steps) for (const sel of step) {
    const e = sel?.kind === "at" ? sel.index : sel?.kind === "window" ? sel.start : undefined;
    if (e) walkExpr(e, (x) => { if (x.kind === "view") { out.push(x.view); indexViews(x.view, out); } });
  }
}

function exprSize(e: IR.Expr): number {
  let n = 0;
  walkExpr(e, () => n++);
  return n;
}
