// The living definition of every intrinsic: what it computes, element by element, in which
// arithmetic, and how results are stored. The C++ back end is tested against these functions.
//
// Conventions: operands are first read into compute arrays (Float32Array for f32 arithmetic,
// Int32Array for integer arithmetic), row-major. Elementwise results are rounded to f32 at every
// operation (the Float32Array store does it), exactly as C++ float arithmetic without FMA
// contraction. Sums (reductions, MMUL, softmax denominators) accumulate in double precision, in
// row-major order; a compiled back end may accumulate in f32 in another order (docs/compiler.md
// states the tolerance this implies).

import { RuntimeFault } from "../compiler/diagnostics.js";
import { ActKind } from "../compiler/ir.js";
import { Span } from "../compiler/source.js";
import { ComputeKind, elementCount } from "../compiler/types.js";
import { bf16BitsToF32, ComputeArray, encoder, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, toInt32, toInt8 } from "../runtime/precision.js";
import { forEachOffset, isContiguous, TensorView } from "../runtime/tensor.js";

// ---- reading and writing views --------------------------------------------------------------

/** Read a view into a compute array of kind `kind` (converting precision), row-major. */
export function gather(v: TensorView, kind: ComputeKind, out: ComputeArray): ComputeArray {
  const n = elementCount(v.shape);
  const d = v.data;
  const contiguous = isContiguous(v);
  if (v.precision === "f16" || v.precision === "bf16") {
    const dec = v.precision === "f16" ? f16BitsToF32 : bf16BitsToF32;
    if (contiguous) for (let i = 0; i < n; i++) out[i] = dec(d[v.offset + i]);
    else forEachOffset(v, (s, i) => { out[i] = dec(d[s]); });
  } else if (kind === "i32" && !(d instanceof Int32Array || d instanceof Int8Array)) {
    // float storage read in integer arithmetic cannot happen: the checker types it f32
    throw new Error("internal: float storage read as integers");
  } else if (contiguous) {
    if (out.constructor === d.constructor) (out as Float32Array).set(d.subarray(v.offset, v.offset + n) as Float32Array);
    else for (let i = 0; i < n; i++) out[i] = d[v.offset + i];
  } else if (v.shape.length === 2) {
    const [r, c] = v.shape, [s0, s1] = v.strides;
    for (let i = 0, k = 0; i < r; i++) for (let j = 0, o = v.offset + i * s0; j < c; j++, k++, o += s1) out[k] = d[o];
  } else forEachOffset(v, (s, i) => { out[i] = d[s]; });
  return out;
}

/**
 * Store `values` (row-major, of shape `valueShape`, broadcast to the view's shape) into the view,
 * converting to its precision: f16/bf16 round to nearest-even, int8/int32 round and saturate.
 */
export function scatter(values: ComputeArray, valueShape: readonly number[], v: TensorView): void {
  const n = elementCount(v.shape);
  const d = v.data;
  const enc = encoder(v.precision);
  const sameShape = elementCount(valueShape) === n;
  const contiguous = isContiguous(v);
  const fast = v.precision === "f32" || (v.precision === "int32" && values instanceof Int32Array);
  if (sameShape && contiguous && fast) {
    // Float32Array → Float32Array copies exactly; Int32Array → Float32Array rounds like C's (float)i.
    (d as Float32Array).set(values as Float32Array, v.offset);
    return;
  }
  if (sameShape) {
    if (contiguous) for (let i = 0; i < n; i++) d[v.offset + i] = enc(values[i]);
    else forEachOffset(v, (s, i) => { d[s] = enc(values[i]); });
    return;
  }
  const idx = broadcastIndex(valueShape, v.shape);
  if (contiguous) for (let i = 0; i < n; i++) d[v.offset + i] = enc(values[idx(i)]);
  else forEachOffset(v, (s, i) => { d[s] = enc(values[idx(i)]); });
}

/** For a row-major index into `outShape`, the row-major index into the broadcast operand. */
export function broadcastIndex(shape: readonly number[], outShape: readonly number[]): (i: number) => number {
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

export type BinaryOp = "+" | "-" | "*" | "/" | "%";

/** out = a op b with numpy broadcasting, in `kind` arithmetic. Integer division truncates. */
export function binary(op: BinaryOp, kind: ComputeKind, a: ComputeArray, aShape: readonly number[], b: ComputeArray, bShape: readonly number[],
  out: ComputeArray, outShape: readonly number[], span: Span): void {
  const n = out.length;
  const na = a.length, nb = b.length;
  if (kind === "f32") {
    const o = out as Float32Array;
    if (na === n && nb === n) {
      switch (op) {
        case "+": for (let i = 0; i < n; i++) o[i] = a[i] + b[i]; return;
        case "-": for (let i = 0; i < n; i++) o[i] = a[i] - b[i]; return;
        case "*": for (let i = 0; i < n; i++) o[i] = a[i] * b[i]; return;
        case "/": for (let i = 0; i < n; i++) o[i] = a[i] / b[i]; return;
        case "%": for (let i = 0; i < n; i++) o[i] = a[i] % b[i]; return;
      }
    }
    if (nb === 1 && na === n) {
      const y = b[0];
      switch (op) {
        case "+": for (let i = 0; i < n; i++) o[i] = a[i] + y; return;
        case "-": for (let i = 0; i < n; i++) o[i] = a[i] - y; return;
        case "*": for (let i = 0; i < n; i++) o[i] = a[i] * y; return;
        case "/": for (let i = 0; i < n; i++) o[i] = a[i] / y; return;
        case "%": for (let i = 0; i < n; i++) o[i] = a[i] % y; return;
      }
    }
    const ia = broadcastIndex(aShape, outShape), ib = broadcastIndex(bShape, outShape);
    // Rows of the output with a row-broadcast operand (x {T,D} - m {T,1}, x {T,D} * g {D}).
    const D = outShape.length ? outShape[outShape.length - 1] : 1;
    for (let r = 0; r < n; r += D) {
      for (let j = 0; j < D; j++) {
        const i = r + j, x = a[ia(i)], y = b[ib(i)];
        o[i] = op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : op === "/" ? x / y : x % y;
      }
    }
    return;
  }
  const o = out as Int32Array;
  const ia = broadcastIndex(aShape, outShape), ib = broadcastIndex(bShape, outShape);
  for (let i = 0; i < n; i++) {
    const x = a[ia(i)], y = b[ib(i)];
    switch (op) {
      case "+": o[i] = (x + y) | 0; break;
      case "-": o[i] = (x - y) | 0; break;
      case "*": o[i] = Math.imul(x, y); break;
      case "/":
        if (y === 0) throw new RuntimeFault(span, "integer division by zero");
        o[i] = Math.trunc(x / y) | 0;
        break;
      case "%":
        if (y === 0) throw new RuntimeFault(span, "integer division by zero");
        o[i] = x % y | 0;
        break;
    }
  }
}

export function negate(kind: ComputeKind, a: ComputeArray, out: ComputeArray): void {
  if (kind === "f32") for (let i = 0; i < a.length; i++) out[i] = -a[i];
  else for (let i = 0; i < a.length; i++) out[i] = -a[i] | 0;
}

const SQRT_2_OVER_PI = Math.fround(Math.sqrt(2 / Math.PI));

/** erf(x) with relative error below 1.2e-7 (Numerical Recipes' erfc), enough for f32. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

export function activation(kind: ActKind, x: number): number {
  switch (kind) {
    // 0.5·x·(1 + tanh(y)) written as x / (1 + e^(−2y)): the same function without the cancellation
    // of 1 + tanh(y) for negative x (the tanh form returns 0 below x ≈ −7, this one the tiny value)
    case "gelu_tanh": return x / (1 + Math.exp(-2 * (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))));
    case "gelu_erf": return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
    case "silu": return x / (1 + Math.exp(-x));
    case "relu": return x > 0 ? x : 0;
  }
}

export type UnaryFn = "EXP" | "LOG" | "SQRT" | "TANH" | "ABS" | "ACT";

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
 * acc += A·B (+ C). Each output element is the f64 sum over k of A[i,k]·B[k,j] (its order of
 * addition unspecified, but the same for every output element and every thread count), plus C,
 * added to acc's value and stored in acc's precision. Integer operands use wrapping int32 arithmetic.
 * Shapes: {M,K}·{K,N} → {M,N}; {M,K}·{K} → {M}; {K}·{K,N} → {N}.
 * `parallel`, when given, may run a large f32 product on several threads (interpreter/parallel.ts).
 */
export function matmulAccumulate(acc: TensorView, A: ComputeArray, aShape: readonly number[], B: ComputeArray, bShape: readonly number[],
  C: ComputeArray | undefined, cShape: readonly number[] | undefined, integer: boolean, scratch: ComputeArray, parallel?: ParallelMatmul): void {
  const M = aShape.length === 2 ? aShape[0] : 1;
  const K = aShape.length === 2 ? aShape[1] : aShape[0];
  const N = bShape.length === 2 ? bShape[1] : 1;
  const bIsVector = bShape.length === 1;
  const out = scratch; // M*N values, row-major, in acc's arithmetic
  gatherAcc(acc, out);
  if (integer) {
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s = (s + Math.imul(A[i * K + k], bIsVector ? B[k] : B[k * N + j])) | 0;
        out[i * N + j] = (out[i * N + j] + s) | 0;
      }
  } else if (!parallel?.(bIsVector ? "vec" : "rows", A as Float32Array, B as Float32Array, M, K, N, out as Float32Array)) {
    if (bIsVector) matvecF32(A as Float32Array, B as Float32Array, M, K, out as Float32Array, 0, M);
    else matmulF64Rows(A as Float32Array, B as Float32Array, M, K, N, out as Float32Array, 0, N);
  }
  if (C) {
    const ic = broadcastIndex(cShape!, acc.shape);
    if (integer) for (let i = 0; i < out.length; i++) out[i] = (out[i] + C[ic(i)]) | 0;
    else for (let i = 0; i < out.length; i++) out[i] = out[i] + C[ic(i)];
  }
  scatter(out, acc.shape, acc);
}

/** Runs a large f32 product on several threads; returns false to let the caller run it alone. */
export type ParallelMatmul = (kind: "vec" | "rows", A: Float32Array, B: Float32Array, M: number, K: number, N: number, out: Float32Array) => boolean;

// Monomorphic Float32Array kernels: V8 keeps element access fast only when each call site sees
// one array type, so the f32 paths never take the ComputeArray union. Both take a range of the
// output (rows i0..i1 of a matrix×vector product, columns j0..j1 of a matrix product) so threads
// can share one product; every output element is summed the same way whatever the split.

/** out[i] += Σ_k A[i,k]·b[k] for rows i0..i1, the sum in f64 (four partial sums, combined in a fixed order). */
export function matvecF32(A: Float32Array, b: Float32Array, M: number, K: number, out: Float32Array, i0: number, i1: number): void {
  const K4 = K - (K % 4);
  for (let i = i0; i < i1; i++) {
    const base = i * K;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let k = 0;
    for (; k < K4; k += 4) {
      s0 += A[base + k] * b[k];
      s1 += A[base + k + 1] * b[k + 1];
      s2 += A[base + k + 2] * b[k + 2];
      s3 += A[base + k + 3] * b[k + 3];
    }
    for (; k < K; k++) s0 += A[base + k] * b[k];
    out[i] += (s0 + s1) + (s2 + s3);
  }
}

// Rows of A in blocks of 4 share each loaded row of B; fewer rows take four k per accumulator update;
// sums stay in f64 (Float64Array) until stored.
const rowAcc = { buf: new Float64Array(0) };
export function matmulF64Rows(A: Float32Array, B: Float32Array, M: number, K: number, N: number, out: Float32Array, j0: number, j1: number): void {
  if (rowAcc.buf.length < 4 * N) rowAcc.buf = new Float64Array(4 * N);
  const t = rowAcc.buf;
  const K4 = K - (K % 4);
  for (let i0 = 0; i0 < M; i0 += 4) {
    const rows = Math.min(4, M - i0);
    t.fill(0, 0, 4 * N);
    if (rows === 4) {
      const a0 = i0 * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
      const t1 = N, t2 = 2 * N, t3 = 3 * N;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k], x1 = A[a1 + k], x2 = A[a2 + k], x3 = A[a3 + k];
        const bo = k * N;
        for (let j = j0; j < j1; j++) {
          const b = B[bo + j];
          t[j] += x0 * b; t[t1 + j] += x1 * b; t[t2 + j] += x2 * b; t[t3 + j] += x3 * b;
        }
      }
    } else {
      for (let r = 0; r < rows; r++) {
        const ao = (i0 + r) * K, to = r * N;
        let k = 0;
        for (; k < K4; k += 4) {
          const x0 = A[ao + k], x1 = A[ao + k + 1], x2 = A[ao + k + 2], x3 = A[ao + k + 3];
          const b0 = k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
          for (let j = j0; j < j1; j++) t[to + j] += (x0 * B[b0 + j] + x1 * B[b1 + j]) + (x2 * B[b2 + j] + x3 * B[b3 + j]);
        }
        for (; k < K; k++) {
          const x = A[ao + k], bo = k * N;
          for (let j = j0; j < j1; j++) t[to + j] += x * B[bo + j];
        }
      }
    }
    for (let r = 0; r < rows; r++) {
      const oo = (i0 + r) * N, to = r * N;
      for (let j = j0; j < j1; j++) out[oo + j] += t[to + j];
    }
  }
}

function gatherAcc(acc: TensorView, out: ComputeArray): void {
  gather(acc, acc.precision === "int32" || acc.precision === "int8" ? "i32" : "f32", out);
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

export { f32ToBf16Bits, f32ToF16Bits, toInt32, toInt8 };
