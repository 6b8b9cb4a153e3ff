// The catalogue of intrinsics: one row per intrinsic with its forms, arity, documentation, the
// typing rule of its expression form and the IR operation it lowers to. The checker takes arity,
// typing and lowering from here; the Jupyter kernel completion and inspection; docs/language.md
// has a row for each (tests/catalogue.test.ts checks it).
//
// The IR's pure functions (IR.PureFn) are derived from this table, and every back end renders
// them through a table typed `Record<IR.PureFn, ...>` (interpreter/interpreter.ts, the C++
// emitter), so an intrinsic added here with a new operation is a compile error until every back
// end has it. What each operation computes is defined once, in interpreter/ops.ts.

import { broadcastShapes, ComputeKind } from "./types.js";

/** The operand of a typing rule: its shape and compute kind. */
export interface Operand { shape: number[]; compute: ComputeKind }
/** A typing rule's answer: the result's shape and compute kind, or what is wrong. */
export type Typed = Operand | { error: string };

export interface IntrinsicRow {
  forms: readonly string[];
  summary: string;
  /** Argument counts of the statement form (absent: no statement form). */
  statement?: readonly number[];
  /** The expression form: argument count, and the IR pure function it lowers to. */
  expression?: { arity: number; fn: string };
  /** Operations that are not pure functions: the IR statement kinds it lowers to. */
  lowersTo?: readonly string[];
  /** A pure function its statement form lowers to, without an expression form (REDUCE: SUMALL). */
  pure?: string;
}

export const INTRINSICS = {
  LOAD: { forms: ["LOAD(dst, src);"], summary: "Copy src into dst, a TileReg tensor of the same shape.", statement: [2], lowersTo: ["assign"] },
  STORE: { forms: ["STORE(dst, src);"], summary: "Copy the TileReg tensor src out to dst (Global memory), same shape.", statement: [2], lowersTo: ["assign"] },
  MMUL: { forms: ["MMUL(acc, A, B);", "MMUL(acc, A, TRANSPOSE(B));"], summary: "acc += A·B (matrix×matrix, matrix×vector or vector×matrix). acc, A and B must be TileReg. f32/f16/bf16 operands accumulate in f32; int8/int32 operands into an int32 acc. A 2-D operand written TRANSPOSE(x) is x read transposed in place, without a copy (A·xᵀ: scores against rows of cached keys).", statement: [3], lowersTo: ["mmul"] },
  MADD: { forms: ["MADD(acc, A, B, C);"], summary: "acc += A·B + C, with MMUL's rules; C broadcasts to acc's shape.", statement: [4], lowersTo: ["mmul"] },
  REDUCE: { forms: ["REDUCE(x);", "REDUCE(dst, src);"], summary: "REDUCE(x) prints the sum of all elements of x (%.6g). REDUCE(dst, src) writes that sum into every element of dst.", statement: [1, 2], lowersTo: ["print", "assign"], pure: "SUMALL" },
  SUM: { forms: ["SUM(dst, src);", "SUM(x)"], summary: "Sum along the last axis. The expression keeps the axis with length 1; dst may drop it.", statement: [2], expression: { arity: 1, fn: "SUM" } },
  MAX: { forms: ["MAX(dst, src);", "MAX(x)"], summary: "Maximum along the last axis. The expression keeps the axis with length 1; dst may drop it.", statement: [2], expression: { arity: 1, fn: "MAX" } },
  MEAN: { forms: ["MEAN(dst, src);", "MEAN(x)"], summary: "Mean along the last axis. The expression keeps the axis with length 1; dst may drop it.", statement: [2], expression: { arity: 1, fn: "MEAN" } },
  SOFTMAX: { forms: ["SOFTMAX(x);", "SOFTMAX(dst, src);", "SOFTMAX(x)"], summary: "Softmax along the last axis, numerically stable: exp(x - max) / sum.", statement: [1, 2], expression: { arity: 1, fn: "SOFTMAX" } },
  LOOKUP: { forms: ["LOOKUP(dst, table, idx);"], summary: "Embedding lookup: dst = table[idx] for an int32 idx of shape {} or {1}; for idx {N}, dst {N, D} gets N rows.", statement: [3], lowersTo: ["lookup"] },
  EXP: { forms: ["EXP(x);", "EXP(dst, src);", "EXP(x)"], summary: "Elementwise e^x (in place as a statement).", statement: [1, 2], expression: { arity: 1, fn: "EXP" } },
  LOG: { forms: ["LOG(x);", "LOG(x)"], summary: "Elementwise natural logarithm.", statement: [1, 2], expression: { arity: 1, fn: "LOG" } },
  SQRT: { forms: ["SQRT(x);", "SQRT(dst, src);", "SQRT(x)"], summary: "Elementwise square root (in place as a statement).", statement: [1, 2], expression: { arity: 1, fn: "SQRT" } },
  TANH: { forms: ["TANH(x);", "TANH(x)"], summary: "Elementwise hyperbolic tangent.", statement: [1, 2], expression: { arity: 1, fn: "TANH" } },
  ABS: { forms: ["ABS(x);", "ABS(x)"], summary: "Elementwise absolute value.", statement: [1, 2], expression: { arity: 1, fn: "ABS" } },
  MAXIMUM: { forms: ["MAXIMUM(a, b)"], summary: "Elementwise maximum of two operands, with broadcasting.", expression: { arity: 2, fn: "MAXIMUM" } },
  MINIMUM: { forms: ["MINIMUM(a, b)"], summary: "Elementwise minimum of two operands, with broadcasting.", expression: { arity: 2, fn: "MINIMUM" } },
  TRANSPOSE: { forms: ["TRANSPOSE(dst, src);", "TRANSPOSE(x)"], summary: "2-D transpose: dst has src's shape swapped.", statement: [2], expression: { arity: 1, fn: "TRANSPOSE" } },
  ACT: { forms: ["ACT(x, kind);", "ACT(x, kind)"], summary: "Activation, in place as a statement. kind: GELU or 1 (tanh form, GPT-2's gelu_new), GELU_ERF or 3 (exact), SILU or 2, RELU or 4.", statement: [2], expression: { arity: 2, fn: "ACT" } },
  CAUSAL_MASK: { forms: ["CAUSAL_MASK(x, offset);"], summary: "Set x[..., i, j] to -infinity where j - i > offset (for a vector, i = 0): the causal mask of a score tile whose first key is `offset` positions after its first query.", statement: [2], lowersTo: ["causal_mask"] },
  SYNC: { forms: ["SYNC(x);"], summary: "A barrier on x. Nothing to do on a CPU.", statement: [1], lowersTo: [] },
} as const satisfies Record<string, IntrinsicRow>;

export type IntrinsicName = keyof typeof INTRINSICS;
type Rows = (typeof INTRINSICS)[IntrinsicName];

/** The IR's pure functions: the expression forms' operations (REDUCE's is SUMALL, the sum of everything). */
export type PureFn = Rows extends infer R ? R extends { expression: { fn: infer F } } ? F : R extends { pure: infer F } ? F : never : never;

export const INTRINSIC_NAMES: ReadonlySet<string> = new Set(Object.keys(INTRINSICS));

export function intrinsic(name: string): IntrinsicRow | undefined {
  return Object.prototype.hasOwnProperty.call(INTRINSICS, name) ? (INTRINSICS as Record<string, IntrinsicRow>)[name] : undefined;
}

/** The rows as a list (completion, inspection, docs). */
export const INTRINSIC_LIST: { name: IntrinsicName; row: IntrinsicRow }[] = (Object.keys(INTRINSICS) as IntrinsicName[]).map((name) => ({ name, row: INTRINSICS[name] }));

/**
 * The typing rule of each pure function: the result's shape and compute kind from its operands'.
 * Elementwise functions keep the operand's shape; reductions keep the last axis with length 1.
 */
export const PURE_TYPING: Record<PureFn, (x: Operand, y?: Operand) => Typed> = {
  EXP: (x) => floatOf(x), LOG: (x) => floatOf(x), SQRT: (x) => floatOf(x), TANH: (x) => floatOf(x), ACT: (x) => floatOf(x),
  ABS: (x) => ({ shape: x.shape, compute: x.compute }),
  SUM: (x) => lastAxis("SUM", x, x.compute), MAX: (x) => lastAxis("MAX", x, x.compute), MEAN: (x) => lastAxis("MEAN", x, "f32"),
  SOFTMAX: (x) => (x.shape.length === 0 ? rankError("SOFTMAX") : { shape: x.shape, compute: "f32" }),
  SUMALL: (x) => ({ shape: [], compute: x.compute }),
  TRANSPOSE: (x) => (x.shape.length !== 2 ? { error: `TRANSPOSE needs a 2-D operand, got shape {${x.shape.join(", ")}}` } : { shape: [x.shape[1], x.shape[0]], compute: x.compute }),
  MAXIMUM: (x, y) => elementwise2("MAXIMUM", x, y!), MINIMUM: (x, y) => elementwise2("MINIMUM", x, y!),
};

function floatOf(x: Operand): Typed {
  return { shape: x.shape, compute: "f32" };
}
function rankError(fn: string): Typed {
  return { error: `${fn} works along the last axis and needs a tensor of rank 1 or more` };
}
function lastAxis(fn: string, x: Operand, compute: ComputeKind): Typed {
  return x.shape.length === 0 ? rankError(fn) : { shape: [...x.shape.slice(0, -1), 1], compute };
}
function elementwise2(fn: string, x: Operand, y: Operand): Typed {
  const shape = broadcastShapes(x.shape, y.shape);
  if (!shape) return { error: `${fn}: shapes {${x.shape.join(", ")}} and {${y.shape.join(", ")}} do not broadcast` };
  return { shape, compute: x.compute === "i32" && y.compute === "i32" ? "i32" : "f32" };
}
export const ACT_KINDS: Record<string, "gelu_tanh" | "gelu_erf" | "silu" | "relu"> = {
  GELU: "gelu_tanh", GELU_TANH: "gelu_tanh", GELU_ERF: "gelu_erf", SILU: "silu", RELU: "relu",
};
export const ACT_CODES: Record<number, "gelu_tanh" | "gelu_erf" | "silu" | "relu"> = { 1: "gelu_tanh", 2: "silu", 3: "gelu_erf", 4: "relu" };

export const KEYWORDS = ["kernel", "type", "const", "target", "batch", "step", "Tensor"];
/** Names every program can use: INF (+infinity) and the activation kinds. */
export const BUILTIN_CONSTS: Record<string, number> = { INF: Infinity };
