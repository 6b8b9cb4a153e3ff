// compiler/analysis.ts on its own: small programs through the real checker, and the decisions the
// back end builds on, each derived by hand from the rules in docs/compiler.md ("Parallel batch
// loops") and from when an elementwise store overwrites what its source still has to read.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { Analysis, assignNeedsCopy, AssignStmt, LoopStmt } from "../compiler/analysis.js";
import { checkSource } from "../compiler/checker.js";
import * as IR from "../compiler/ir.js";

const TYPES = `
type M = Tensor<f32, {4, 64}>;
type Mh = Tensor<f16, {4, 64}>;
type H = Tensor<f32, {4, 16}>;
type V = Tensor<f32, {64}>;
type S = Tensor<f32, {4, 4}>;
type Q = Tensor<f32, {4}>;
type T = Tensor<f32, {4, 4}, TileReg>;
type I = Tensor<int32, {}>;
`;

function program(src: string): IR.Program {
  const { program, diagnostics } = checkSource("t.ta", TYPES + src);
  assert.not.ok(diagnostics.hasErrors, diagnostics.items.map((d) => d.message).join("; "));
  return program;
}
const kernel = (src: string, name: string): IR.Kernel => program(src).kernelByName.get(name)!;

/** Every batch loop of a kernel, outer before inner. */
function loopsOf(k: IR.Kernel): LoopStmt[] {
  const out: LoopStmt[] = [];
  const visit = (ss: IR.Stmt[]) => ss.forEach((s) => { if (s.kind === "loop") { out.push(s); visit(s.body); } });
  visit(k.body);
  return out;
}

/** With no work threshold: does the kernel's first loop run in parallel? */
function parallel(src: string, name: string): boolean {
  const k = kernel(src, name);
  return new Analysis({ parallelThreshold: 0 }).kernel(k).parallel.has(loopsOf(k)[0]);
}

const names = (vs: IR.TensorVar[]) => vs.map((v) => v.name);

// ---- which loops run in parallel ---------------------------------------------------------------------

test("iterations writing their own row run in parallel, with an overlap check against the other f32 param", () => {
  const k = kernel("kernel rows(M x, M y) { batch(i = 0..4) { y[i] = x[i] * 3.0; } }", "rows");
  const par = new Analysis({ parallelThreshold: 0 }).parallelLoop(loopsOf(k)[0], k);
  assert.ok(par);
  assert.equal(par!.privateLocals, []);
  assert.equal(par!.overlapChecks.map(names), [["y", "x"]]);
});

test("column windows i*W +: L with L <= W are disjoint slabs; the body's own local is private", () => {
  const heads = "kernel heads(M x, M y) { batch(h = 0..4) { H t; t = x[:, h * 16 +: 16] * 2.0; y[:, h * 16 +: 16] = t + 1.0; } }";
  const k = kernel(heads, "heads");
  const par = new Analysis({ parallelThreshold: 0 }).kernel(k).parallel.get(loopsOf(k)[0]);
  assert.ok(par);
  assert.equal(names(par!.privateLocals), ["t"]);
  assert.ok(parallel("kernel narrow(M x, M y) { batch(h = 0..4) { y[:, h * 16 +: 8] = x[:, h * 16 +: 8]; } }", "narrow"), "L < W");
  assert.ok(parallel("kernel flipped(M x, M y) { batch(h = 0..4) { y[:, 16 * h +: 16] = x[:, 16 * h +: 16]; } }", "flipped"), "W * h");
});

test("overlapping windows (L > W) stay sequential", () => {
  assert.not.ok(parallel("kernel overlap(M x, M y) { batch(h = 0..4) { y[:, h * 8 +: 16] = x[:, h * 8 +: 16] + 1.0; } }", "overlap"));
});

test("one tensor written along two different axes stays sequential", () => {
  assert.not.ok(parallel("kernel mixed(M x, M y) { batch(h = 0..4) { y[:, h * 16 +: 16] = 1.0; y[h] = y[h] + x[h]; } }", "mixed"));
});

test("reading a slab another iteration writes stays sequential", () => {
  assert.not.ok(parallel("kernel reread(M x, M y) { batch(h = 0..4) { y[:, h * 16 +: 16] = x[:, 0 +: 16] + y[:, 0 +: 16]; } }", "reread"));
  assert.not.ok(parallel("kernel first(M x, M y) { batch(i = 0..4) { y[i] = x[i] + y[0]; } }", "first"));
  // a tensor that is only read may be read anywhere
  assert.ok(parallel("kernel shared(M x, M y) { batch(i = 0..4) { y[i] = x[i] + x[0]; } }", "shared"));
});

test("a kernel call: writing a shared tensor stays sequential, writing the iteration's row is parallel", () => {
  const callees = "kernel addto(V v, V s) { s = s + v; }\nkernel scale(V v, V o) { o = v * 2.0; }\n";
  assert.not.ok(parallel(callees + "kernel acc(M x, V s) { batch(i = 0..4) { addto(x[i], s); } }", "acc"));
  assert.ok(parallel(callees + "kernel each(M x, M y) { batch(i = 0..4) { scale(x[i], y[i]); } }", "each"));
  // the callee only reads its first argument: a shared read-only argument is fine
  assert.ok(parallel(callees + "kernel each2(V v, M y) { batch(i = 0..4) { scale(v, y[i]); } }", "each2"));
});

test("printing, directly or in a callee, keeps a loop sequential", () => {
  assert.not.ok(parallel("kernel p(M x, M y) { batch(i = 0..4) { y[i] = x[i]; REDUCE(y[i]); } }", "p"));
  assert.not.ok(parallel("kernel show(V v) { REDUCE(v); }\nkernel q(M x, M y) { batch(i = 0..4) { y[i] = x[i]; show(y[i]); } }", "q"));
});

test("a loop of one iteration stays sequential", () => {
  assert.not.ok(parallel("kernel one(M x, M y) { batch(i = 0..1) { y[i] = x[i]; } }", "one"));
});

test("only outermost loops: inside a parallel loop, a parallel-safe inner loop runs sequentially", () => {
  const k = kernel("kernel nest(M x, M y) { batch(i = 0..4) { batch(j = 0..64) { y[i, j] = x[i, j]; } } }", "nest");
  const a = new Analysis({ parallelThreshold: 0 });
  const [outer, inner] = loopsOf(k);
  assert.ok(a.parallelLoop(inner, k), "the inner loop alone is parallel-safe");
  assert.equal([...a.kernel(k).parallel.keys()], [outer]);
  // here the outer loop writes y[i] for every r: not its own slab, so the inner loop gets the threads
  const k2 = kernel("kernel acc2(M x, M y) { batch(r = 0..3) { batch(i = 0..4) { y[i] = y[i] + x[i]; } } }", "acc2");
  const [, i2] = loopsOf(k2);
  assert.equal([...new Analysis({ parallelThreshold: 0 }).kernel(k2).parallel.keys()], [i2]);
});

test("overlap checks: each written param against every touched param of its precision, each pair once", () => {
  // y and z are written (slot 1, 2); x is read (f32); w is f16; u is never touched
  const k = kernel("kernel two(M x, M y, M z, Mh w, M u) { batch(i = 0..4) { y[i] = x[i] + w[i]; z[i] = x[i]; } }", "two");
  const par = new Analysis({ parallelThreshold: 0 }).parallelLoop(loopsOf(k)[0], k);
  assert.equal(par!.overlapChecks.map(names), [["y", "x"], ["y", "z"], ["z", "x"]]);
});

// ---- the work estimate --------------------------------------------------------------------------------

test("work: elements stored × (1 + expression nodes), products count multiply-adds, unknown trip counts 16", () => {
  // y[i] = x[i] * 3.0: 64 elements × (1 + 3 nodes) per iteration, 4 iterations
  const k = kernel("kernel rows(M x, M y) { batch(i = 0..4) { y[i] = x[i] * 3.0; } }", "rows");
  const loop = loopsOf(k)[0];
  assert.is(new Analysis().work([loop]), 1024);
  assert.ok(new Analysis({ parallelThreshold: 1024 }).kernel(k).parallel.has(loop));
  assert.not.ok(new Analysis({ parallelThreshold: 1025 }).kernel(k).parallel.has(loop));
  assert.not.ok(new Analysis().kernel(k).parallel.has(loop), "below the default threshold of 16384");
  // MMUL {4,4}·{4,4}: 16 outputs × 4 = 64; a loop to a bound read from a tensor: 16 trips
  const k2 = kernel("kernel mm(T a, T b, T c, I n, Q q) { MMUL(c, a, b); batch(i = 0..n) { q = q + 1.0; } }", "mm");
  assert.is(new Analysis().work([k2.body[0]]), 64);
  assert.is(new Analysis().work([k2.body[1]]), 16 * 4 * 4);
  // a call counts the callee's body: q = q + 1.0 is 4 × 4
  const k3 = kernel("kernel inc(Q q) { q = q + 1.0; }\nkernel twice(Q q) { inc(q); inc(q); }", "twice");
  assert.is(new Analysis().work(k3.body), 32);
});

test("written(): parameters a kernel writes, through its callees too", () => {
  const p = program("kernel scale(V v, V o) { o = v * 2.0; }\nkernel k(M x, M y, V s) { batch(i = 0..4) { scale(x[i], y[i]); } s = x[0]; }");
  assert.equal([...new Analysis().written(p.kernelByName.get("k")!)].sort(), [1, 2]);
  assert.equal([...new Analysis().written(p.kernelByName.get("scale")!)], [1]);
});

// ---- alias copies -------------------------------------------------------------------------------------

function needsCopy(src: string, name: string, at = 0): boolean {
  const assigns: AssignStmt[] = [];
  const visit = (ss: IR.Stmt[]) => ss.forEach((s) => { if (s.kind === "assign") assigns.push(s); else if (s.kind === "loop") visit(s.body); });
  const k = kernel(src, name);
  visit(k.body);
  const s = assigns[at];
  // the per-kernel answer agrees with the per-statement one
  assert.is(new Analysis().kernel(k).copyAssigns.has(s), assignNeedsCopy(s));
  return assignNeedsCopy(s);
}

test("a store that overwrites what its source still reads needs a copy", () => {
  assert.ok(needsCopy("kernel shift(V x) { x[1 +: 3] = x[0 +: 3]; }", "shift"), "x[1 +: 3] = x[0 +: 3]");
  assert.ok(needsCopy("kernel back(V x) { x[0 +: 3] = x[1 +: 3]; }", "back"), "shifted the other way: still another element");
  assert.ok(needsCopy("kernel tr(S m) { m = TRANSPOSE(m); }", "tr"), "m = TRANSPOSE(m)");
  assert.ok(needsCopy("kernel bc(Q v) { v = v * v[0]; }", "bc"), "v[0] is overwritten before v[1] is computed");
  assert.ok(needsCopy("kernel params(V a, V b) { a = b + 1.0; }", "params"), "two f32 params may be views of one tensor");
  assert.ok(needsCopy("kernel rows(M x) { batch(i = 1..4) { x[i] = x[i - 1] + 1.0; } }", "rows"), "x[i] = x[i - 1]");
});

test("reading each element before it is stored, or another tensor that cannot alias, needs no copy", () => {
  assert.not.ok(needsCopy("kernel inplace(V x) { x = x * 2.0 + EXP(x); }", "inplace"));
  assert.not.ok(needsCopy("kernel same(V x) { x[0 +: 3] = x[0 +: 3] + 1.0; }", "same"), "the same window");
  assert.not.ok(needsCopy("kernel row(M y) { batch(i = 0..4) { y[i] = y[i] + 1.0; } }", "row"), "y[i] = y[i] + 1");
  assert.not.ok(needsCopy("kernel tt(S m) { m = TRANSPOSE(TRANSPOSE(m)); }", "tt"), "a double transpose reads the same element");
  assert.not.ok(needsCopy("kernel red(V x) { x = x - MAX(x); }", "red"), "MAX is computed whole before the store");
  assert.not.ok(needsCopy("kernel sm(V x) { x = SOFTMAX(x); }", "sm"));
  assert.not.ok(needsCopy("kernel mixed(M a, Mh b) { a = b * 2.0; }", "mixed"), "an f16 param cannot alias an f32 one");
  assert.not.ok(needsCopy("kernel loc(V a) { V t; t = a; a = t * 2.0; }", "loc", 1), "a local never aliases a param");
});

test("MADD whose C may alias the accumulator is computed before it is stored", () => {
  const two = (src: string, name: string) => {
    const k = kernel(src, name);
    return new Analysis().kernel(k).twoPassMmuls.has(k.body.find((s) => s.kind === "mmul") as IR.Stmt & { kind: "mmul" });
  };
  assert.ok(two("kernel self(T acc, T a, T b) { MADD(acc, a, b, acc); }", "self"));
  assert.ok(two("kernel other(T acc, T a, T b, T c) { MADD(acc, a, b, c); }", "other"), "c may be a view of acc");
  assert.not.ok(two("kernel loc(T acc, T a, T b) { T c; MADD(acc, a, b, c); }", "loc"));
  assert.not.ok(two("kernel plain(T acc, T a, T b) { MMUL(acc, a, b); }", "plain"));
});

test.run();
