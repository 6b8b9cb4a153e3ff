// An int8 model folder (`convert --dtype int8`) end to end: the 3-layer GPT-2 converted to int8 runs
// on both back ends with the same logits to within f32 rounding (prefill, then decode steps), and
// stays close to the f32 folder of the same HF model (itself verified against HF to ~1e-6 in
// models.e2e.ts). The int8 products are exact on both; attention's f32 products are summed in each
// back end's own order (the fast MMUL bound of docs/compiler.md), and the next quantization mostly
// absorbs that: most steps come out bit for bit, a few an ulp or two apart.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CausalLM } from "../../models/causal-lm.js";
import { ensureModel, PYTHON } from "../../models/zoo.js";

const tiny = () => ensureModel("gpt2-tiny-custom", ["--layers", "3", "--heads", "6", "--width", "192"], "gpt2-3x6x192");
function int8Folder(): string {
  const m = tiny(), out = `${m.dsl}-int8`;
  if (!existsSync(`${out}/manifest.json`)) {
    const r = spawnSync(PYTHON, ["-m", "tensorcore_ref", "convert", m.hf, "--out", out, "--dtype", "int8"], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
    assert.is(r.status, 0, r.stderr);
  }
  return out;
}

const PROMPT = [464, 3616, 286, 1204, 318, 257, 1332, 11, 290, 340, 373, 257, 922, 1110, 13, 383, 2068, 7586]; // 18: one full chunk + a padded one
const STEPS = [11, 290, 50256, 0, 1000];

async function run(dir: string, backend: "interp" | "eigen"): Promise<Float32Array[]> {
  const m = await CausalLM.load(dir, { backend });
  const out = [Float32Array.from(m.prefill(PROMPT))];
  for (const t of STEPS) out.push(Float32Array.from(m.decode(t)));
  return out;
}

test("int8 GPT-2 folder: interpreter and eigen give the same logits to within f32 rounding, close to f32", async () => {
  const dir = int8Folder();
  const [a, b, f] = [await run(dir, "interp"), await run(dir, "eigen"), await run(tiny().dsl, "eigen")];
  let bitwise = 0;
  for (let s = 0; s < a.length; s++) {
    let same = true;
    for (let i = 0; i < a[s].length; i++) {
      if (!Object.is(a[s][i], b[s][i])) same = false;
      if (!(Math.abs(a[s][i] - b[s][i]) <= 1e-5 * Math.max(1, Math.abs(a[s][i])))) assert.unreachable(`step ${s} logit ${i}: interp ${a[s][i]}, eigen ${b[s][i]}`);
    }
    if (same) bitwise++;
    let d = 0, scale = 0;
    for (let i = 0; i < a[s].length; i++) { d = Math.max(d, Math.abs(a[s][i] - f[s][i])); scale = Math.max(scale, Math.abs(f[s][i])); }
    // per-channel int8 weights and per-row int8 activations: a few percent of the logits' range
    assert.ok(d <= 0.05 * Math.max(scale, 1), `step ${s}: int8 vs f32 max-abs-diff ${d} (logits up to ${scale})`);
  }
  console.log(`  int8: interpreter and eigen bit for bit on ${bitwise} of ${a.length} steps`);
});

test.run();
