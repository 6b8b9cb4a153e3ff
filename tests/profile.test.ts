// The profiler: compiler/cost.ts's bytes and FLOPs against values derived by hand, and both back
// ends' profiles of the same run giving the same calls, bytes and FLOPs per kernel and statement.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createExecutor } from "../backends/index.js";
import { checkSource } from "../compiler/checker.js";
import { stmtCost } from "../compiler/cost.js";
import { emitCpp } from "../compiler/eigen/emit-cpp.js";
import * as IR from "../compiler/ir.js";
import { buildReport, formatProfile, profileFigure, ProfileReport } from "../runtime/profile.js";
import { allocTensor } from "../runtime/tensor.js";
import { keepRoofline, machineBusy, readRooflineEntry } from "../runtime/roofline.js";
import { availableParallelism } from "node:os";

// Per execution of main, derived by hand (f32 4 bytes, bf16/f16 2):
//   line 13 `c = 0;`            writes c {4,3} f32: 48 B
//   line 14 MMUL(c, a, w)       2*4*8*3 = 192 FLOPs; reads a 128 + w (bf16) 48 + c 48, writes c 48: 272 B
//   line 15 batch: 4 iterations of line 16's call
//   line 16 scale(a[i], b)      4 calls of scale (16 FLOPs, 96 B each): 64 FLOPs, 384 B
//   line 18 `h = a * 0.5;`      32 FLOPs; reads a 128, writes h (f16) 64: 192 B
//   line 19 SOFTMAX(c)          5*12 = 60 FLOPs; reads 48, writes 48: 96 B
//   scale, line 8 `x = x * 2.0 + b;`  2*8 = 16 FLOPs; reads x 32 + b 32, writes x 32: 96 B
const SRC = `const M = 4; const K = 8; const N = 3;
type A = Tensor<f32, {M, K}, TileReg>;
type B = Tensor<bf16, {K, N}, TileReg>;
type C = Tensor<f32, {M, N}, TileReg>;
type Row = Tensor<f32, {K}>;
type H = Tensor<f16, {M, K}>; type RowT = Tensor<f32, {K}, TileReg>;
kernel scale(RowT x, Row b) {
  x = x * 2.0 + b;
}

kernel main(A a, B w, C c, Row b, H h) {

  c = 0;
  MMUL(c, a, w);
  batch(i = 0..M step 1) {
    scale(a[i], b);
  }
  h = a * 0.5;
  SOFTMAX(c);
}
`;
const RUNS = 2;
const EXPECT: Record<string, { calls: number; flops: number; bytes: number }> = {
  "scale 8": { calls: 4, flops: 4 * 16, bytes: 4 * 96 }, // per run of main: 4 executions
  "main 13": { calls: 1, flops: 0, bytes: 48 },
  "main 14": { calls: 1, flops: 192, bytes: 272 },
  "main 15": { calls: 1, flops: 64, bytes: 384 },
  "main 16": { calls: 4, flops: 64, bytes: 384 },
  "main 18": { calls: 1, flops: 32, bytes: 192 },
  "main 19": { calls: 1, flops: 60, bytes: 96 },
};
const KERNELS: Record<string, { calls: number; flops: number; bytes: number }> = {
  scale: { calls: 4, flops: 64, bytes: 384 },
  main: { calls: 1, flops: 192 + 64 + 32 + 60, bytes: 48 + 272 + 384 + 192 + 96 },
};

function program(): IR.Program {
  const r = checkSource("prof.ta", SRC);
  if (r.diagnostics.hasErrors) throw new Error(r.diagnostics.items.map((d) => d.message).join("\n"));
  return r.program;
}

async function profileOn(backend: "interp" | "eigen"): Promise<ProfileReport> {
  const p = program();
  const exec = await createExecutor(backend, { profile: true });
  try {
    await exec.prepare([p]);
    const main = p.kernelByName.get("main")!;
    const args = main.params.map((v) => {
      const t = exec.alloc(v.type);
      for (let i = 0; i < t.data.length; i++) t.data[i] = v.type.precision === "f32" ? (i % 7) * 0.25 : 0x3c00; // f16/bf16: ~1
      return t;
    });
    for (let r = 0; r < RUNS; r++) exec.runKernel(main, args, { print: () => {} });
    return buildReport(exec.profile!()!, { bandwidthGBps: 10, peakGflops: 100, threads: 2, note: "test" });
  } finally {
    exec.close();
  }
}

const line = (where: string) => where.split(":")[0];

test("stmtCost: bytes and FLOPs of each statement, derived by hand", () => {
  const p = program();
  const byLine = new Map<string, IR.Stmt>();
  const walk = (ss: IR.Stmt[]) => ss.forEach((s) => { byLine.set(String(s.span.file.position(s.span.start).line), s); if (s.kind === "loop") walk(s.body); });
  for (const k of p.kernels) walk(k.body);
  const cost = (l: number) => stmtCost(byLine.get(String(l))!);
  assert.equal(cost(8), { flops: 16, bytesRead: 64, bytesWritten: 32 });
  assert.equal(cost(13), { flops: 0, bytesRead: 0, bytesWritten: 48 });
  assert.equal(cost(14), { flops: 192, bytesRead: 128 + 48 + 48, bytesWritten: 48 });
  assert.equal(cost(18), { flops: 32, bytesRead: 128, bytesWritten: 64 });
  assert.equal(cost(19), { flops: 60, bytesRead: 48, bytesWritten: 48 });
  assert.equal(cost(15), { flops: 0, bytesRead: 0, bytesWritten: 0 }); // a loop: its body is charged
  assert.equal(cost(16), { flops: 0, bytesRead: 0, bytesWritten: 0 }); // a call: its callee is charged
});

test("stmtCost: int8 products, MADD, reductions, LOOKUP", () => {
  const r = checkSource("q.ta", `type Q = Tensor<int8, {2, 64}, TileReg>;
type W = Tensor<int8, {64, 16}, TileReg>;
type Acc = Tensor<int32, {2, 16}, TileReg>;
type F = Tensor<f32, {2, 16}, TileReg>;
type G = Tensor<f32, {2, 8}, TileReg>;
type Hm = Tensor<f32, {8, 16}, TileReg>;
type Bias = Tensor<f32, {16}, TileReg>;
type Tab = Tensor<f16, {10, 16}>;
type I = Tensor<int32, {2}>;
type Col = Tensor<f32, {2}>;
kernel k(Q q, W w, Acc acc, F f, G g, Hm h, Bias bias, Tab tab, I idx, Col m) {
  MMUL(acc, q, w);
  MADD(f, g, h, bias);
  m = MEAN(f);
  LOOKUP(f, tab, idx);
  REDUCE(m);
}`);
  if (r.diagnostics.hasErrors) assert.unreachable(r.diagnostics.items.map((d) => d.message).join("\n"));
  const [mm, madd, mean, lookup, print] = r.program!.kernels[0].body.map(stmtCost);
  // int8 {2,64}·{64,16} into int32: 2*2*64*16 FLOPs; reads q 128 + w 1024 + acc 128, writes acc 128
  assert.equal(mm, { flops: 4096, bytesRead: 1280, bytesWritten: 128 });
  // f32 {2,8}·{8,16} + bias: 512 + 32 FLOPs; reads g 64 + h 512 + bias 64 + f 128, writes f 128
  assert.equal(madd, { flops: 544, bytesRead: 768, bytesWritten: 128 });
  // a mean over 16 for 2 rows: 32 adds + 2 divides; reads f 128, writes m 8
  assert.equal(mean, { flops: 34, bytesRead: 128, bytesWritten: 8 });
  // 2 rows of 16 f16 (64 B) and 2 int32 indices (8 B) read, f written (128 B)
  assert.equal(lookup, { flops: 0, bytesRead: 72, bytesWritten: 128 });
  assert.equal(print, { flops: 2, bytesRead: 8, bytesWritten: 0 });
});

for (const backend of ["interp", "eigen"] as const) {
  test(`${backend}: calls, bytes and FLOPs per statement and kernel equal the hand-derived values`, async () => {
    const r = await profileOn(backend);
    for (const [key, want] of Object.entries(EXPECT)) {
      const [k, l] = key.split(" ");
      const row = r.stmts.find((s) => s.kernel === k && line(s.where) === l);
      assert.ok(row, `${backend}: no row for ${key}`);
      assert.equal({ calls: row!.calls, flops: row!.flops, bytes: row!.bytes }, { calls: want.calls * RUNS, flops: want.flops * RUNS, bytes: want.bytes * RUNS }, `${backend} ${key}`);
      assert.ok(row!.seconds >= 0);
    }
    assert.is(r.stmts.length, Object.keys(EXPECT).length);
    for (const [k, want] of Object.entries(KERNELS)) {
      const row = r.kernels.find((x) => x.kernel === k)!;
      assert.equal({ calls: row.calls, flops: row.flops, bytes: row.bytes }, { calls: want.calls * RUNS, flops: want.flops * RUNS, bytes: want.bytes * RUNS }, `${backend} kernel ${k}`);
    }
    const main = r.kernels.find((x) => x.kernel === "main")!;
    assert.ok(main.seconds > 0 && r.totalSeconds === main.seconds, "total = the outermost kernel's time");
    // rates follow from the counts; the roofline share from the test roofline (10 GB/s, 100 GFLOP/s)
    const mm = r.stmts.find((s) => s.kernel === "main" && line(s.where) === "14")!;
    if (mm.seconds > 0) {
      assert.ok(Math.abs(mm.gflops - mm.flops / mm.seconds / 1e9) < 1e-9);
      assert.ok(Math.abs(mm.ofRoofline - Math.max(mm.bytes / 10e9, mm.flops / 100e9) / mm.seconds) < 1e-9);
    }
    assert.match(formatProfile(r), /MMUL\(c, a, w\);/);
    const fig = profileFigure(r);
    assert.ok(fig.data.length === 3 && "grid" in fig.layout);
  });
}

test("profiling is off unless asked: no counts, no timers in the emitted code", async () => {
  const p = program();
  const plain = emitCpp(p.kernels).code, timed = emitCpp(p.kernels, { profile: true });
  assert.not.match(plain, /tc_prof/);
  assert.match(timed.code, /tc_prof_add/);
  assert.is(timed.profileSlots!.length, 2 + 7); // two kernels, seven statements (the loop and its call included)
  const exec = await createExecutor("interp", {});
  await exec.prepare([p]);
  const main = p.kernelByName.get("main")!;
  exec.runKernel(main, main.params.map((v) => allocTensor(v.type)), { print: () => {} });
  assert.is(exec.profile?.(), undefined);
});

/** A notebook session of the kernel's engine: run a cell, and every event it emitted so far. */
async function notebook() {
  const { LanguageEngine } = await import("../kernel/engine.js");
  const { PLOTLY_MIME } = await import("../kernel/display.js");
  const e = new LanguageEngine({ interrupt: new Int32Array(new SharedArrayBuffer(4)) });
  const events: { kind: string; text?: string; data?: Record<string, unknown> }[] = [];
  const run = (code: string) => e.execute({ code, user_expressions: {}, execution_count: 1 }, (ev) => events.push(ev as never));
  return { run, events, PLOTLY_MIME };
}

test("%profile runs a line against the session's tensors and shows the table and a plotly chart", async () => {
  const { run, events, PLOTLY_MIME } = await notebook();
  assert.is((await run("type V = Tensor<f32, {64}>;\nkernel inc(V v) { v = v * 2.0 + 1; }\nV x;\nx = 1.5;")).status, "ok");
  assert.is((await run("%profile inc(x);")).status, "ok");
  const text = events.filter((x) => x.kind === "stream").map((x) => x.text).join("");
  // inc: 2 FLOPs per element over 64 elements (128), reads and writes 256 bytes (512)
  assert.match(text, /^inc\s+1\s+[\d.]+\s+[\d.]+\s+128\s+512\s/m);
  assert.match(text, /^inc 2:\d+ kernel inc\(V v\).*\s1\s+[\d.]+\s+[\d.]+\s+128\s+512\s/m);
  assert.ok(events.some((x) => x.kind === "display" && x.data && PLOTLY_MIME in x.data));
  // the line ran: x = 1.5 * 2 + 1
  await run("REDUCE(x);");
  assert.match(events.filter((x) => x.kind === "stream").map((x) => x.text).join(""), /^256$/m);
});

test("%profile --model profiles a model folder's prefill and decode steps on the session's back end", async () => {
  const { EMBEDDED_MODEL } = await import("../models/causal-lm.js");
  const { run, events, PLOTLY_MIME } = await notebook();
  assert.is((await run("%backend interp")).status, "ok");
  assert.is((await run(`%profile --model ${EMBEDDED_MODEL} --prompt 3 --tokens 2`)).status, "ok");
  const text = events.filter((x) => x.kind === "stream").map((x) => x.text).join("");
  assert.match(text, /== prefill of 3 tokens/);
  assert.match(text, /== 2 decode steps/);
  // the decode instantiation's forward runs once per step; the prefill's once
  const forwardCalls = [...text.matchAll(/^forward\s+(\d+)\s/gm)].map((m) => Number(m[1]));
  assert.equal(forwardCalls, [1, 2]);
  assert.is(events.filter((x) => x.kind === "display" && x.data && PLOTLY_MIME in x.data).length, 2);
  assert.is((await run("%profile --model /nonexistent-folder")).status, "error");
});

test("a roofline measured on a busy machine is not kept as if it were quiet", () => {
  const cores = availableParallelism();
  assert.ok(machineBusy(cores / 2) && machineBusy(cores * 4), "half the cores busy or more");
  assert.not.ok(machineBusy(cores / 2 - 0.01), "less than half the cores busy");
  const r = (bw: number, fma: number, busy?: boolean) => ({ bandwidthGBps: bw, peakGflops: fma, threads: 2, note: "n", ...(busy ? { busy } : {}) });
  assert.equal(keepRoofline(undefined, r(5, 40, true)), r(5, 40, true), "the first measurement is kept, marked busy");
  assert.equal(keepRoofline(r(5, 40, true), r(30, 200)), r(30, 200), "a quiet measurement replaces a busy one");
  assert.equal(keepRoofline(r(5, 190, true), r(20, 60, true)), r(20, 190, true), "two busy ones: the higher of each figure, still busy");
});



test("a damaged roofline cache entry is measured again, not used", () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-roofline-"));
  try {
    const file = join(dir, "entry.json");
    const good = { bandwidthGBps: 29, peakGflops: 150, threads: 2, note: "a CPU" };
    for (const [text, kept] of [
      [JSON.stringify(good), true],
      ["{\"bandwidthGBps\": 29", false], // cut short
      ["null", false],
      ["{}", false],
      [JSON.stringify({ ...good, peakGflops: "150" }), false],
      [JSON.stringify({ ...good, bandwidthGBps: -1 }), false],
      [JSON.stringify({ ...good, threads: 1 }), false], // another thread count's
    ] as const) {
      writeFileSync(file, text);
      assert.equal(readRooflineEntry(file, 2), kept ? good : undefined, text);
    }
    assert.is(readRooflineEntry(join(dir, "none.json"), 2), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
