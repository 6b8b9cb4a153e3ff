// The hand-written product paths (compiler/eigen/runtime/tc_runtime.cpp: mm_rowB, mv_rowA, mm_i8)
// against the interpreter, on small shapes that hit every tile size and tail (rows 1..17, columns
// around the 16/32/64/128-column tiles, k around the 256-row panel, windows with row strides,
// 16-bit weights; int8 in its decode, packed and LM-head forms), built three ways: the host's flags
// (AVX-512, and VNNI where the host has it), `march = x86-64-v3` (AVX2 + FMA) and `simd = sse`
// (portable loops / Eigen). Floats: within (K+2)·2^-24·Σ|terms| of the
// interpreter's double sums (the fast MMUL bound of docs/compiler.md); int8 products: bitwise
// (wrapping int32 sums).

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSource } from "../compiler/checker.js";
import { emitCpp } from "../compiler/eigen/emit-cpp.js";
import { encoder } from "../runtime/precision.js";
import { toNumbers } from "../runtime/tensor.js";
import { cloneViews, eigenFor, makeInputs, runEigen, runInterp } from "./gen/compare.js";

interface Case { name: string; K: number; src: string; int?: boolean; poke?: [number, number, number][] }

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  const add = (K: number, types: string, body: string, int = false, poke?: [number, number, number][]) => {
    const name = `c${n++}`;
    out.push({ name, K, int, poke, src: `${types}\nkernel ${name}${body}` });
  };
  // {M,K}·{K,N} and {K}·{K,N} with weights in each float precision (B read in place)
  const shapes: [number, number, number][] = [[1, 7, 1], [1, 300, 200], [1, 520, 333], [2, 33, 130], [3, 64, 17], [4, 256, 64], [5, 257, 100], [16, 300, 129], [17, 40, 48], [1, 1, 33], [16, 64, 16], [32, 520, 400], [13, 33, 47]];
  for (const [M, K, N] of shapes) for (const p of ["f32", "bf16", "f16"]) {
    const t = (nm: string, pr: string, sh: string) => `type ${nm}${n} = Tensor<${pr}, {${sh}}, TileReg>;`;
    add(K, [t("A", "f32", `${M}, ${K}`), t("B", p, `${K}, ${N}`), t("P", "f32", `${M}, ${N}`)].join("\n"), `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, b); }`);
    if (M === 1) add(K, [t("V", "f32", `${K}`), t("B", p, `${K}, ${N}`), t("Z", "f32", `${N}`)].join("\n"), `(Z${n} z, V${n} v, B${n} b) { MMUL(z, v, b); }`);
    // {M,K}·{K}: the LM head form (A's rows contiguous, in each precision)
    add(K, [t("A", p, `${M * 7 + 1}, ${K}`), t("V", "f32", `${K}`), t("Y", "f32", `${M * 7 + 1}`)].join("\n"), `(Y${n} y, A${n} a, V${n} v) { MMUL(y, a, v); }`);
  }
  // {M,K}·TRANSPOSE({N,K}): up to 8 rows are N dot products over B's rows per row (mv_rowA, B in its
  // own precision); more rows take the general product on the transposed strides; a window of a 3-D
  // cache as B (a decode step's scores, one row per query head of a group); A column-major (copied)
  for (const [M, K, N] of [[1, 64, 64], [1, 33, 17], [1, 300, 70], [3, 64, 16], [8, 40, 9], [9, 40, 33], [16, 40, 33]] as [number, number, number][]) for (const p of ["f32", "bf16", "f16"]) {
    const t = (nm: string, pr: string, sh: string) => `type ${nm}${n} = Tensor<${pr}, {${sh}}, TileReg>;`;
    add(K, [t("A", "f32", `${M}, ${K}`), t("B", p, `${N}, ${K}`), t("P", "f32", `${M}, ${N}`)].join("\n"), `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, TRANSPOSE(b)); }`);
  }
  for (const M of [1, 3])
    add(64, `type C${n} = Tensor<f32, {2, 80, 192}, TileReg>;\ntype A${n} = Tensor<f32, {${M}, 64}, TileReg>;\ntype P${n} = Tensor<f32, {${M}, 64}, TileReg>;`,
      `(P${n} acc, A${n} q, C${n} c) { MMUL(acc, q, TRANSPOSE(c[1][16 +: 64, 128 +: 64])); }`);
  add(50, `type A${n} = Tensor<f32, {4, 50}, TileReg, ColMajor>;\ntype B${n} = Tensor<f16, {21, 50}, TileReg>;\ntype P${n} = Tensor<f32, {4, 21}, TileReg>;`,
    `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, TRANSPOSE(b)); }`);
  // windows: B with a row stride wider than N, A a strided (column-major) view, accumulate into a window
  add(100, `type W${n} = Tensor<bf16, {3, 120, 90}, TileReg>;\ntype X${n} = Tensor<f32, {6, 100}, TileReg, ColMajor>;\ntype Q${n} = Tensor<f32, {6, 80}, TileReg>;`,
    `(Q${n} acc, X${n} x, W${n} w) { MMUL(acc[:, 10 +: 70], x, w[1][5 +: 100, 3 +: 70]); }`);
  // Tiled(R x C) weights set the packed many-row product's k-block and panel width: each supported
  // width (16..64, 40 rounds to 48), k-blocks shorter and longer than K, stacked {L,K,N} weights
  for (const [R, C, M, K, N, p] of [[16, 16, 9, 70, 50, "f32"], [64, 32, 33, 300, 77, "bf16"], [128, 48, 64, 257, 400, "f32"], [256, 64, 12, 600, 130, "f16"], [100, 40, 20, 333, 95, "f32"]] as [number, number, number, number, number, string][]) {
    add(K, `type W${n} = Tensor<${p}, {2, ${K}, ${N}}, TileReg, Tiled(${R}x${C})>;\ntype X${n} = Tensor<f32, {${M}, ${K}}, TileReg>;\ntype Q${n} = Tensor<f32, {${M}, ${N}}, TileReg>;`,
      `(Q${n} acc, X${n} x, W${n} w) { MMUL(acc, x, w[1]); }`);
  }
  // many rows on AMX-BF16 tiles where the host has them (16+ rows): row and column tails of the 32 × 32
  // blocks, K around the 32-wide tile and the 128-long k-block, each weight precision; then values the
  // tiles must not see (an infinity, a NaN, a denormal, a value below 2^-40, in A or in B), which must
  // give the interpreter's IEEE answer (the product falls back to the vector path)
  for (const [M, K, N] of [[16, 128, 140], [17, 33, 500], [31, 129, 100], [40, 257, 64], [64, 96, 47]] as [number, number, number][]) for (const p of ["f32", "bf16", "f16"]) {
    const t = (nm: string, pr: string, sh: string) => `type ${nm}${n} = Tensor<${pr}, {${sh}}, TileReg>;`;
    add(K, [t("A", "f32", `${M}, ${K}`), t("B", p, `${K}, ${N}`), t("P", "f32", `${M}, ${N}`)].join("\n"), `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, b); }`);
  }
  // sums near FLT_MAX: finite in k order (the interpreter, AVX-512); on AMX-BF16 the small pieces of
  // k 32..63 are added before the hi piece of k = 32 (-2^127), so FLT_MAX + rem(w) overflows there
  // and the product must fall back (w = 0x777fffff: its pieces below the top 8 bits are ~2^104)
  {
    const t = (nm: string, pr: string, sh: string) => `type ${nm}${n} = Tensor<${pr}, {${sh}}, TileReg>;`;
    const K = 64, N = 256;
    const w = new Float32Array(new Uint32Array([0x777fffff]).buffer)[0];
    const poke: [number, number, number][] = [];
    for (let i = 0; i < 16 * K; i++) poke.push([1, i, 0]);
    poke.push([1, 0, 3.4028234663852886e38], [1, 32, -(2 ** 127)], [1, 33, w]);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) poke.push([2, k * N + j, j === 0 ? 1 : 0]);
    add(K, [t("A", "f32", `16, ${K}`), t("B", "f32", `${K}, ${N}`), t("P", "f32", `16, ${N}`)].join("\n"), `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, b); }`, false, poke);
  }
  for (const [param, value, p] of [[1, Infinity, "f32"], [1, NaN, "f32"], [1, 1e-42, "f32"], [1, 2 ** -45, "f32"], [2, -Infinity, "f32"], [2, 2 ** -60, "f32"], [2, NaN, "bf16"], [2, 1e-39, "bf16"]] as [number, number, string][]) {
    const t = (nm: string, pr: string, sh: string) => `type ${nm}${n} = Tensor<${pr}, {${sh}}, TileReg>;`;
    add(200, [t("A", "f32", "32, 200"), t("B", p, "200, 96"), t("P", "f32", "32, 96")].join("\n"), `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, b); }`, false, [[param, 777, value]]);
  }
  // int8 · int8 → int32 (exact): every tile height and column tail, odd K, the packed many-row path
  // (one row: threads over k-chunks, odd K, column tails; many rows: the packed panels and their tails)
  for (const [M, K, N] of [[1, 7, 5], [1, 768, 200], [1, 777, 45], [1, 300, 1000], [3, 33, 64], [4, 1, 31], [5, 100, 33], [16, 257, 100], [9, 301, 130], [64, 256, 200], [33, 1001, 50], [128, 130, 57], [16, 64, 32], [31, 63, 33], [32, 65, 16], [47, 128, 97], [17, 192, 300]] as [number, number, number][]) {
    add(K, `type A${n} = Tensor<int8, {${M}, ${K}}, TileReg>;\ntype B${n} = Tensor<int8, {${K}, ${N}}, TileReg>;\ntype P${n} = Tensor<int32, {${M}, ${N}}, TileReg>;`,
      `(P${n} acc, A${n} a, B${n} b) { MMUL(acc, a, b); }`, true);
  }
  // int8 windows: A column-major (strided rows), B a window of a stacked weight (row stride wider than N)
  add(70, `type A${n} = Tensor<int8, {20, 70}, TileReg, ColMajor>;\ntype W${n} = Tensor<int8, {2, 80, 90}, TileReg>;\ntype P${n} = Tensor<int32, {20, 40}, TileReg>;`,
    `(P${n} acc, A${n} a, W${n} w) { MMUL(acc, a, w[1][3 +: 70, 5 +: 40]); }`, true);
  // int8 {M,K} · int8 {K}: the int8 LM head (rows four at a time, K tails)
  for (const [M, K] of [[5, 7], [333, 768], [1001, 45], [64, 33], [70, 130], [9, 64]] as [number, number][]) {
    add(K, `type A${n} = Tensor<int8, {${M}, ${K}}, TileReg>;\ntype V${n} = Tensor<int8, {${K}}, TileReg>;\ntype Y${n} = Tensor<int32, {${M}}, TileReg>;`,
      `(Y${n} y, A${n} a, V${n} v) { MMUL(y, a, v); }`, true);
  }
  return out;
}

// The host's own build, then every narrower path this host can run: AVX-512 with VNNI but no AMX
// (Ice Lake) and without VNNI (Skylake) where it has AVX-512, AVX2, portable. An AMX host must take
// AMX for its int8 products: a build or a kernel that quietly fell back would fail here.
const cpuFlags = new Set((readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "").trim().split(/\s+/));
const avx512 = ["avx512f", "avx512bw", "avx512vl"].every((f) => cpuFlags.has(f));
const targets: [string, string, string, string?][] = [
  ["host", "", "", cpuFlags.has("amx_int8") ? "amx" : undefined],
  ...(avx512 && cpuFlags.has("avx512_vnni") ? [["avx512 + VNNI (no AMX)", `target cpu { march = "icelake-server"; }`, "avx512", "avx512-vnni"] as [string, string, string, string]] : []),
  ...(avx512 ? [["avx512 (no VNNI)", `target cpu { march = "skylake-avx512"; }`, "avx512", "avx512"] as [string, string, string, string]] : []),
  ["avx2", `target cpu { march = "x86-64-v3"; }`, "avx2", "avx2"],
  ["portable", `target cpu { simd = sse; }`, "portable", "portable"],
];

for (const [label, targetSrc, path, int8Path] of targets) {
  test(`fast products on the ${label} path: every tile and tail against the interpreter`, async () => {
    const cs = cases();
    const { program, diagnostics } = checkSource("fast.ta", `${targetSrc}\n${cs.map((c) => c.src).join("\n")}`);
    assert.not.ok(diagnostics.hasErrors, diagnostics.items.map((d) => d.message).join("; "));
    const be = await eigenFor([program], {});
    const got = be.productPath() ?? "none";
    if (label === "host") assert.ok(["avx512", "avx2", "portable"].includes(got));
    else assert.is(got, path);
    if (int8Path) assert.is(be.int8Path(), int8Path);
    const floatPath = be.floatPath() ?? "none";
    assert.is(floatPath, label === "host" && cpuFlags.has("amx_bf16") ? "amx-bf16" : got);
    for (const c of cs) {
      const k = program.kernelByName.get(c.name)!;
      const init = c.int ? Object.fromEntries(k.params.map((p) => [p.name, { kind: "int" as const, lo: -128, hi: 127 }])) : undefined;
      const inputs = makeInputs(k, init, 11);
      for (const [param, at, value] of c.poke ?? []) inputs[param].data[at] = (encoder(k.params[param].type.precision)(value)) as never;
      const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
      assert.is(b.error, a.error);
      const ref = toNumbers(a.params[0]), out = toNumbers(b.params[0]);
      // inputs in [-1, 1]: Σ|terms| ≤ K + |acc|; AMX-BF16's bound is (6K + 8)·2^-24·Σ|terms| (docs/compiler.md)
      const bound = (floatPath === "amx-bf16" ? 6 * c.K + 8 : c.K + 2) * 2 ** -24 * (c.K + 2);
      ref.forEach((r, i) => {
        if (c.int) assert.is(out[i], r, `${c.name}[${i}] (${got})`);
        else if (!Number.isFinite(r)) assert.ok(Object.is(out[i], r), `${c.name}[${i}] (${floatPath}): ${r} vs ${out[i]}`);
        else assert.ok(Math.abs(out[i] - r) <= bound, `${c.name}[${i}] (${floatPath}): ${r} vs ${out[i]} (bound ${bound})`);
      });
    }
  });
}

test("a Tiled(R x C) weight's tile reaches the compiled product; RowMajor gets the default", () => {
  const src = (layout: string) => `type W = Tensor<f32, {2, 300, 96}, TileReg, ${layout}>;\ntype X = Tensor<f32, {16, 300}, TileReg>;\ntype Q = Tensor<f32, {16, 96}, TileReg>;\nkernel k(Q acc, X x, W w) { MMUL(acc, x, w[1]); }`;
  const call = (layout: string) => /tcrt::mm_rowB\((.*)\);/.exec(emitCpp(checkSource("t.ta", src(layout)).program.kernels).code)![1].split(", ").slice(-2).join("x");
  assert.is(call("Tiled(64x32)"), "64x32");
  assert.is(call("RowMajor"), "0x0");
});

test("up to 8 rows times TRANSPOSE(keys) are dot products per row (mv_rowA); more rows the general product", () => {
  const src = (M: number) => `type C = Tensor<f32, {2, 80, 192}, TileReg>;\ntype A = Tensor<f32, {${M}, 64}, TileReg>;\ntype P = Tensor<f32, {${M}, 64}, TileReg>;\nkernel k(P acc, A q, C c) { MMUL(acc, q, TRANSPOSE(c[1][16 +: 64, 128 +: 64])); }`;
  const code = (M: number) => emitCpp(checkSource("t.ta", src(M)).program.kernels).code;
  for (const M of [1, 3, 8]) assert.is((code(M).match(/tcrt::mv_rowA\(/g) ?? []).length, M, `${M} rows`);
  assert.not.ok(code(9).includes("tcrt::mv_rowA("));
});

// Pool workers (and libgomp's, for Eigen's own GEMM) may still spin after a parallel product; the process (or a kernel worker thread)
// that ends then must not unload the library under them (it did: SIGSEGV at exit, 5 runs in 6).
test("a process that ends right after parallel products exits cleanly", () => {
  const lm = new URL("../models/causal-lm.js", import.meta.url).href;
  const script = `import { CausalLM, EMBEDDED_MODEL } from ${JSON.stringify(lm)};
const m = await CausalLM.load(EMBEDDED_MODEL, { backend: "eigen", log: () => {} });
m.prefill(Array.from({ length: 64 }, (_, i) => 100 + i));`;
  for (let i = 0; i < 4; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.is(r.signal, null, `run ${i}: killed by ${r.signal}`);
    assert.is(r.status, 0, `run ${i}: ${r.stderr}`);
  }
});

test.run();
