// Compiled (eigen) vs interpreter speed of MMUL, compiled GFLOP/s against the machine's peak on
// 1 and 2 threads, matrix×vector bandwidth, cold and cached compile times.
// Run: npm run build && node dist/bench/eigen.js
// Every ratio is against a baseline measured in the same run; nothing here passes or fails.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { checkSource } from "../compiler/checker.js";
import { createExecutor } from "../backends/index.js";
import { allocTensor, TensorView } from "../runtime/tensor.js";

const io = { print: () => {} };

function program(text: string) {
  const { program, diagnostics } = checkSource("bench.ta", text);
  if (diagnostics.hasErrors) throw new Error(diagnostics.items.map((d) => d.message).join("; "));
  return program;
}

function inputs(k: ReturnType<typeof program>["kernels"][number]): TensorView[] {
  return k.params.map((p) => {
    const t = allocTensor(p.type);
    for (let i = 0; i < t.data.length; i++) t.data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    return t;
  });
}

/** Median seconds per call over enough repetitions to take ~minSeconds. */
function time(fn: () => void, minSeconds = 1): number {
  fn();
  const t0 = performance.now();
  fn();
  const once = Math.max(1e-6, (performance.now() - t0) / 1000);
  const reps = Math.max(3, Math.min(2000, Math.ceil(minSeconds / once)));
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) { const s = performance.now(); fn(); ts.push((performance.now() - s) / 1000); }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

const SRC = `
type A1 = Tensor<f32, {1, 768}, TileReg>;
type B1 = Tensor<f32, {768, 3072}, TileReg>;
type C1 = Tensor<f32, {1, 3072}, TileReg>;
type A2 = Tensor<f32, {128, 768}, TileReg>;
type B2 = Tensor<f32, {768, 768}, TileReg>;
type C2 = Tensor<f32, {128, 768}, TileReg>;
type X = Tensor<f32, {768}, TileReg>;
type W = Tensor<f32, {768, 2304}, TileReg>;
type Y = Tensor<f32, {2304}, TileReg>;
kernel row(C1 acc, A1 a, B1 b) { MMUL(acc, a, b); }
kernel sq(C2 acc, A2 a, B2 b) { MMUL(acc, a, b); }
kernel gemv(Y y, X x, W w) { MMUL(y, x, w); }
`;

async function main(): Promise<void> {
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0].speed);
  const cores = cpus().length;
  const avx512 = /avx512f/.test(readFileSync("/proc/cpuinfo", "utf8"));
  const flopsPerCycle = avx512 ? 32 : 16; // one FMA unit: 16 (AVX-512) or 8 (AVX2) f32 lanes × 2 flops
  const peak1 = (mhz / 1000) * flopsPerCycle;
  console.log(`machine: ${cores} cores at ${(mhz / 1000).toFixed(2)} GHz; peak estimate = cores × GHz × ${flopsPerCycle} flop/cycle (${avx512 ? "AVX-512" : "AVX2"} FMA, one FMA unit per core assumed) = ${(peak1 * cores).toFixed(0)} GFLOP/s (${peak1.toFixed(0)} per core)`);

  const prog = program(SRC);
  const be = await createExecutor("eigen", { log: (m) => console.log(m) });
  await be.prepare([prog]);
  const interp = await createExecutor("interp");
  const k = (n: string) => prog.kernelByName.get(n)!;
  const rows: string[] = [];
  for (const [name, flops] of [["row", 2 * 1 * 768 * 3072], ["sq", 2 * 128 * 768 * 768]] as const) {
    const args = inputs(k(name));
    const tc = time(() => be.runKernel(k(name), args, io));
    const ti = time(() => interp.runKernel(k(name), args, io), 2);
    rows.push(`MMUL ${name === "row" ? "{1,768}x{768,3072}  " : "{128,768}x{768,768}"}: eigen ${(flops / tc / 1e9).toFixed(2)} GFLOP/s (${(tc * 1e3).toFixed(3)} ms), interp ${(flops / ti / 1e9).toFixed(2)} GFLOP/s (${(ti * 1e3).toFixed(1)} ms), eigen/interp = ${(ti / tc).toFixed(1)}x`);
  }
  rows.forEach((r) => console.log(r));

  const sqArgs = inputs(k("sq"));
  const gemvArgs = inputs(k("gemv"));
  for (const threads of [1, 2]) {
    const bt = await createExecutor("eigen", { threads });
    await bt.prepare([prog]); // cached: the same unit, loaded with this thread count
    const t = time(() => bt.runKernel(k("sq"), sqArgs, io));
    const g = (2 * 128 * 768 * 768) / t / 1e9;
    const peak = peak1 * Math.min(threads, cores);
    const tv = time(() => bt.runKernel(k("gemv"), gemvArgs, io));
    console.log(`threads=${threads}: {128,768}x{768,768} ${g.toFixed(1)} GFLOP/s = ${((100 * g) / peak).toFixed(0)}% of ${peak.toFixed(0)} GFLOP/s peak; ` +
      `{768}x{768,2304} ${(tv * 1e6).toFixed(0)} us = ${((768 * 2304 * 4) / tv / 1e9).toFixed(1)} GB/s of weights`);
  }

  // compile times: fully cold (fresh cache: PCH + runtime object + kernel), cold kernel with a warm
  // runtime, cached (nothing compiled), and the cost of one call of a tiny kernel
  const small = (n: number) => program(`type F = Tensor<f32, {16}>;\nkernel small(F x, F y) { y = x * ${n}.0 + y; REDUCE(y); }\n`);
  const saved = process.env.TENSORCORE_CACHE;
  const fresh = mkdtempSync(join(tmpdir(), "tc-bench-cache-"));
  process.env.TENSORCORE_CACHE = fresh;
  const build = async (p: ReturnType<typeof program>) => {
    const e = await createExecutor("eigen");
    await e.prepare([p]);
    return e;
  };
  let t0 = performance.now();
  await build(small(1));
  const fullyCold = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await build(small(2));
  const coldKernel = (performance.now() - t0) / 1000;
  const smallProgram = small(2);
  t0 = performance.now();
  const cached = await build(smallProgram);
  const warm = (performance.now() - t0) / 1000;
  if (saved === undefined) delete process.env.TENSORCORE_CACHE; else process.env.TENSORCORE_CACHE = saved;
  rmSync(fresh, { recursive: true, force: true });
  const sk = smallProgram.kernels[0];
  const sargs = inputs(sk);
  const call = time(() => cached.runKernel(sk, sargs, io), 0.5);
  console.log(`compile: fully cold ${fullyCold.toFixed(1)} s (fresh cache: PCH + runtime + kernel), cold kernel ${coldKernel.toFixed(2)} s (runtime cached), cached ${(warm * 1000).toFixed(0)} ms (load only), ` +
    `one call of a 16-element kernel ${(call * 1e6).toFixed(1)} us; cold kernel / cached = ${(coldKernel / warm).toFixed(0)}x`);
}

await main();
