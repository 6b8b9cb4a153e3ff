// `tensorcore hf export-gguf` end to end: llama.cpp (the prebuilt binaries of node-llama-cpp, the
// bench-only package in bench/llamacpp) loads the exported GGUF of the project's models, and its
// greedy tokens equal the DSL's (interpreter) and HF's for 16 steps.
// npm test's set-up installs the package (scripts/setup.sh, step 6); where it could not (no npm
// registry), these tests are skipped with a message. python-ref/tests/test_gguf.py checks the files
// without llama.cpp.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ggufOf, llamaGreedy, llamaPackageInstalled } from "../../bench/llamacpp.js";
import { CausalLM, REPO_ROOT } from "../../models/causal-lm.js";
import { argmax } from "../../models/sampling.js";
import { CACHE, ensureModel, PYTHON } from "../../models/zoo.js";

const PROMPT = [464, 2068, 7586, 21831, 18045, 625];
const STEPS = 16;

function hfGreedy(hf: string): number[] {
  const script = `
import json, sys, torch
from transformers import AutoModelForCausalLM
m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation="eager").eval()
m.generation_config.eos_token_id = None
p = json.loads(sys.argv[2]); n = int(sys.argv[3])
with torch.no_grad():
    g = m.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long), max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
print(json.dumps(g[0, len(p):].tolist()))`;
  const r = spawnSync(PYTHON, ["-c", script, hf, JSON.stringify(PROMPT), String(STEPS)], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

async function dslGreedy(dsl: string): Promise<number[]> {
  const m = await CausalLM.load(dsl, { backend: "interp", log: () => {} });
  const out = [argmax(m.prefill(PROMPT))];
  while (out.length < STEPS) out.push(argmax(m.decode(out[out.length - 1])));
  return out;
}

function embeddedHf(): string {
  const out = join(CACHE, "test-models", "embedded-hf");
  const r = spawnSync(PYTHON, ["-m", "tensorcore_ref", "make-model", "embedded", "--out", out], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
  assert.is(r.status, 0, r.stderr);
  return out;
}

const models: [string, () => { hf: string; dsl: string }, string[]][] = [
  // the committed model's weights are f16 values: its f16 file is the same model as its f32 one
  ["models/embedded", () => ({ hf: embeddedHf(), dsl: join(REPO_ROOT, "models", "embedded") }), ["f32", "f16"]],
  ["gpt2-tiny-custom 3x6x192", () => ensureModel("gpt2-tiny-custom", ["--layers", "3", "--heads", "6", "--width", "192"], "gpt2-3x6x192"), ["f32"]],
];

if (!llamaPackageInstalled()) {
  console.warn("\n!!! gguf.e2e: SKIPPED: bench/llamacpp is not installed (node-llama-cpp); " +
    "run `npm run setup` (or `npm ci --prefix bench/llamacpp --omit=optional`) to run these tests\n");
} else {
  for (const [name, get, dtypes] of models) {
    test(`${name}: llama.cpp's greedy tokens on the exported GGUF equal the DSL's and HF's (${STEPS} steps)`, async () => {
      const { hf, dsl } = get();
      const want = hfGreedy(hf);
      assert.equal(await dslGreedy(dsl), want, "DSL vs HF");
      for (const dtype of dtypes) {
        assert.equal(await llamaGreedy(ggufOf(hf, dtype as "f32"), PROMPT, STEPS), want, `llama.cpp ${dtype} vs HF`);
      }
      // quantized files are other models; how far their greedy paths follow is reported, not asserted
      for (const dtype of ["bf16", "q8_0"] as const) {
        const got = await llamaGreedy(ggufOf(hf, dtype), PROMPT, STEPS);
        const same = got.findIndex((t, i) => t !== want[i]);
        console.log(`  ${name} ${dtype}: llama.cpp follows HF's greedy path for ${same < 0 ? STEPS : same}/${STEPS} steps`);
      }
    });
  }
}

test.run();
