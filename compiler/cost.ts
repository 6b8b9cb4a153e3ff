// The work of one execution of a statement, from the IR alone: bytes it reads and writes and the
// arithmetic operations it performs. Shapes and precisions are static, so each statement's cost per
// execution is a constant; a profiler multiplies it by how often the statement ran (the back ends
// count that). Both back ends are charged by these same rules, so their reports agree.
//
// Rules (docs/performance.md, "The profiler"):
//  * bytes: every tensor operand is read once per execution and every destination written once, at
//    its precision's size (f32/int32 4, f16/bf16 2, int8 1), counting the operand's own elements (a
//    broadcast operand is read once, not once per use). This is the traffic a perfect cache would
//    leave: a lower bound on what the statement moves.
//  * MMUL/MADD acc += A·B (+ C) with A {M, K} and B {K, N} (a vector operand: M = 1 or N = 1):
//    2·M·K·N FLOPs (a multiply and an add per term), plus M·N for MADD's C; reads A, B, C and acc,
//    writes acc.
//  * elementwise expressions: 1 FLOP per result element per operator (+ - * / %, negation, EXP, LOG,
//    SQRT, TANH, ABS, ACT, MAXIMUM, MINIMUM), a transcendental counting as one; TRANSPOSE and
//    precision conversions are free.
//  * reductions along the last axis (SUM, MAX, SUMALL): 1 per input element; MEAN: that plus 1 per
//    result element; SOFTMAX: 5 per element (max, subtract, exp, sum, divide).
//  * LOOKUP: reads the selected rows and the indices, writes dst; no FLOPs.
//  * CAUSAL_MASK: writes its target (an upper bound: only the masked part is stored); no FLOPs.
//  * REDUCE(x) (print): reads x, 1 FLOP per element.
//  * zeroing a declared local: writes it. A loop or a call costs nothing itself: the statements it
//    runs are charged where they run (a call statement's row shows its callee's cost per call times
//    its calls).
// Integer operations count as FLOPs too ("operations" would be the exact word).

import * as IR from "./ir.js";
import { bytesPerElement, elementCount } from "./types.js";

export interface Cost {
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

export const ZERO_COST: Readonly<Cost> = Object.freeze({ flops: 0, bytesRead: 0, bytesWritten: 0 });

const viewBytes = (v: IR.View): number => elementCount(v.shape) * bytesPerElement(v.precision);

/** FLOPs and bytes read of evaluating an expression once (every view leaf read once). */
export function exprCost(e: IR.Expr): { flops: number; bytesRead: number } {
  switch (e.kind) {
    case "const":
    case "loopvar":
      return { flops: 0, bytesRead: 0 };
    case "view":
      return { flops: 0, bytesRead: viewBytes(e.view) };
    case "neg": {
      const o = exprCost(e.operand);
      return { flops: o.flops + elementCount(e.shape), bytesRead: o.bytesRead };
    }
    case "binary": {
      const l = exprCost(e.left), r = exprCost(e.right);
      return { flops: l.flops + r.flops + elementCount(e.shape), bytesRead: l.bytesRead + r.bytesRead };
    }
    case "call": {
      // ACT's second argument is the activation kind, a constant
      const args = e.fn === "ACT" ? [e.args[0]] : e.args;
      let flops = 0, bytesRead = 0;
      for (const a of args) { const c = exprCost(a); flops += c.flops; bytesRead += c.bytesRead; }
      const n = elementCount(e.shape), input = elementCount(args[0].shape);
      flops += CALL_FLOPS[e.fn](n, input);
      return { flops, bytesRead };
    }
  }
}

/** FLOPs of a pure function given its result's and its (first) operand's element counts. */
const CALL_FLOPS: Record<IR.PureFn, (out: number, input: number) => number> = {
  EXP: (n) => n, LOG: (n) => n, SQRT: (n) => n, TANH: (n) => n, ABS: (n) => n, ACT: (n) => n,
  MAXIMUM: (n) => n, MINIMUM: (n) => n,
  TRANSPOSE: () => 0,
  SUM: (_, i) => i, MAX: (_, i) => i, SUMALL: (_, i) => i,
  MEAN: (n, i) => i + n,
  SOFTMAX: (n) => 5 * n,
};

/** M, K, N of a product acc += A·B (vector operands as 1-row or 1-column matrices). */
export function productDims(s: IR.Stmt & { kind: "mmul" }): { m: number; k: number; n: number } {
  const { a, b } = IR.mmulShapes(s);
  if (a.length === 2 && b.length === 2) return { m: a[0], k: a[1], n: b[1] };
  if (a.length === 2) return { m: a[0], k: a[1], n: 1 }; // matrix × vector
  if (b.length === 2) return { m: 1, k: b[0], n: b[1] }; // vector × matrix
  return { m: 1, k: a[0], n: 1 };
}

/** The cost of one execution of `s` itself (loops and calls: nothing; see the header). */
export function stmtCost(s: IR.Stmt): Cost {
  switch (s.kind) {
    case "assign": {
      const e = exprCost(s.src);
      return { flops: e.flops, bytesRead: e.bytesRead, bytesWritten: viewBytes(s.dst) };
    }
    case "zero":
      return { flops: 0, bytesRead: 0, bytesWritten: elementCount(s.target.type.shape) * bytesPerElement(s.target.type.precision) };
    case "mmul": {
      const { m, k, n } = productDims(s);
      const c = s.c ? viewBytes(s.c) : 0;
      return { flops: 2 * m * k * n + (s.c ? m * n : 0), bytesRead: viewBytes(s.a) + viewBytes(s.b) + c + viewBytes(s.acc), bytesWritten: viewBytes(s.acc) };
    }
    case "lookup": {
      const rows = elementCount(s.dst.shape) * bytesPerElement(s.table.precision);
      return { flops: 0, bytesRead: rows + viewBytes(s.idx), bytesWritten: viewBytes(s.dst) };
    }
    case "causal_mask":
      return { flops: 0, bytesRead: 0, bytesWritten: viewBytes(s.target) };
    case "print":
      return { flops: elementCount(s.src.shape), bytesRead: viewBytes(s.src), bytesWritten: 0 };
    case "show": {
      // charged as what the compiled back end runs for it: the value stored into an output tensor
      // of the shown view's precision, or of the expression's compute precision
      const e = exprCost(s.expr);
      const bytes = s.expr.kind === "view" ? viewBytes(s.expr.view) : elementCount(s.expr.shape) * 4;
      return { flops: e.flops, bytesRead: e.bytesRead, bytesWritten: bytes };
    }
    case "loop":
    case "call":
      return { ...ZERO_COST };
  }
}

/** Statements whose work is their own (not the statements they contain or call). */
export const isLeaf = (s: IR.Stmt): boolean => s.kind !== "loop" && s.kind !== "call";
