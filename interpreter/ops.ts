// The living definition of every intrinsic: what it computes, element by element, in which
// arithmetic, and how results are stored. Plain loops, written to be read: the interpreter's fast
// product kernels (interpreter/fast/) and the C++ back end are tested against these functions.
//
// Conventions: operands are first read into compute arrays (Float32Array for f32 arithmetic,
// Int32Array for integer arithmetic), row-major. Elementwise results are rounded to f32 at every
// operation (the Float32Array store does it), exactly as C++ float arithmetic without FMA
// contraction. Sums (reductions, MMUL, softmax denominators) accumulate in double precision:
// reductions left to right, MMUL in the order matmulF32 states. A compiled back end may accumulate
// in f32 in another order (docs/compiler.md states the tolerance this implies).

import { RuntimeFault } from "../compiler/diagnostics.js";
import { ActKind } from "../compiler/ir.js";
import { Span } from "../compiler/source.js";
import { ComputeKind, elementCount } from "../compiler/types.js";
import { bf16BitsToF32, ComputeArray, encoder, f16BitsToF32 } from "../runtime/precision.js";
import { forEachOffset, isContiguous, TensorView } from "../runtime/tensor.js";

// ---- reading and writing views --------------------------------------------------------------

/** Read a view into a compute array of kind `kind` (converting precision), row-major. */
export function gather(v: TensorView, kind: ComputeKind, out: ComputeArray): ComputeArray {
  // float storage read in integer arithmetic cannot happen: the checker types it f32
  if (kind === "i32" && v.precision !== "int8" && v.precision !== "int32") throw new Error("internal: float storage read as integers");
  const d = v.data;
  const decode = v.precision === "f16" ? f16BitsToF32 : v.precision === "bf16" ? bf16BitsToF32 : undefined;
  const read = (s: number): number => (decode ? decode(d[s]) : d[s]);
  if (isContiguous(v)) for (let i = 0, n = elementCount(v.shape); i < n; i++) out[i] = read(v.offset + i);
  else forEachOffset(v, (s, i) => { out[i] = read(s); });
  return out;
}

/**
 * Store `values` (row-major, of shape `valueShape`, broadcast to the view's shape) into the view,
 * converting to its precision: f32 rounds to nearest-even (the Float32Array store), f16/bf16 round
 * to nearest-even, int8/int32 round and saturate.
 */
export function scatter(values: ComputeArray, valueShape: readonly number[], v: TensorView): void {
  const d = v.data;
  const enc = encoder(v.precision);
  const idx = broadcastIndex(valueShape, v.shape);
  if (isContiguous(v)) for (let i = 0, n = elementCount(v.shape); i < n; i++) d[v.offset + i] = enc(values[idx(i)]);
  else forEachOffset(v, (s, i) => { d[s] = enc(values[idx(i)]); });
}

/** For a row-major index into `outShape`, the row-major index into the broadcast operand. */
function broadcastIndex(shape: readonly number[], outShape: readonly number[]): (i: number) => number {
  const n = elementCount(shape);
  if (n === 1) return () => 0;
  if (n === elementCount(outShape)) return (i) => i;
  const rank = outShape.length;
  const strides: number[] = new Array(rank).fill(0);
  let acc = 1;
  for (let a = rank - 1, b = shape.length - 1; a >= 0; a--, b--) {
    const dim = b >= 0 ? shape[b] : 1;
    strides[a] = dim === 1 ? 0 : acc;
    acc *= dim;
  }
  const outStrides: number[] = new Array(rank);
  acc = 1;
  for (let a = rank - 1; a >= 0; a--) { outStrides[a] = acc; acc *= outShape[a]; }
  return (i) => {
    let r = 0;
    for (let a = 0; a < rank; a++) {
      const q = Math.floor(i / outStrides[a]) % outShape[a];
      r += q * strides[a];
    }
    return r;
  };
}

// ---- elementwise ------------------------------------------------------------------------------

type BinaryOp = "+" | "-" | "*" | "/" | "%";

/** out = a op b with numpy broadcasting, in `kind` arithmetic. Integer arithmetic wraps; division truncates. */
export function binary(op: BinaryOp, kind: ComputeKind, a: ComputeArray, aShape: readonly number[], b: ComputeArray, bShape: readonly number[],
  out: ComputeArray, outShape: readonly number[], span: Span): void {
  const ia = broadcastIndex(aShape, outShape), ib = broadcastIndex(bShape, outShape);
  for (let i = 0; i < out.length; i++) {
    const x = a[ia(i)], y = b[ib(i)];
    out[i] = kind === "f32" ? binaryF32(op, x, y) : binaryI32(op, x, y, span);
  }
}

// f32 operands, the operation in f64, rounded to f32 by the store: for + − × ÷ and % that is the
// correctly rounded f32 result.
function binaryF32(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case "+": return x + y;
    case "-": return x - y;
    case "*": return x * y;
    case "/": return x / y;
    case "%": return x % y;
  }
}

function binaryI32(op: BinaryOp, x: number, y: number, span: Span): number {
  switch (op) {
    case "+": return (x + y) | 0;
    case "-": return (x - y) | 0;
    case "*": return Math.imul(x, y);
    case "/":
      if (y === 0) throw new RuntimeFault(span, "integer division by zero");
      return Math.trunc(x / y) | 0;
    case "%":
      if (y === 0) throw new RuntimeFault(span, "integer division by zero");
      return x % y | 0;
  }
}

export function negate(kind: ComputeKind, a: ComputeArray, out: ComputeArray): void {
  if (kind === "f32") for (let i = 0; i < a.length; i++) out[i] = -a[i];
  else for (let i = 0; i < a.length; i++) out[i] = -a[i] | 0;
}

const SQRT_2_OVER_PI = Math.fround(Math.sqrt(2 / Math.PI));

/** erf(x) with relative error below 1.2e-7 (Numerical Recipes' erfc), enough for f32. */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

function activation(kind: ActKind, x: number): number {
  switch (kind) {
    // 0.5·x·(1 + tanh(y)) written as x / (1 + e^(−2y)): the same function without the cancellation
    // of 1 + tanh(y) for negative x (the tanh form returns 0 below x ≈ −7, this one the tiny value)
    case "gelu_tanh": return x / (1 + Math.exp(-2 * (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))));
    case "gelu_erf": return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
    case "silu": return x / (1 + Math.exp(-x));
    case "relu": return x > 0 ? x : 0;
  }
}

type UnaryFn = "EXP" | "LOG" | "SQRT" | "TANH" | "ABS" | "ACT";

export function unary(fn: UnaryFn, kind: ComputeKind, a: ComputeArray, out: ComputeArray, act?: ActKind): void {
  const n = a.length;
  switch (fn) {
    case "EXP": for (let i = 0; i < n; i++) out[i] = Math.exp(a[i]); return;
    case "LOG": for (let i = 0; i < n; i++) out[i] = Math.log(a[i]); return;
    case "SQRT": for (let i = 0; i < n; i++) out[i] = Math.sqrt(a[i]); return;
    case "TANH": for (let i = 0; i < n; i++) out[i] = Math.tanh(a[i]); return;
    case "ABS":
      if (kind === "i32") for (let i = 0; i < n; i++) out[i] = Math.abs(a[i]) | 0;
      else for (let i = 0; i < n; i++) out[i] = Math.abs(a[i]);
      return;
    case "ACT": for (let i = 0; i < n; i++) out[i] = activation(act!, a[i]); return;
  }
}

export function minmax(fn: "MAXIMUM" | "MINIMUM", a: ComputeArray, aShape: readonly number[], b: ComputeArray, bShape: readonly number[], out: ComputeArray, outShape: readonly number[]): void {
  const ia = broadcastIndex(aShape, outShape), ib = broadcastIndex(bShape, outShape);
  for (let i = 0; i < out.length; i++) {
    const x = a[ia(i)], y = b[ib(i)];
    // NaN propagates, as std::fmax would not; the back ends agree on this definition.
    out[i] = x !== x || y !== y ? NaN : fn === "MAXIMUM" ? (x > y ? x : y) : (x < y ? x : y);
  }
}

// ---- reductions along the last axis ---------------------------------------------------------------

/** SUM, MAX or MEAN of each row (the last axis); out has one element per row. Sums accumulate in f64. */
export function reduceLast(fn: "SUM" | "MAX" | "MEAN", kind: ComputeKind, a: ComputeArray, shape: readonly number[], out: ComputeArray): void {
  const D = shape[shape.length - 1];
  const rows = a.length / D;
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    if (fn === "MAX") {
      let m = a[base];
      for (let j = 1; j < D; j++) { const x = a[base + j]; if (x > m || x !== x) m = x; }
      out[r] = m;
    } else {
      let s = 0;
      for (let j = 0; j < D; j++) s += a[base + j];
      out[r] = fn === "MEAN" ? s / D : kind === "i32" ? s | 0 : s;
    }
  }
}

/** Sum of every element, accumulated in f64, row-major. */
export function sumAll(a: ComputeArray): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** Softmax of each row: m = max, e = exp(x - m) rounded to f32, out = e / sum(e) (sum in f64). */
export function softmaxLast(a: ComputeArray, shape: readonly number[], out: Float32Array): void {
  const D = shape[shape.length - 1];
  const rows = a.length / D;
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    let m = -Infinity;
    for (let j = 0; j < D; j++) if (a[base + j] > m) m = a[base + j];
    let s = 0;
    for (let j = 0; j < D; j++) { const e = Math.fround(Math.exp(Math.fround(a[base + j] - m))); out[base + j] = e; s += e; }
    for (let j = 0; j < D; j++) out[base + j] = out[base + j] / s;
  }
}

export function transpose2d(a: ComputeArray, shape: readonly number[], out: ComputeArray): void {
  const [r, c] = shape;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
}

// ---- matrix products -------------------------------------------------------------------------------

/**
 * acc += A·B (+ C): each output is acc's value plus the product's sum (matmulF32, matmulI32),
 * then plus C (broadcast to acc's shape) in acc's arithmetic, stored in acc's precision.
 * Shapes: {M,K}·{K,N} → {M,N}; {M,K}·{K} → {M}; {K}·{K,N} → {N}.
 */
export function matmulAccumulate(acc: TensorView, A: ComputeArray, aShape: readonly number[], B: ComputeArray, bShape: readonly number[],
  C: ComputeArray | undefined, cShape: readonly number[] | undefined, integer: boolean, scratch: ComputeArray): void {
  const { M, K, N, vec } = mmulDims(aShape, bShape);
  const out = gather(acc, integer ? "i32" : "f32", scratch); // M*N values, row-major
  if (integer) matmulI32(A, B, M, K, N, out);
  else matmulF32(A as Float32Array, B as Float32Array, M, K, N, vec, out as Float32Array);
  addAndStore(out, C, cShape, integer, acc);
}

/** M, K, N of a product; `vec`: B is a vector ({M,K}·{K}, N = 1). A vector A is one row (M = 1). */
export function mmulDims(aShape: readonly number[], bShape: readonly number[]): { M: number; K: number; N: number; vec: boolean } {
  const vec = bShape.length === 1;
  return { M: aShape.length === 2 ? aShape[0] : 1, K: aShape[aShape.length - 1], N: vec ? 1 : bShape[1], vec };
}

/** out += C (broadcast to acc's shape) in f32 or int32 arithmetic, when C is given; then store out into acc. */
export function addAndStore(out: ComputeArray, C: ComputeArray | undefined, cShape: readonly number[] | undefined, integer: boolean, acc: TensorView): void {
  if (C) {
    const ic = broadcastIndex(cShape!, acc.shape);
    for (let i = 0; i < out.length; i++) out[i] = integer ? (out[i] + C[ic(i)]) | 0 : out[i] + C[ic(i)];
  }
  scatter(out, acc.shape, acc);
}

/** out[i,j] += Σ_k A[i,k]·B[k,j] in int32 arithmetic, wrapping (so the order of addition does not matter). */
function matmulI32(A: ComputeArray, B: ComputeArray, M: number, K: number, N: number, out: ComputeArray): void {
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s = (s + Math.imul(A[i * K + k], B[k * N + j])) | 0;
      out[i * N + j] = (out[i * N + j] + s) | 0;
    }
}

/**
 * out[i,j] = f32(out[i,j] + s): s is the f64 sum of the products A[i,k]·B[k,j] (exact in f64: f32
 * operands), added in the order below, and out + s is rounded to f32 once. The order fixes the
 * result's last bits, and the fast kernels (interpreter/fast/) follow it exactly:
 *  - A·B, rows in a full group of four (i < M − M mod 4): left to right in k;
 *  - A·B, the M mod 4 rows after them (all of a one-row product): paired quads;
 *  - A·b (B a vector): four interleaved sums.
 */
export function matmulF32(A: Float32Array, B: Float32Array, M: number, K: number, N: number, vec: boolean, out: Float32Array): void {
  const grouped = M - (M % 4);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      const p = (k: number): number => A[i * K + k] * B[k * N + j];
      const s = vec ? interleaved4(K, p) : i < grouped ? leftToRight(K, p) : pairedQuads(K, p);
      out[i * N + j] = out[i * N + j] + s;
    }
}

/** p(0) + p(1) + … + p(K−1), left to right. */
function leftToRight(K: number, p: (k: number) => number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += p(k);
  return s;
}

/** s += (p(k) + p(k+1)) + (p(k+2) + p(k+3)) for k = 0, 4, 8, …; then the last K mod 4 terms left to right. */
function pairedQuads(K: number, p: (k: number) => number): number {
  let s = 0, k = 0;
  for (; k + 4 <= K; k += 4) s += (p(k) + p(k + 1)) + (p(k + 2) + p(k + 3));
  for (; k < K; k++) s += p(k);
  return s;
}

/** s[k mod 4] += p(k) over the first K − K mod 4 terms; the last K mod 4 terms onto s[0]; then (s0 + s1) + (s2 + s3). */
function interleaved4(K: number, p: (k: number) => number): number {
  const s = [0, 0, 0, 0], K4 = K - (K % 4);
  for (let k = 0; k < K4; k++) s[k % 4] += p(k);
  for (let k = K4; k < K; k++) s[0] += p(k);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// ---- the rest ----------------------------------------------------------------------------------------

/** dst rows = table[idx[r]]; idx out of range is a run-time fault. */
export function lookupRows(dst: TensorView, table: TensorView, idx: readonly number[], span: Span, scratch: ComputeArray): void {
  const [V, D] = table.shape;
  const kind: ComputeKind = table.precision === "int8" || table.precision === "int32" ? "i32" : "f32";
  for (let r = 0; r < idx.length; r++) {
    const t = idx[r];
    if (!(t >= 0 && t < V)) throw new RuntimeFault(span, `LOOKUP index ${t} is out of range for a table of ${V} rows`);
    const row: TensorView = { precision: table.precision, data: table.data, offset: table.offset + t * table.strides[0], shape: [D], strides: [table.strides[1]] };
    const dstRow: TensorView = dst.shape.length === 2
      ? { precision: dst.precision, data: dst.data, offset: dst.offset + r * dst.strides[0], shape: [D], strides: [dst.strides[1]] }
      : dst;
    const vals = gather(row, kind, scratch);
    scatter(vals, [D], dstRow);
  }
}

/** x[..., i, j] = -inf where j - i > offset; a vector is one row with i = 0. */
export function causalMask(x: TensorView, offset: number): void {
  const rank = x.shape.length;
  const C = x.shape[rank - 1];
  const R = rank >= 2 ? x.shape[rank - 2] : 1;
  const negInf = encoder(x.precision)(-Infinity);
  const cs = x.strides[rank - 1], rs = rank >= 2 ? x.strides[rank - 2] : 0;
  const outer: TensorView = { ...x, shape: x.shape.slice(0, Math.max(0, rank - 2)), strides: x.strides.slice(0, Math.max(0, rank - 2)) };
  forEachOffset(outer, (base) => {
    for (let i = 0; i < R; i++) {
      const first = Math.max(0, i + offset + 1);
      for (let j = first; j < C; j++) x.data[base + i * rs + j * cs] = negInf;
    }
  });
}

