// The interpreter's strided f32 paths (interpreter/fast/views.ts: view reads and stores, broadcast
// element-wise arithmetic, TRANSPOSE of a view, and the MMUL accumulator read and bias add that
// use them) against the plain definitions in interpreter/ops.ts: bit-identical storage and results
// on random windows of random tensors (ranks 0 to 4, unit and non-unit strides), every broadcast
// form ops.ts's broadcastIndex has (one value, as many values as the output, numpy broadcasting on
// the last axes), with NaN, ±Inf, -0 and subnormals among the values.

import { test } from "uvu";
import * as assert from "uvu/assert";
import * as ops from "../interpreter/ops.js";
import * as views from "../interpreter/fast/views.js";
import { fastMatmulAccumulate } from "../interpreter/fast/products.js";
import { Span } from "../compiler/source.js";
import { allocTensor, isContiguous, TensorView } from "../runtime/tensor.js";

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const SPECIAL = [NaN, Infinity, -Infinity, -0, 0, 1e-40, -3e-39, 2 ** 127];
function values(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() < 0.05 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : (r() - 0.5) * 2 ** Math.floor(r() * 41 - 20);
  return a;
}
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const size = (s: readonly number[]): number => s.reduce((x, y) => x * y, 1);
function sameBits(x: ArrayLike<number>, y: ArrayLike<number>, what: string): void {
  assert.is(x.length, y.length, `${what}: length`);
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) assert.unreachable(`${what}[${i}]: ${x[i]} vs ${y[i]}`);
}
const SPAN = undefined as unknown as Span; // f32 arithmetic never faults

/**
 * A random window of a random f32 tensor (row- or column-major): the base is up to two larger in each axis
 * (and has up to one extra leading axis, indexed), so the window's strides are not its own row-major
 * strides; `shape` fixes the window's shape.
 */
function window(r: () => number, shape: number[]): TensorView {
  const extra = int(r, 0, 1);
  const baseShape = [...(extra ? [int(r, 1, 3)] : []), ...shape.map((d) => d + int(r, 0, 2))];
  // half the bases are column-major, so the last axis has a stride other than 1
  const base = allocTensor({ precision: "f32", shape: baseShape, layout: { kind: r() < 0.5 ? "RowMajor" : "ColMajor" } });
  base.data.set(values(base.data.length, r));
  let offset = 0;
  const strides = base.strides.slice(extra);
  if (extra) offset += int(r, 0, baseShape[0] - 1) * base.strides[0];
  shape.forEach((d, a) => { offset += int(r, 0, baseShape[a + extra] - d) * strides[a]; });
  return { precision: "f32", data: base.data, offset, shape, strides };
}
function randomShape(r: () => number, rank: number): number[] {
  return Array.from({ length: rank }, () => int(r, 1, 6));
}
/** Shapes that broadcast to `out` as ops.ts reads them: one value, the output's count, numpy forms. */
function operandShapes(out: number[]): number[][] {
  const forms: number[][] = [[], [1], out, [size(out)]];
  for (let k = 1; k <= out.length; k++) forms.push(out.slice(out.length - k)); // trailing axes
  if (out.length >= 1) forms.push([...out.slice(0, -1), 1]); // a column
  if (out.length >= 2) forms.push([out[0], ...out.slice(1).map(() => 1)]);
  if (out.length >= 3) forms.push([1, out[1], 1]);
  return forms;
}

test("gather of a strided f32 view = ops.gather (ranks 0 to 4)", () => {
  const r = rand(5);
  for (let n = 0; n < 300; n++) {
    const v = window(r, randomShape(r, n % 5));
    const want = ops.gather(v, "f32", new Float32Array(size(v.shape)));
    sameBits(views.gather(v, "f32", new Float32Array(size(v.shape))), want, `gather ${v.shape} strides ${v.strides}`);
  }
});

test("scatter into a strided f32 view = ops.scatter (every broadcast form)", () => {
  const r = rand(7);
  for (let n = 0; n < 200; n++) {
    const shape = randomShape(r, n % 5);
    for (const valueShape of operandShapes(shape)) {
      const v = window(r, shape), vals = values(size(valueShape), r);
      const want = { ...v, data: v.data.slice() }, got = { ...v, data: v.data.slice() };
      ops.scatter(vals, valueShape, want);
      views.scatter(vals, valueShape, got);
      sameBits(got.data, want.data, `scatter ${valueShape} into ${shape}`);
    }
  }
});

test("binary f32 arithmetic = ops.binary (every operator and broadcast form)", () => {
  const r = rand(11);
  for (let n = 0; n < 120; n++) {
    const shape = randomShape(r, n % 5);
    const forms = operandShapes(shape);
    for (const op of ["+", "-", "*", "/", "%"] as const) for (const aShape of forms) {
      const bShape = forms[int(r, 0, forms.length - 1)];
      const a = values(size(aShape), r), b = values(size(bShape), r);
      const want = new Float32Array(size(shape)), got = new Float32Array(size(shape));
      ops.binary(op, "f32", a, aShape, b, bShape, want, shape, SPAN);
      views.binary(op, "f32", a, aShape, b, bShape, got, shape, SPAN);
      sameBits(got, want, `${aShape} ${op} ${bShape} -> ${shape}`);
      // and the operands the other way round (- / % are not symmetric)
      ops.binary(op, "f32", b, bShape, a, aShape, want, shape, SPAN);
      views.binary(op, "f32", b, bShape, a, aShape, got, shape, SPAN);
      sameBits(got, want, `${bShape} ${op} ${aShape} -> ${shape}`);
    }
  }
});

test("TRANSPOSE of a strided view = ops.transpose2d of its gather", () => {
  const r = rand(13);
  for (let n = 0; n < 200; n++) {
    const v = window(r, randomShape(r, 2));
    const want = new Float32Array(size(v.shape)), got = new Float32Array(size(v.shape));
    ops.transpose2d(ops.gather(v, "f32", new Float32Array(size(v.shape))), v.shape, want);
    views.transposeViewF32(v, got);
    sameBits(got, want, `transpose ${v.shape} strides ${v.strides}`);
  }
});

// MMUL into a window of a larger tensor (a cache row block, a column block of heads) with a bias in
// each broadcast form: the accumulator is read and stored through views.ts.
test("fastMatmulAccumulate into a strided accumulator with a broadcast bias = ops.matmulAccumulate", () => {
  const r = rand(17);
  for (let n = 0; n < 60; n++) {
    const M = int(r, 1, 6), K = int(r, 1, 20), N = int(r, 1, 9);
    const A = values(M * K, r), B = values(K * N, r);
    for (const cShape of [undefined, [N], [M, 1], [1], [M, N]]) {
      const acc = window(r, [M, N]);
      const C = cShape && values(size(cShape), r);
      const want = { ...acc, data: acc.data.slice() }, got = { ...acc, data: acc.data.slice() };
      ops.matmulAccumulate(want, A, [M, K], B, [K, N], C, cShape, false, new Float32Array(M * N));
      fastMatmulAccumulate(got, A, [M, K], B, [K, N], C, cShape, false, new Float32Array(M * N));
      sameBits(got.data, want.data, `${M}x${K}x${N} C ${cShape}`);
    }
  }
});

// MMUL(y, a, y) and MMUL(y, a, w, y): an operand that is the accumulator's own storage is read as
// it was before the product (a kernel writing y in place would read rows of B it already changed,
// and add the updated y as the bias).
test("fastMatmulAccumulate with an operand reading the accumulator's storage = ops.matmulAccumulate", () => {
  const r = rand(23);
  for (const [M, N] of [[6, 5], [9, 3], [8, 8]]) {
    const acc = allocTensor({ precision: "f32", shape: [M, N], layout: { kind: "RowMajor" } });
    acc.data.set(values(M * N, r));
    const a = values(M * M, r), w = values(M * N, r);
    for (const form of ["B", "C"]) {
      const want = { ...acc, data: acc.data.slice() }, got = { ...acc, data: acc.data.slice() };
      for (const t of [want, got]) {
        const self = t.data as Float32Array;
        const run = t === want ? ops.matmulAccumulate : fastMatmulAccumulate;
        if (form === "B") run(t, a, [M, M], self, [M, N], undefined, undefined, false, new Float32Array(M * N));
        else run(t, a, [M, M], w.subarray(0, M * N), [M, N], self, [M, N], false, new Float32Array(M * N));
      }
      sameBits(got.data, want.data, `${M}x${N}, the accumulator as ${form}`);
    }
  }
});

test("the windows are strided and the broadcast forms differ (the cases above are not all contiguous)", () => {
  const r = rand(19);
  let strided = 0, lastStrided = 0;
  for (let n = 0; n < 50; n++) {
    const w = window(r, [3, 4]);
    if (!isContiguous(w)) strided++;
    if (w.strides[1] !== 1) lastStrided++;
  }
  assert.ok(strided > 25, `${strided} of 50 windows strided`);
  assert.ok(lastStrided > 10, `${lastStrided} of 50 windows strided on the last axis`);
  assert.equal(views.broadcastStrides([3, 1], [2, 3, 4]), [0, 1, 0]);
  assert.equal(views.broadcastStrides([4], [2, 3, 4]), [0, 0, 1]);
  assert.equal(views.broadcastStrides([24], [2, 3, 4]), [12, 4, 1]);
  assert.equal(views.broadcastStrides([1, 1], [2, 3]), [0, 0]);
});

test.run();
