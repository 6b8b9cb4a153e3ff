// The int8 GPT-2 kernels (models/gpt2/linear-int8.ta: per-row activation quantization, int8·int8→int32
// products, dequantization; the int8 embedding LOOKUP and the tied int8 LM head) on small shapes,
// checked with the real library against a tiny generated model.ta: interpreter vs eigen, integer
// results bitwise and float results bitwise too (the kernels' float work is elementwise f32
// arithmetic, rounded per operation on both back ends with -ffp-contract=off; the products are
// exact), plus one case worked out by hand, and the raw int8 product shapes the kernels use.

import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SourceFile } from "../compiler/source.js";
import { checkSource } from "../compiler/checker.js";
import { Session } from "../runtime/session.js";
import { toNumbers, TensorView } from "../runtime/tensor.js";
import { libraryFiles } from "../models/causal-lm.js";
import { cloneViews, eigenFor, makeInputs, runEigen, runInterp } from "./gen/compare.js";
import { ParamInit } from "./gen/random-programs.js";

interface Dims { VOCAB: number; N_CTX: number; D_MODEL: number; N_HEAD: number; N_LAYER: number; D_FF: number }

/** A model.ta as `convert --dtype int8` writes it, for the given sizes. */
function modelTa(d: Dims): string {
  const c = Object.entries({ ...d, HEAD_DIM: d.D_MODEL / d.N_HEAD }).map(([k, v]) => `const ${k} = ${v};`).join("\n");
  return `${c}
const LN_EPS = 1e-5;
const GELU_TANH = 1;
type TokEmb = Tensor<int8, {VOCAB, D_MODEL}, TileReg, RowMajor>;
type PosEmb = Tensor<f32, {N_CTX, D_MODEL}, Global, RowMajor>;
type LayerVec = Tensor<f32, {N_LAYER, D_MODEL}, Global, RowMajor>;
type QKVWeight = Tensor<int8, {N_LAYER, D_MODEL, 3 * D_MODEL}, TileReg, RowMajor>;
type QKVBias = Tensor<f32, {N_LAYER, 3 * D_MODEL}, Global, RowMajor>;
type AttnOutWeight = Tensor<int8, {N_LAYER, D_MODEL, D_MODEL}, TileReg, RowMajor>;
type FcWeight = Tensor<int8, {N_LAYER, D_MODEL, D_FF}, TileReg, RowMajor>;
type FcBias = Tensor<f32, {N_LAYER, D_FF}, Global, RowMajor>;
type ProjWeight = Tensor<int8, {N_LAYER, D_FF, D_MODEL}, TileReg, RowMajor>;
type ModelVec = Tensor<f32, {D_MODEL}, Global, RowMajor>;
type TokEmbScale = Tensor<f32, {VOCAB}, Global, RowMajor>;
type QKVScale = Tensor<f32, {N_LAYER, 3 * D_MODEL}, Global, RowMajor>;
type AttnOutScale = Tensor<f32, {N_LAYER, D_MODEL}, Global, RowMajor>;
type FcScale = Tensor<f32, {N_LAYER, D_FF}, Global, RowMajor>;
type ProjScale = Tensor<f32, {N_LAYER, D_MODEL}, Global, RowMajor>;
`;
}

function library(d: Dims, rows: number) {
  const lib = libraryFiles("gpt2", "int8").map((f) => new SourceFile(f, readFileSync(f, "utf8")));
  return new Session().check([new SourceFile("model.ta", modelTa(d)), new SourceFile("rows", `const ROWS = ${rows};\n`), ...lib]);
}

/** Inputs for the precision kernels: int8 weights in -127..127, valid indices, activations up to ±3. */
function inits(d: Dims, rows: number): Record<string, ParamInit> {
  const w: ParamInit = { kind: "int", lo: -127, hi: 127 };
  return {
    w: w, wte: w, layer: { kind: "int", lo: 0, hi: d.N_LAYER - 1 }, p0: { kind: "int", lo: 0, hi: d.N_CTX - rows },
    n: { kind: "int", lo: 1, hi: d.N_CTX }, tokens: { kind: "int", lo: 0, hi: d.VOCAB - 1 },
    h: { kind: "float", scale: 3 }, final: { kind: "float", scale: 3 }, w_scale: { kind: "float", scale: 0.02 }, wte_scale: { kind: "float", scale: 0.02 },
  };
}

const KERNELS = ["linear_qkv", "linear_attn_out", "linear_fc", "linear_proj", "embed", "lm_head", "quantize_rows", "quantize_rows_ff"];
const OUT: Record<string, string[]> = {
  linear_qkv: ["y"], linear_attn_out: ["y"], linear_fc: ["y"], linear_proj: ["y"], embed: ["x"], lm_head: ["logits"], quantize_rows: ["hq", "xs"], quantize_rows_ff: ["hq", "xs"],
};

function sameBits(name: string, a: TensorView, b: TensorView): void {
  const x = toNumbers(a), y = toNumbers(b);
  assert.is(x.length, y.length);
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
    if (!Object.is(x[i], y[i])) assert.unreachable(`${name}[${i}]: interpreter ${x[i]}, eigen ${y[i]}`);
  }
}

// sizes off every SIMD tile (32-column int8 tiles, 256-row LM-head blocks), ROWS of prefill and decode;
// the last one is large enough for the products to split across threads
const SIZES: [Dims, number[]][] = [
  [{ VOCAB: 37, N_CTX: 32, D_MODEL: 40, N_HEAD: 2, N_LAYER: 2, D_FF: 72 }, [1, 3, 16]],
  [{ VOCAB: 1100, N_CTX: 32, D_MODEL: 96, N_HEAD: 3, N_LAYER: 2, D_FF: 700 }, [1, 5]],
];

for (const [d, rowsList] of SIZES) for (const rows of rowsList) {
  test(`int8 kernels, VOCAB ${d.VOCAB} D_MODEL ${d.D_MODEL} D_FF ${d.D_FF}, ROWS ${rows}: interpreter and eigen agree bit for bit`, async () => {
    const program = library(d, rows);
    const be = await eigenFor([program], {});
    for (const [seed, name] of KERNELS.entries()) {
      const k = program.kernelByName.get(name)!;
      const inputs = makeInputs(k, inits(d, rows), 100 + seed);
      if (name.startsWith("linear_")) {
        // one activation row all zero: xs = 0, h / xs = NaN stored as int8 0, so y = b exactly
        const h = inputs[0];
        for (let j = 0; j < h.shape[1]; j++) (h.data as Float32Array)[j] = 0;
      }
      const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
      assert.is(a.error, undefined, `${name}: ${a.error}`);
      assert.is(b.error, undefined, `${name}: ${b.error}`);
      for (const o of OUT[name]) {
        const i = k.params.findIndex((p) => p.name === o);
        sameBits(`${name}.${o}`, a.params[i], b.params[i]);
      }
      if (name.startsWith("linear_")) {
        const y = toNumbers(a.params[k.params.findIndex((p) => p.name === "y")]);
        const bias = a.params[k.params.findIndex((p) => p.name === "b")], layer = toNumbers(a.params[1])[0];
        const N = y.length / rows, bb = toNumbers(bias).slice(layer * N, (layer + 1) * N);
        assert.equal(y.slice(0, N), bb, `${name}: a zero row gives the bias`);
      }
    }
  });
}

// The same computation by hand: D_MODEL 4, one output channel block, ROWS 1.
test("linear_attn_out by hand: quantize, exact int8 product, dequantize", async () => {
  const d: Dims = { VOCAB: 3, N_CTX: 32, D_MODEL: 4, N_HEAD: 1, N_LAYER: 1, D_FF: 8 };
  const program = library(d, 1);
  const k = program.kernelByName.get("linear_attn_out")!;
  const f = Math.fround;
  const h = [0.5, -1.25, 2.0, 0.1];
  // xs = 2/127; h/xs = 31.75, -79.375, 127, 6.35 → round half even, saturate → 32, -79, 127, 6
  const xs = f(2.0 / 127);
  const hq = h.map((v) => Math.round(f(v / xs)));
  assert.equal(hq, [32, -79, 127, 6]);
  const W = [[1, -2, 3, 127], [0, 5, -6, -127], [7, 8, -9, 100], [-10, 11, 12, -1]]; // {in 4, out 4}
  const ws = [0.01, 0.02, 0.5, 0.001], bias = [0.25, -0.5, 1, 0];
  const acc = [0, 1, 2, 3].map((j) => hq.reduce((s, q, i) => s + q * W[i][j], 0));
  assert.equal(acc, [32 + 0 + 889 - 60, -64 - 395 + 1016 + 66, 96 + 474 - 1143 + 72, 4064 + 10033 + 12700 - 6]);
  const want = acc.map((a, j) => f(f(f(a * xs) * f(ws[j])) + f(bias[j]))); // the f32 store of ws and b
  const args = makeInputs(k, { layer: { kind: "int", lo: 0, hi: 0 } }, 1);
  const set = (name: string, vals: number[]) => { const t = args[k.params.findIndex((p) => p.name === name)]; vals.forEach((v, i) => ((t.data as Float32Array | Int8Array)[i] = v)); };
  set("h", h); set("w", W.flat()); set("w_scale", ws); set("b", bias);
  const be = await eigenFor([program], {});
  for (const r of [runInterp(k, cloneViews(args)), runEigen(be, k, cloneViews(args))]) {
    assert.is(r.error, undefined);
    assert.equal(toNumbers(r.params[k.params.findIndex((p) => p.name === "y")]), want);
  }
});

// The raw product forms on their own, at sizes that use several threads: one activation row times a
// weight matrix (decode; streamed row pairs with per-thread accumulators) and the LM-head form.
test("int8 products: {1,K}·{K,N} and {M,K}·{K} with threads, odd sizes, bitwise", async () => {
  const src = [[1, 301, 263], [1, 2, 40], [1, 129, 1000]].map(([M, K, N], i) =>
    `type A${i} = Tensor<int8, {${M}, ${K}}, TileReg>; type B${i} = Tensor<int8, {${K}, ${N}}, TileReg>; type P${i} = Tensor<int32, {${M}, ${N}}, TileReg>;
kernel mm${i}(P${i} acc, A${i} a, B${i} b) { MMUL(acc, a, b); }`).concat([[1500, 97], [3, 5], [700, 300]].map(([M, K], i) =>
    `type X${i} = Tensor<int8, {${M}, ${K}}, TileReg>; type V${i} = Tensor<int8, {${K}}, TileReg>; type Y${i} = Tensor<int32, {${M}}, TileReg>;
type Z${i} = Tensor<int8, {${M}, ${K + 3}}, TileReg>;
kernel mv${i}(Y${i} acc, X${i} a, V${i} v) { MMUL(acc, a, v); }
kernel mvw${i}(Y${i} acc, Z${i} a, V${i} v) { MMUL(acc, a[:, 3 +: ${K}], v); }`)).join("\n");
  const { program, diagnostics } = checkSource("i8.ta", src);
  assert.not.ok(diagnostics.hasErrors, diagnostics.items.map((x) => x.message).join("; "));
  const be = await eigenFor([program], {});
  for (const k of program.kernels) {
    const init = Object.fromEntries(k.params.map((p) => [p.name, { kind: "int" as const, lo: -128, hi: 127 }]));
    const inputs = makeInputs(k, init, 7);
    const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
    assert.is(b.error, a.error);
    sameBits(k.name, a.params[0], b.params[0]);
  }
});

test.run();
