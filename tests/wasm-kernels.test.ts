// The interpreter's WebAssembly product kernels (interpreter/wasm/kernels.wat) against their
// TypeScript definitions in ops.ts: bit-identical outputs on shapes that hit every tail (odd column
// counts, K mod 4, row groups of four and the rows left over, partial ranges), with NaN, ±Inf, -0
// and subnormals among the values; and the thread pool on a weight in the heap, against one thread.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { matmulF64Rows, matvecF32 } from "../interpreter/ops.js";
import { MatmulPool } from "../interpreter/parallel.js";
import { TensorView } from "../runtime/tensor.js";
import { toWasmHeap, WasmKernels, wasmHeap } from "../interpreter/wasm-kernels.js";

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const SPECIAL = [NaN, Infinity, -Infinity, -0, 1e-40, -3e-39];
// Magnitudes from 2^-30 to 2^30: f64 sums then cancel, so a different order of addition shows in
// the f32 results (with values of one magnitude, f32 rounding would hide it).
function values(n: number, r: () => number, specials = true): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(4 * n));
  for (let i = 0; i < n; i++) a[i] = specials && r() < 0.02 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : (r() - 0.5) * 2 ** Math.floor(r() * 61 - 30);
  return a;
}
function heapCopy(a: Float32Array): Float32Array {
  const v: TensorView = { precision: "f32", data: a, offset: 0, shape: [a.length], strides: [1] };
  return toWasmHeap(v).data as Float32Array;
}
function sameBits(x: Float32Array, y: Float32Array, what: string): void {
  for (let i = 0; i < x.length; i++) if (!(Object.is(x[i], y[i]) || (Number.isNaN(x[i]) && Number.isNaN(y[i])))) assert.unreachable(`${what}[${i}]: ${x[i]} vs ${y[i]}`);
}

test("the kernels are built (scripts/build-assets.mjs) and the heap exists", () => {
  assert.ok(wasmHeap(), "dist/interpreter/wasm/kernels.wasm is missing: run npm run build");
});

test("a weight loaded twice under one key is copied into the heap once", () => {
  const heap = wasmHeap()!, r = rand(5);
  const w: TensorView = { precision: "f32", data: values(1 << 16, r), offset: 0, shape: [1 << 16], strides: [1] };
  const a = toWasmHeap(w, "test|weight"), before = heap.alloc(0);
  const b = toWasmHeap({ ...w, data: w.data.slice() }, "test|weight");
  assert.is(heap.alloc(0), before);
  assert.is(b.data, a.data);
  assert.ok(heap.holds(a.data.buffer));
});

test("dot4 = matvecF32 bit for bit", () => {
  const heap = wasmHeap()!, k = new WasmKernels(heap.memory), r = rand(7);
  const scratch = heap.alloc(1 << 16);
  for (const M of [1, 5, 37]) for (const K of [1, 3, 4, 7, 64, 130]) {
    const A = values(M * K, r), x = values(K, r), init = values(M, r, false);
    const Ah = heapCopy(A);
    for (const [lo, hi] of [[0, M], [Math.floor(M / 2), M], [0, Math.ceil(M / 3)]]) {
      const want = init.slice(), got = init.slice();
      matvecF32(A, x, M, K, want, lo, hi);
      k.share(0, Ah, x, got, M, K, 1, lo, hi, scratch);
      sameBits(got, want, `vec M=${M} K=${K} [${lo},${hi})`);
    }
  }
});

test("rows4 and row_quads = matmulF64Rows bit for bit", () => {
  const heap = wasmHeap()!, k = new WasmKernels(heap.memory), r = rand(11);
  const scratch = heap.alloc(1 << 18);
  for (const M of [1, 2, 3, 4, 5, 8, 9]) for (const K of [1, 3, 4, 5, 17, 64]) for (const N of [1, 2, 3, 17, 64]) {
    const A = values(M * K, r), B = values(K * N, r), init = values(M * N, r, false);
    const Bh = heapCopy(B);
    for (const [lo, hi] of [[0, N], [1, N], [0, Math.ceil(N / 2)]]) {
      const want = init.slice(), got = init.slice();
      matmulF64Rows(A, B, M, K, N, want, lo, hi);
      k.share(1, A, Bh, got, M, K, N, lo, hi, scratch);
      sameBits(got, want, `rows M=${M} K=${K} N=${N} [${lo},${hi})`);
    }
  }
});

// 2^60 + 1 rounds to 2^60 in f64, so these operands give 0, 1 or 2 depending on how the four
// products of each k-quad are grouped: any change to the order of addition changes the result.
test("cancelling operands pin the order of addition to the TypeScript kernels'", () => {
  const heap = wasmHeap()!, k = new WasmKernels(heap.memory);
  const scratch = heap.alloc(1 << 16);
  const big = 2 ** 30, K = 8, N = 5;
  const pattern = (i: number, sign: number) => [big, 1, sign * big, 1][i % 4];
  const shared = (xs: number[]) => { const a = new Float32Array(new SharedArrayBuffer(4 * xs.length)); a.set(xs); return a; };
  // matvec: rows of A = [2^30, 1, -2^30, 1, ...], x = [2^30, 1, 2^30, 1, ...]
  const M = 3, A = shared(Array.from({ length: M * K }, (_, i) => pattern(i % K, -1))), x = shared(Array.from({ length: K }, (_, i) => pattern(i, 1)));
  const want = new Float32Array(M), got = new Float32Array(M);
  matvecF32(A, x, M, K, want, 0, M);
  k.share(0, heapCopy(A), x, got, M, K, 1, 0, M, scratch);
  sameBits(got, want, "vec cancellation");
  // products: rows of A = [2^30, 1, 2^30, 1, ...], columns of B = [2^30, 1, -2^30, 1, ...]
  for (const rows of [1, 3, 4, 5]) {
    const a = shared(Array.from({ length: rows * K }, (_, i) => pattern(i % K, 1)));
    const b = shared(Array.from({ length: K * N }, (_, i) => pattern(Math.floor(i / N), -1)));
    const w = new Float32Array(rows * N), g = new Float32Array(rows * N);
    matmulF64Rows(a, b, rows, K, N, w, 0, N);
    k.share(1, a, heapCopy(b), g, rows, K, N, 0, N, scratch);
    sameBits(g, w, `rows=${rows} cancellation`);
  }
});

test("the pool on a weight in the heap: two threads, WebAssembly, the same bits as one thread in TypeScript", () => {
  const pool = new MatmulPool(2), r = rand(3);
  try {
    for (const [M, K, N] of [[1, 768, 2305], [16, 300, 517], [7, 1031, 97]]) {
      const A = values(M * K, r, false), B = values(K * N, r, false);
      const want = new Float32Array(new SharedArrayBuffer(4 * M * N)), got = new Float32Array(new SharedArrayBuffer(4 * M * N));
      matmulF64Rows(A, B, M, K, N, want, 0, N);
      assert.ok(pool.hook("rows", A, heapCopy(B), M, K, N, got), "the pool took the product");
      sameBits(got, want, `pool rows ${M}x${K}x${N}`);
    }
    const V = 5003, D = 768, W = values(V * D, r, false), x = values(D, r, false);
    const want = new Float32Array(new SharedArrayBuffer(4 * V)), got = new Float32Array(new SharedArrayBuffer(4 * V));
    matvecF32(W, x, V, D, want, 0, V);
    assert.ok(pool.hook("vec", heapCopy(W), x, V, D, 1, got));
    sameBits(got, want, "pool vec");
  } finally {
    pool.close();
  }
});

test.run();
