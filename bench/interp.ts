// Interpreter MMUL throughput: `node dist/bench/interp.js`. Runs f32 MMUL through the reference
// interpreter (a checked program, so the timing includes view resolution and the store) for
// {1,768}x{768,3072} (a GPT-2 MLP projection for one token) and {128,768}x{768,768}, and
// a naive triple-loop baseline over the same Float32Arrays measured in the same run.
import { SourceFile } from "../compiler/source.js";
import { Interpreter } from "../interpreter/interpreter.js";
import { MatmulPool } from "../interpreter/fast/parallel.js";
import { Session } from "../runtime/session.js";
import { TensorView, toShared } from "../runtime/tensor.js";
import { toWasmHeap } from "../interpreter/fast/wasm-kernels.js";

const TARGET_GFLOPS = 1.5;

function naive(A: Float32Array, B: Float32Array, C: Float32Array, M: number, K: number, N: number): void {
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
      C[i * N + j] += s;
    }
}

function time(fn: () => void, minMs = 400): number {
  fn(); // warm up
  let reps = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs || reps < 2) {
    fn();
    reps++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return elapsed / reps / 1000; // seconds per run
}

function fill(t: TensorView, seed: number): void {
  const d = t.data as Float32Array;
  let x = seed;
  for (let i = 0; i < d.length; i++) { x = (x * 1103515245 + 12345) >>> 0; d[i] = (x / 4294967296) - 0.5; }
}

interface Row { shape: string; gflops: number; naive: number; ratio: number; wasm1: number; wasm2: number }

// The models' path: the weight in the WebAssembly heap, the product in interpreter/fast/wasm (one pool
// thread, then two); the same kernel call through the same interpreter, bit-identical results.
const pools = [new MatmulPool(1), new MatmulPool(2)];

function bench(M: number, K: number, N: number): Row {
  const src = `type A = Tensor<f32, {${M},${K}}, TileReg>;\ntype B = Tensor<f32, {${K},${N}}, TileReg>;\ntype C = Tensor<f32, {${M},${N}}, TileReg>;\nkernel mm(A a, B b, C c) { MMUL(c, a, b); }\n`;
  const session = new Session();
  const program = session.check([new SourceFile("bench.ta", src)]);
  session.define(program);
  const interp = new Interpreter();
  const io = { print: () => {} };
  const k = program.kernels[0];
  const mk = (shape: number[]): TensorView => ({ precision: "f32", data: new Float32Array(shape.reduce((a, b) => a * b)), offset: 0, shape, strides: shape.length === 2 ? [shape[1], 1] : [1] });
  const a = mk([M, K]), b = mk([K, N]), c = mk([M, N]);
  fill(a, 1); fill(b, 2);
  const flops = 2 * M * K * N;
  const tInterp = time(() => interp.runKernel(k, [a, b, c], io));
  const tNaive = time(() => naive(a.data as Float32Array, b.data as Float32Array, c.data as Float32Array, M, K, N));
  const gflops = flops / tInterp / 1e9, naiveG = flops / tNaive / 1e9;
  const [wasm1, wasm2] = pools.map((pool) => {
    const run = new Interpreter({ sharedMemory: true, parallelMatmul: pool.hook });
    const args = [toShared(a), toWasmHeap(b), toShared(c)];
    return flops / time(() => run.runKernel(k, args, io)) / 1e9;
  });
  return { shape: `{${M},${K}}x{${K},${N}}`, gflops, naive: naiveG, ratio: gflops / naiveG, wasm1, wasm2 };
}

const rows = [bench(1, 768, 3072), bench(128, 768, 768)];
console.log("interpreter f32 MMUL (one core)");
for (const r of rows) {
  console.log(`  ${r.shape.padEnd(22)} interp ${r.gflops.toFixed(2).padStart(6)} GFLOP/s   naive ${r.naive.toFixed(2).padStart(6)} GFLOP/s   ratio ${r.ratio.toFixed(2)}x   ${r.gflops >= TARGET_GFLOPS ? "ok" : `below the ${TARGET_GFLOPS} GFLOP/s target`}`);
  console.log(`  ${"".padEnd(22)} weight in the wasm heap: ${r.wasm1.toFixed(2)} GFLOP/s on one thread, ${r.wasm2.toFixed(2)} on two (${(r.wasm1 / r.gflops).toFixed(1)}x, ${(r.wasm2 / r.gflops).toFixed(1)}x the TypeScript kernels)`);
}
for (const p of pools) p.close();
if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
