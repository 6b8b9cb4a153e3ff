// The typed, resolved program: what the checker produces and what every back end consumes
// (the reference interpreter, the C++/Eigen emitter, the Jupyter kernel). Nothing here is
// re-derived by a back end: shapes, precisions and resolved names are all explicit.

import type { PureFn as CataloguePureFn } from "./intrinsics.js";
import { Span } from "./source.js";
import { ComputeKind, Precision, Space, TensorType } from "./types.js";

/** A tensor storage slot: a kernel parameter, a local declared in a kernel, or a session tensor. */
export interface TensorVar {
  slot: number; // index in its kernel's frame (params first, then locals); -1 for session tensors
  name: string;
  type: TensorType;
  role: "param" | "local" | "session";
  span: Span;
}

/** An integer loop variable of a batch loop. */
export interface LoopVar {
  slot: number; // index in its kernel's loop-variable frame
  name: string;
  span: Span;
}

/** One indexing step on one axis of the current view. */
export type IndexSel =
  | { kind: "all" }
  | { kind: "at"; index: Expr } // drops the axis
  | { kind: "window"; start: Expr; length: number }; // keeps the axis with a static length

/**
 * A reference to (part of) a tensor: the base tensor, then indexing steps applied in order.
 * Each step applies to the axes of the view produced by the previous steps (x[a][b]).
 */
export interface View {
  base: TensorVar;
  steps: IndexSel[][];
  shape: number[];
  precision: Precision;
  space: Space;
  /** True when every index is a compile-time constant (bounds were checked statically). */
  isStatic: boolean;
  span: Span;
}

/** The pure functions expressions call: derived from the intrinsic catalogue (compiler/intrinsics.ts). */
export type PureFn = CataloguePureFn;

export type ActKind = "gelu_tanh" | "gelu_erf" | "silu" | "relu";

export type Expr = (
  | { kind: "const"; value: number } // a literal or a folded const; compute says int or float
  | { kind: "view"; view: View }
  | { kind: "loopvar"; v: LoopVar }
  | { kind: "neg"; operand: Expr }
  | { kind: "binary"; op: "+" | "-" | "*" | "/" | "%"; left: Expr; right: Expr }
  | { kind: "call"; fn: PureFn; args: Expr[]; act?: ActKind }
) & {
  shape: number[];
  compute: ComputeKind;
  span: Span;
};

export type Stmt = (
  /** dst = src, elementwise with broadcasting; the value is converted to dst's precision on store. */
  | { kind: "assign"; dst: View; src: Expr; squeeze: boolean }
  /** Set every element of a tensor to zero (declarations). */
  | { kind: "zero"; target: TensorVar }
  /** acc += a · b (+ c): matrix×matrix, matrix×vector or vector×matrix. transA/transB: the 2-D
   *  operand as written inside TRANSPOSE(...), read transposed in place (mmulShapes gives the product's shapes). */
  | { kind: "mmul"; acc: View; a: View; b: View; c?: View; transA?: boolean; transB?: boolean }
  /** dst = rows of table at idx (idx {}, {1} or {N}). */
  | { kind: "lookup"; dst: View; table: View; idx: View }
  /** x[..., i, j] = -inf where j - i > offset (rank 1: i = 0). */
  | { kind: "causal_mask"; target: View; offset: Expr }
  /** Print the sum of every element of a tensor (the prototype's REDUCE(x)). */
  | { kind: "print"; src: View }
  | { kind: "loop"; v: LoopVar; start: Expr; end: Expr; step: Expr; body: Stmt[] }
  | { kind: "call"; kernel: Kernel; args: View[] }
  /** Top level only: the value of a bare expression, shown by the session. */
  | { kind: "show"; expr: Expr }
) & { span: Span };

export interface Kernel {
  name: string;
  params: TensorVar[];
  locals: TensorVar[];
  body: Stmt[];
  span: Span;
  /** Kernels this one calls (directly), for ordering and cycle checks. */
  callees: Kernel[];
  /** Number of loop-variable slots a frame of this kernel needs. */
  loopSlots: number;
}

export interface Target {
  name: string;
  settings: Record<string, string | number>;
  span: Span;
}

/** The checked program. `topLevel` holds the program's top-level statements, run in a session. */
export interface Program {
  consts: Map<string, number>;
  types: Map<string, TensorType>;
  kernels: Kernel[]; // definition order; callees always appear before callers
  kernelByName: Map<string, Kernel>;
  /** Session tensors the top-level statements declare or use. */
  sessionVars: TensorVar[];
  topLevel: Stmt[];
  /** Loop-variable slots the top-level statements need. */
  topLevelLoopSlots: number;
  target?: Target;
}

/** The shapes an mmul multiplies: its operands' views, swapped where written TRANSPOSE(...). */
export function mmulShapes(s: { a: View; b: View; transA?: boolean; transB?: boolean }): { a: number[]; b: number[] } {
  const swap = (v: View, t?: boolean) => (t ? [v.shape[1], v.shape[0]] : v.shape);
  return { a: swap(s.a, s.transA), b: swap(s.b, s.transB) };
}
