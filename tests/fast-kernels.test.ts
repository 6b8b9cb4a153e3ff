// The interpreter's fast f32 products (interpreter/fast/: the blocked TypeScript kernels, their
// WebAssembly twins, the thread pool, and fastMatmulAccumulate, which the interpreter's MMUL runs)
// against the plain definition, matmulF32 / matmulAccumulate in interpreter/ops.ts: bit-identical
// outputs on random shapes that hit every tail (odd column counts, K mod 4, rows in groups of four
// and the rows left over, partial ranges), with NaN, ±Inf, -0 and subnormals among the values, and
// on cancelling operands whose result depends on the order of addition.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { matmulAccumulate, matmulF32 } from "../interpreter/ops.js";
import { chunkRange, claim, CTRL, MatmulPool, SPIN_MS } from "../interpreter/fast/parallel.js";
import { fastMatmulAccumulate, matmulF64Rows, matvecF32 } from "../interpreter/fast/products.js";
import { toWasmHeap, WasmKernels, wasmHeap } from "../interpreter/fast/wasm-kernels.js";
import { Precision } from "../compiler/types.js";
import { allocTensor, TensorView } from "../runtime/tensor.js";

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const SPECIAL = [NaN, Infinity, -Infinity, -0, 1e-40, -3e-39];
// Half the values are exactly ±2^30: their products (±2^60) cancel exactly in many outputs, which
// then show the f64 rounding of the partial sums the smaller terms went through, so a different
// order of addition changes the f32 result. The rest span 2^-10 … 2^10; with `specials`, 0.5% are
// NaN, ±Inf, -0 or subnormal (one in a row or column takes its outputs out of the comparison
// of orders, so they stay rare).
function values(n: number, r: () => number, specials = true): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(4 * n));
  for (let i = 0; i < n; i++) {
    const sign = r() < 0.5 ? -1 : 1;
    a[i] = specials && r() < 0.005 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : r() < 0.5 ? sign * 2 ** 30 : sign * r() * 2 ** Math.floor(r() * 21 - 10);
  }
  return a;
}
const shared = (xs: ArrayLike<number>): Float32Array => { const a = new Float32Array(new SharedArrayBuffer(4 * xs.length)); a.set(xs); return a; };
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
function heapCopy(a: Float32Array): Float32Array {
  const v: TensorView = { precision: "f32", data: a, offset: 0, shape: [a.length], strides: [1] };
  return toWasmHeap(v).data as Float32Array;
}
function sameBits(x: ArrayLike<number>, y: ArrayLike<number>, what: string): void {
  assert.is(x.length, y.length, `${what}: length`);
  for (let i = 0; i < x.length; i++) if (!(Object.is(x[i], y[i]) || (Number.isNaN(x[i]) && Number.isNaN(y[i])))) assert.unreachable(`${what}[${i}]: ${x[i]} vs ${y[i]}`);
}
/** The definition's result for columns [lo, hi) of a product (rows [lo, hi) of a matrix×vector product); `init` elsewhere. */
function defined(A: Float32Array, B: Float32Array, M: number, K: number, N: number, vec: boolean, init: Float32Array, lo: number, hi: number): Float32Array {
  const all = init.slice();
  matmulF32(A, B, M, K, N, vec, all);
  const want = init.slice();
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) if (vec ? i >= lo && i < hi : j >= lo && j < hi) want[i * N + j] = all[i * N + j];
  return want;
}
/** Random shapes: small odd sizes, K around multiples of 4, rows around multiples of 4. */
function shapes(r: () => number, count: number, max = 70): [number, number, number][] {
  const fixed: [number, number, number][] = [[1, 1, 1], [1, 3, 1], [3, 5, 2], [4, 4, 4], [5, 7, 3], [8, 9, 17], [9, 64, 65], [1, 130, 33]];
  const out = [...fixed];
  while (out.length < count) out.push([int(r, 1, 13), int(r, 1, max), int(r, 1, max)]);
  return out;
}

// 2^60 + 1 rounds to 2^60 in f64, so with A's rows [2^30, 1, 2^30, 1, …] and B's columns
// [2^30, 1, −2^30, 1, …] each quad of products is 2^60, 1, −2^60, 1 and the sum depends on the
// grouping: left to right each quad leaves 1 (2^60 + 1 → 2^60, − 2^60 → 0, + 1 → 1, and the next quad
// starts from that 1, which 2^60 swallows), so the sum is 1; paired quads give (2^60 + 1) + (−2^60 + 1)
// = 0 per quad; four interleaved sums give (2^61 + 2) + (−2^61 + 2) = 0 for K = 8 (for K = 12,
// (3·2^60 + 3) + (−3·2^60 + 3) = 0). Derived by hand.
const BIG = 2 ** 30;
const pattern = (k: number, sign: number): number => [BIG, 1, sign * BIG, 1][k % 4];
function cancelling(M: number, K: number, N: number): { A: Float32Array; B: Float32Array; b: Float32Array } {
  return {
    A: shared(Array.from({ length: M * K }, (_, i) => pattern(i % K, 1))),
    B: shared(Array.from({ length: K * N }, (_, i) => pattern(Math.floor(i / N), -1))),
    b: shared(Array.from({ length: K }, (_, k) => pattern(k, -1))),
  };
}

test("the definition's order of addition, on cancelling operands (derived by hand)", () => {
  // K = 9 adds one more product, 2^60, which swallows the 1 left to right leaves: 2^60 in every order
  const expect: Record<number, { grouped: number; rest: number; vec: number }> = {
    8: { grouped: 1, rest: 0, vec: 0 }, 12: { grouped: 1, rest: 0, vec: 0 }, 9: { grouped: 2 ** 60, rest: 2 ** 60, vec: 2 ** 60 },
  };
  for (const K of [8, 12, 9]) for (const M of [1, 3, 4, 5, 8, 9]) {
    const N = 3, { A, B, b } = cancelling(M, K, N), e = expect[K];
    const out = new Float32Array(M * N);
    matmulF32(A, B, M, K, N, false, out);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) assert.is(out[i * N + j], i < M - (M % 4) ? e.grouped : e.rest, `A·B M=${M} K=${K} row ${i}`);
    const v = new Float32Array(M);
    matmulF32(A, b, M, K, 1, true, v);
    for (let i = 0; i < M; i++) assert.is(v[i], e.vec, `A·b M=${M} K=${K} row ${i}`);
  }
});

test("blocked TypeScript kernels = the definition bit for bit (random shapes, partial ranges)", () => {
  const r = rand(17);
  for (const [M, K, N] of shapes(r, 120)) {
    const A = values(M * K, r), B = values(K * N, r), b = values(K, r), init = values(M * N, r, false), initV = values(M, r, false);
    for (const [lo, hi] of [[0, N], [Math.floor(N / 3), N], [0, Math.ceil(N / 2)]]) {
      const got = init.slice();
      matmulF64Rows(A, B, M, K, N, got, lo, hi);
      sameBits(got, defined(A, B, M, K, N, false, init, lo, hi), `matmulF64Rows M=${M} K=${K} N=${N} [${lo},${hi})`);
    }
    for (const [lo, hi] of [[0, M], [Math.floor(M / 2), M], [0, Math.ceil(M / 3)]]) {
      const got = initV.slice();
      matvecF32(A, b, M, K, got, lo, hi);
      sameBits(got, defined(A, b, M, K, 1, true, initV, lo, hi), `matvecF32 M=${M} K=${K} [${lo},${hi})`);
    }
  }
});

test("the kernels are built (scripts/build-assets.mjs) and the heap exists", () => {
  assert.ok(wasmHeap(), "dist/interpreter/fast/wasm/kernels.wasm is missing: run npm run build");
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

test("WebAssembly kernels (rows4, row_quads, dot4) = the definition bit for bit (random shapes, partial ranges)", () => {
  const heap = wasmHeap()!, k = new WasmKernels(heap.memory), r = rand(11);
  const scratch = heap.alloc(1 << 20);
  for (const [M, K, N] of shapes(r, 120)) {
    const A = values(M * K, r), B = values(K * N, r), b = values(K, r), init = values(M * N, r, false), initV = values(M, r, false);
    const Bh = heapCopy(B), Ah = heapCopy(A);
    for (const [lo, hi] of [[0, N], [1, N], [0, Math.ceil(N / 2)]]) {
      const got = init.slice();
      k.share(1, A, Bh, got, M, K, N, lo, hi, scratch);
      sameBits(got, defined(A, B, M, K, N, false, init, lo, hi), `rows M=${M} K=${K} N=${N} [${lo},${hi})`);
    }
    for (const [lo, hi] of [[0, M], [Math.floor(M / 2), M], [0, Math.ceil(M / 3)]]) {
      const got = initV.slice();
      k.share(0, Ah, b, got, M, K, 1, lo, hi, scratch);
      sameBits(got, defined(A, b, M, K, 1, true, initV, lo, hi), `vec M=${M} K=${K} [${lo},${hi})`);
    }
  }
});

test("every fast kernel = the definition on cancelling operands", () => {
  const heap = wasmHeap()!, k = new WasmKernels(heap.memory);
  const scratch = heap.alloc(1 << 16);
  for (const K of [8, 9, 11, 12]) for (const M of [1, 3, 4, 5, 9]) {
    const N = 5, { A, B, b } = cancelling(M, K, N);
    const want = new Float32Array(M * N), ts = new Float32Array(M * N), wasm = new Float32Array(M * N);
    matmulF32(A, B, M, K, N, false, want);
    matmulF64Rows(A, B, M, K, N, ts, 0, N);
    k.share(1, A, heapCopy(B), wasm, M, K, N, 0, N, scratch);
    sameBits(ts, want, `matmulF64Rows M=${M} K=${K}`);
    sameBits(wasm, want, `rows4/row_quads M=${M} K=${K}`);
    const wantV = new Float32Array(M), tsV = new Float32Array(M), wasmV = new Float32Array(M);
    matmulF32(A, b, M, K, 1, true, wantV);
    matvecF32(A, b, M, K, tsV, 0, M);
    k.share(0, heapCopy(A), b, wasmV, M, K, 1, 0, M, scratch);
    sameBits(tsV, wantV, `matvecF32 M=${M} K=${K}`);
    sameBits(wasmV, wantV, `dot4 M=${M} K=${K}`);
  }
});

test("the pool (two threads; WebAssembly with the weight in the heap, TypeScript without) = the definition bit for bit", () => {
  const pool = new MatmulPool(2), r = rand(3);
  try {
    for (const [M, K, N] of [[1, 768, 2305], [16, 300, 517], [7, 1031, 97], [5, 301, 129], [13, 257, 131]]) {
      const A = values(M * K, r, false), B = values(K * N, r, false), init = values(M * N, r, false);
      const want = init.slice();
      matmulF32(A, B, M, K, N, false, want);
      for (const inHeap of [true, false]) {
        const got = shared(init);
        assert.ok(pool.hook("rows", A, inHeap ? heapCopy(B) : B, M, K, N, got), "the pool took the product");
        sameBits(got, want, `pool rows ${M}x${K}x${N}${inHeap ? " (heap)" : ""}`);
      }
    }
    for (const [V, D] of [[5003, 768], [2049, 131]]) {
      const W = values(V * D, r, false), x = values(D, r, false), init = values(V, r, false);
      const want = init.slice();
      matmulF32(W, x, V, D, 1, true, want);
      for (const inHeap of [true, false]) {
        const got = shared(init);
        assert.ok(pool.hook("vec", inHeap ? heapCopy(W) : W, x, V, D, 1, got), "the pool took the product");
        sameBits(got, want, `pool vec ${V}x${D}${inHeap ? " (heap)" : ""}`);
      }
    }
  } finally {
    pool.close();
  }
});

test("claim hands out each chunk of the current job once, then nothing; chunks tile the output", () => {
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * (CTRL.SCRATCH + 1)));
  Atomics.store(ctrl, CTRL.NEXT, (41 << 8) | 5);
  const got: number[] = [];
  for (let i; (i = claim(ctrl)) >= 0; ) got.push(i);
  assert.equal(got.sort(), [0, 1, 2, 3, 4]);
  assert.is(claim(ctrl), -1);
  assert.is(Atomics.load(ctrl, CTRL.NEXT), 41 << 8, "an exhausted job keeps its number");
  for (const [kind, M, N, chunk] of [[1, 1, 771, 392], [0, 5003, 1, 632], [1, 16, 8, 8]]) {
    const count = Math.ceil((kind === 0 ? M : N) / chunk), seen: number[] = [];
    for (let c = 0; c < count; c++) { const [lo, hi] = chunkRange(kind, M, N, chunk, c); for (let j = lo; j < hi; j++) seen.push(j); }
    assert.equal(seen, Array.from({ length: kind === 0 ? M : N }, (_, j) => j), `chunks of ${kind ? N : M}`);
  }
});

// Three threads race for the chunks; products come back to back (helpers spinning) and after pauses
// longer than SPIN_MS (helpers asleep, woken by the main thread): the same bits every time.
test("the pool with two helpers, products back to back and after pauses = the definition bit for bit", () => {
  const pool = new MatmulPool(3), r = rand(29);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  try {
    const cases = [[1, 768, 771], [3, 129, 1601], [1, 3072, 200]].map(([M, K, N]) => {
      const A = values(M * K, r, false), B = values(K * N, r, false), init = values(M * N, r, false);
      const want = init.slice();
      matmulF32(A, B, M, K, N, false, want);
      return { M, K, N, A, Bh: heapCopy(B), init, want };
    });
    const W = values(4099 * 64, r, false), x = values(64, r, false), Wh = heapCopy(W), initV = values(4099, r, false), wantV = initV.slice();
    matmulF32(W, x, 4099, 64, 1, true, wantV);
    for (let round = 0; round < 40; round++) {
      if (round % 10 === 9) Atomics.wait(pause, 0, 0, 3 * SPIN_MS + 5);
      const { M, K, N, A, Bh, init, want } = cases[round % cases.length];
      const got = shared(init);
      assert.ok(pool.hook("rows", A, Bh, M, K, N, got));
      sameBits(got, want, `round ${round}: rows ${M}x${K}x${N}`);
      const gotV = shared(initV);
      assert.ok(pool.hook("vec", Wh, x, 4099, 64, 1, gotV));
      sameBits(gotV, wantV, `round ${round}: vec`);
    }
  } finally {
    pool.close();
  }
});

// The statement as the interpreter runs it: acc in each float precision, a bias (MADD), the three
// shape forms, with and without the pool, against ops.matmulAccumulate.
test("fastMatmulAccumulate = ops.matmulAccumulate bit for bit (acc precisions, bias, shape forms, pool)", () => {
  const pool = new MatmulPool(2), r = rand(23);
  try {
    const forms: [number[], number[], number[]][] = [
      [[5, 9], [9, 7], [5, 7]], [[4, 12], [12, 3], [4, 3]], [[9, 13], [13], [9]], [[11], [11, 6], [6]],
      [[6, 530], [530, 70], [6, 70]], [[1, 700], [700, 300], [1, 300]], [[400, 333], [333], [400]],
    ];
    for (const [aShape, bShape, accShape] of forms) for (const precision of ["f32", "f16", "bf16"] as Precision[]) for (const bias of [false, true]) {
      const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
      const A = values(size(aShape), r, false), B = heapCopy(values(size(bShape), r, false));
      const cShape = [accShape[accShape.length - 1]], C = bias ? values(cShape[0], r, false) : undefined;
      const start = allocTensor({ precision, shape: accShape, layout: { kind: "RowMajor" } }, true);
      const init = values(size(accShape), r, false);
      for (let i = 0; i < init.length; i++) start.data[i] = precision === "f32" ? init[i] : i % 7;
      const want = { ...start, data: start.data.slice() }, plain = { ...start, data: start.data.slice() };
      matmulAccumulate(want, A, aShape, B, bShape, C, bias ? cShape : undefined, false, new Float32Array(size(accShape)));
      for (const parallel of [undefined, pool.hook]) {
        const got = { ...start, data: start.data.slice() };
        fastMatmulAccumulate(got, A, aShape, B, bShape, C, bias ? cShape : undefined, false, new Float32Array(new SharedArrayBuffer(4 * size(accShape))), parallel);
        sameBits(got.data, want.data, `${aShape}·${bShape} ${precision}${bias ? " + C" : ""}${parallel ? " (pool)" : ""}`);
      }
      assert.not.equal(Array.from(want.data), Array.from(plain.data), "the product changed acc");
    }
  } finally {
    pool.close();
  }
});

test.run();
