// The interpreter's f32 view reads, stores and element-wise arithmetic without per-element
// closures: ops.gather, ops.scatter, ops.binary and ops.transpose2d index every element through a
// callback (forEachOffset, broadcastIndex), which costs tens of nanoseconds per element and dominates
// the many small statements of a decode step (attention over 16-key tiles). These functions walk
// the same elements in the same row-major order with strides and do the same arithmetic (each
// operation in f64, rounded once by the Float32Array store), so results are bit-identical to
// ops.ts (tests/fast-views.test.ts); anything else (f16/bf16/int storage, integer arithmetic)
// returns false or goes to ops.ts.

import { elementCount } from "../../compiler/types.js";
import { Span } from "../../compiler/source.js";
import { ComputeArray } from "../../runtime/precision.js";
import { TensorView } from "../../runtime/tensor.js";
import * as ops from "../ops.js";

type BinaryOp = "+" | "-" | "*" | "/" | "%";

/**
 * Strides (in elements of the row-major operand) with which an operand of `shape` is read for each
 * axis of `outShape`, as ops.ts's broadcastIndex reads it: one element broadcasts everywhere, as many
 * elements as the output are read in the output's row-major order, otherwise numpy broadcasting
 * aligned on the last axis (an axis of size 1 is read with stride 0).
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const n = elementCount(shape), rank = outShape.length;
  const strides: number[] = new Array(rank).fill(0);
  if (n === 1) return strides;
  let acc = 1;
  if (n === elementCount(outShape)) {
    for (let a = rank - 1; a >= 0; a--) { strides[a] = acc; acc *= outShape[a]; }
    return strides;
  }
  for (let a = rank - 1, b = shape.length - 1; a >= 0; a--, b--) {
    const dim = b >= 0 ? shape[b] : 1;
    strides[a] = dim === 1 ? 0 : acc;
    acc *= dim;
  }
  return strides;
}

/**
 * dst[d(idx)] = src[s(idx)] for every index of `shape` in row-major order, where s and d are
 * offset + Σ idx·stride. A plain copy of f32 values (no arithmetic).
 */
export function copyF32(src: Float32Array, sOff: number, sStr: readonly number[], dst: Float32Array, dOff: number, dStr: readonly number[], shape: readonly number[]): void {
  const rank = shape.length;
  if (rank === 0) { dst[dOff] = src[sOff]; return; }
  const last = rank - 1, n = shape[last], ss = sStr[last], ds = dStr[last];
  let rows = 1;
  for (let a = 0; a < last; a++) rows *= shape[a];
  if (rows === 0 || n === 0) return;
  const idx = last > 1 ? new Array<number>(last).fill(0) : undefined;
  let so = sOff, d = dOff;
  for (let r = 0; r < rows; r++) {
    if (ss === 1 && ds === 1) {
      if (n >= 64) dst.set(src.subarray(so, so + n), d); // a memory copy
      else for (let j = 0; j < n; j++) dst[d + j] = src[so + j];
    } else if (ss === 0) {
      const x = src[so];
      for (let j = 0, dj = d; j < n; j++, dj += ds) dst[dj] = x;
    } else {
      for (let j = 0, sj = so, dj = d; j < n; j++, sj += ss, dj += ds) dst[dj] = src[sj];
    }
    // the next row: carry into the outer axes
    if (!idx) { so += sStr[0]; d += dStr[0]; continue; }
    for (let a = last - 1; a >= 0; a--) {
      so += sStr[a]; d += dStr[a];
      if (++idx[a] < shape[a]) break;
      so -= sStr[a] * shape[a]; d -= dStr[a] * shape[a];
      idx[a] = 0;
    }
  }
}

/** ops.gather of an f32 view (Float32Array storage) into an f32 compute array. */
export function gatherF32(v: TensorView, out: Float32Array): Float32Array {
  const rowMajor: number[] = new Array(v.shape.length);
  for (let a = v.shape.length - 1, acc = 1; a >= 0; a--) { rowMajor[a] = acc; acc *= v.shape[a]; }
  copyF32(v.data as Float32Array, v.offset, v.strides, out, 0, rowMajor, v.shape);
  return out;
}

/** A view that ops.gather reads as f32 without converting: f32 precision over Float32Array storage. */
export function isF32View(v: TensorView): boolean {
  return v.precision === "f32" && v.data instanceof Float32Array;
}

/** ops.gather, with the f32-to-f32 case done by gatherF32. */
export function gather(v: TensorView, kind: "f32" | "i32", out: ComputeArray): ComputeArray {
  if (kind === "f32" && out instanceof Float32Array && isF32View(v)) return gatherF32(v, out);
  return ops.gather(v, kind, out);
}

/** ops.scatter, with f32 values into an f32 view done by copyF32 (the f32 encoder is the store itself). */
export function scatter(values: ComputeArray, valueShape: readonly number[], v: TensorView): void {
  if (!(values instanceof Float32Array) || !isF32View(v)) return ops.scatter(values, valueShape, v);
  copyF32(values, 0, broadcastStrides(valueShape, v.shape), v.data as Float32Array, v.offset, v.strides, v.shape);
}

/** TRANSPOSE of a rank-2 f32 view, read in place: ops.transpose2d(gather(v)), without the gather. */
export function transposeViewF32(v: TensorView, out: Float32Array): void {
  const [r, c] = v.shape;
  copyF32(v.data as Float32Array, v.offset, [v.strides[1], v.strides[0]], out, 0, [r, 1], [c, r]);
}

/**
 * ops.binary in f32 arithmetic: out = a op b, broadcast as ops.ts broadcasts, each result the f64
 * operation on the two f32 values rounded by the store (as ops.ts's binaryF32).
 */
export function binaryF32(op: BinaryOp, a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[],
  out: Float32Array, outShape: readonly number[]): void {
  const n = elementCount(outShape), rank = outShape.length;
  if (n === 0) return;
  // the common cases need no strides: each operand is one value or read in the output's order
  const na = elementCount(aShape), nb = elementCount(bShape);
  if ((na === n || na === 1) && (nb === n || nb === 1)) {
    binaryRow(op, a, 0, na === 1 ? 0 : 1, b, 0, nb === 1 ? 0 : 1, out, 0, n);
    return;
  }
  if (rank === 0) { binaryRow(op, a, 0, 0, b, 0, 0, out, 0, 1); return; }
  const last = rank - 1;
  const aStr = broadcastStrides(aShape, outShape), bStr = broadcastStrides(bShape, outShape);
  const cols = outShape[last], rows = n / cols;
  const idx = new Array<number>(last).fill(0);
  let ao = 0, bo = 0;
  for (let r = 0; r < rows; r++) {
    binaryRow(op, a, ao, aStr[last], b, bo, bStr[last], out, r * cols, cols);
    for (let x = last - 1; x >= 0; x--) {
      ao += aStr[x]; bo += bStr[x];
      if (++idx[x] < outShape[x]) break;
      ao -= aStr[x] * outShape[x]; bo -= bStr[x] * outShape[x];
      idx[x] = 0;
    }
  }
}

/** out[o + j] = a[ao + j·as] op b[bo + j·bs] for j < n. */
function binaryRow(op: BinaryOp, a: Float32Array, ao: number, as: number, b: Float32Array, bo: number, bs: number, out: Float32Array, o: number, n: number): void {
  switch (op) {
    case "+": for (let j = 0; j < n; j++, ao += as, bo += bs) out[o + j] = a[ao] + b[bo]; return;
    case "-": for (let j = 0; j < n; j++, ao += as, bo += bs) out[o + j] = a[ao] - b[bo]; return;
    case "*": for (let j = 0; j < n; j++, ao += as, bo += bs) out[o + j] = a[ao] * b[bo]; return;
    case "/": for (let j = 0; j < n; j++, ao += as, bo += bs) out[o + j] = a[ao] / b[bo]; return;
    case "%": for (let j = 0; j < n; j++, ao += as, bo += bs) out[o + j] = a[ao] % b[bo]; return;
  }
}

/** ops.binary, with f32 arithmetic on f32 operands done by binaryF32. */
export function binary(op: BinaryOp, kind: "f32" | "i32", a: ComputeArray, aShape: readonly number[], b: ComputeArray, bShape: readonly number[],
  out: ComputeArray, outShape: readonly number[], span: Span): void {
  if (kind === "f32" && a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array) binaryF32(op, a, aShape, b, bShape, out, outShape);
  else ops.binary(op, kind, a, aShape, b, bShape, out, outShape, span);
}
