// The interpreter's fast f32 MMUL: blocked TypeScript kernels, their WebAssembly twins
// (wasm-kernels.ts) and the thread pool (parallel.ts). Each computes exactly what matmulF32 in
// interpreter/ops.ts defines, in the same order of addition, so results are bit-identical to the
// definition (tests/fast-kernels.test.ts); only the speed differs. fastMatmulAccumulate below is the
// one place that chooses among them.

import { ComputeArray } from "../../runtime/precision.js";
import { isContiguous, TensorView } from "../../runtime/tensor.js";
import * as ops from "../ops.js";
import * as views from "./views.js";

/** Runs a large f32 product on several threads (parallel.ts); returns false to let the caller run it alone. */
export type ParallelMatmul = (kind: "vec" | "rows", A: Float32Array, B: Float32Array, M: number, K: number, N: number, out: Float32Array) => boolean;

/**
 * ops.matmulAccumulate, computed fast: an f32 product goes to `parallel` (several threads, in
 * WebAssembly when the weight is in the heap) when it takes it, else to the blocked TypeScript
 * kernels; an integer product runs the plain definition.
 */
export function fastMatmulAccumulate(acc: TensorView, A: ComputeArray, aShape: readonly number[], B: ComputeArray, bShape: readonly number[],
  C: ComputeArray | undefined, cShape: readonly number[] | undefined, integer: boolean, scratch: ComputeArray, parallel?: ParallelMatmul): void {
  if (integer) return ops.matmulAccumulate(acc, A, aShape, B, bShape, C, cShape, true, scratch);
  const { M, K, N, vec } = ops.mmulDims(aShape, bShape);
  // acc's own storage when it is a contiguous f32 view no operand reads: the kernels add each sum
  // onto the f32 value as they would onto a copy, and the store back is then not needed
  const inPlace = views.isF32View(acc) && isContiguous(acc) && [A, B, C].every((x) => x?.buffer !== acc.data.buffer);
  const out = inPlace ? (acc.data as Float32Array).subarray(acc.offset, acc.offset + M * N) : views.gather(acc, "f32", scratch) as Float32Array;
  const a = A as Float32Array, b = B as Float32Array;
  if (!parallel?.(vec ? "vec" : "rows", a, b, M, K, N, out)) {
    if (vec) matvecF32(a, b, M, K, out, 0, M);
    else matmulF64Rows(a, b, M, K, N, out, 0, N);
  }
  // ops.addAndStore: out += C (broadcast to acc's shape) in f32, then stored into acc
  if (C && !(C instanceof Float32Array)) return ops.addAndStore(out, C, cShape, false, acc);
  if (C) views.binaryF32("+", out, acc.shape, C, cShape!, out, acc.shape);
  if (!inPlace) views.scatter(out, acc.shape, acc);
}

// Monomorphic Float32Array kernels: V8 keeps element access fast only when each call site sees
// one array type, so the f32 paths never take the ComputeArray union. Both take a range of the
// output (rows i0..i1 of a matrix×vector product, columns j0..j1 of a matrix product) so threads
// can share one product; every output element is summed the same way whatever the split.

/** out[i] += Σ_k A[i,k]·b[k] for rows i0..i1: ops.matmulF32's four interleaved sums. */
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

// Rows of A in blocks of 4 share each loaded row of B (each sum in order of k, as ops.matmulF32
// defines for rows in a full group of four); the rows left over take four k per accumulator update
// (ops.matmulF32's paired quads). Sums stay in f64 (Float64Array) until stored.
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
