// The mission's proof: models written in DSL kernels against HF transformers, layer by layer,
// on both back ends (tensorcore verify), plus the generate command on the embedded model.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EMBEDDED_MODEL, REPO_ROOT } from "../../models/causal-lm.js";
import { formatTable, verifyModel } from "../../models/verify.js";
import { ensureModel } from "../../models/zoo.js";

const PROMPTS = [
  "The meaning of life is",
  "Hello, my dog is cute and",
  "In 1492, Columbus sailed the ocean blue; afterwards",
];
const backends = ["interp", "eigen"] as const;

const tinyGpt2 = () => ensureModel("gpt2-tiny-custom", ["--layers", "3", "--heads", "6", "--width", "192"], "gpt2-3x6x192");
const tinyLlama = () => ensureModel("tiny-llama-random");
const gpt2Full = () => ensureModel("gpt2-124m-random");

for (const backend of backends) {
  test(`verify: GPT-2 3 layers, 6 heads, width 192 on ${backend}`, async () => {
    const r = await verifyModel(tinyGpt2().dsl, PROMPTS, backend, { newTokens: 32 });
    assert.ok(r.ok, formatTable(r));
    for (const p of r.prompts) assert.is(p.greedy.matched + p.greedy.tieSteps, 32, formatTable(r));
  });

  test(`verify: tiny-llama-random (RMSNorm, RoPE, GQA, SiLU MLP) on ${backend}`, async () => {
    const r = await verifyModel(tinyLlama().dsl, PROMPTS, backend, { newTokens: 32 });
    assert.ok(r.ok, formatTable(r));
  });

  test(`verify: the embedded model on ${backend}`, async () => {
    assert.ok(existsSync(join(EMBEDDED_MODEL, "manifest.json")), "models/embedded is missing");
    const r = await verifyModel(EMBEDDED_MODEL, PROMPTS, backend, { newTokens: 32 });
    assert.ok(r.ok, formatTable(r));
  });
}

// A context that is not a whole number of key tiles (16): the attention kernel reads whole tiles,
// so the cache holds N_CTX rounded up; before, position 96 of a 100-position model read past the
// cache and the run stopped there. Greedy decoding to the last position, against HF.
const ctx100 = () => ensureModel("gpt2-tiny-custom", ["--layers", "2", "--heads", "2", "--width", "64", "--ctx", "100"], "gpt2-2x2x64-c100");
for (const backend of backends) {
  test(`verify: a 100-position context, decoded to its last position, on ${backend}`, async () => {
    const r = await verifyModel(ctx100().dsl, PROMPTS.slice(0, 1), backend, { newTokens: 94 });
    assert.ok(r.ok, formatTable(r));
    assert.is(r.prompts[0].greedy.matched + r.prompts[0].greedy.tieSteps, 94, formatTable(r));
  });
}

// The full-size architecture: every prompt on the compiled back end, one on the interpreter
// (a decode step of 124M parameters takes about a second there).
test("verify: gpt2-124m-random on eigen", async () => {
  const r = await verifyModel(gpt2Full().dsl, PROMPTS, "eigen", { newTokens: 32 });
  assert.ok(r.ok, formatTable(r));
});
test("verify: gpt2-124m-random on interp", async () => {
  const r = await verifyModel(gpt2Full().dsl, PROMPTS.slice(0, 1), "interp", { newTokens: 32 });
  assert.ok(r.ok, formatTable(r));
});

test("generate: the README's main command prints text from the embedded model", () => {
  const bin = join(REPO_ROOT, "bin", "tensorcore.js");
  const r = spawnSync(process.execPath, [bin, "generate", "The meaning of life is", "--max-new-tokens", "12", "--json"], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(Object.keys(out).sort(), ["generated_ids", "prompt_ids", "stop", "text", "timing"]);
  assert.equal(out.prompt_ids, [464, 3616, 286, 1204, 318]); // GPT-2's ids for the prompt
  // 12 tokens, or fewer ending at <|endoftext|> (generation stops there)
  const n = out.generated_ids.length;
  assert.ok(n === 12 || (n >= 1 && n < 12 && out.generated_ids[n - 1] === 50256), JSON.stringify(out));
  assert.is(out.stop, out.generated_ids[n - 1] === 50256 ? "eos" : "max_tokens", "why it stopped");
  assert.ok(out.text.trim().length > 0);
  assert.ok(out.timing.prefill_ms > 0 && out.timing.decode_ms_per_token > 0);
  // sampling with a seed is reproducible
  const s = (seed: string) => JSON.parse(spawnSync(process.execPath, [bin, "generate", "Once upon a time", "--temperature", "0.8", "--top-k", "40", "--top-p", "0.95", "--seed", seed, "--max-new-tokens", "8", "--json"], { encoding: "utf8" }).stdout).generated_ids;
  assert.equal(s("7"), s("7"));
});

test("verify: a damaged reference cache (a truncated .npy, a garbled index.json) is exported again, not read", () => {
  const cache = mkdtempSync(join(tmpdir(), "tc-refcache-"));
  const prompts = join(cache, "prompts.json");
  writeFileSync(prompts, JSON.stringify(["Hello world"]));
  const verify = () => spawnSync(process.execPath, [join(REPO_ROOT, "bin", "tensorcore.js"), "verify", "--model", EMBEDDED_MODEL, "--backend", "interp", "--new-tokens", "2", "--prompts", prompts],
    { encoding: "utf8", env: { ...process.env, TENSORCORE_CACHE: cache, TENSORCORE_REFERENCES_CACHE_MB: "1" } });
  try {
    // an export last used a day ago: the first new export prunes it (the limit, 1 MB, is below the new one's size, which stays)
    const stale = join(cache, "references", "0".repeat(16));
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, "index.json"), "{}");
    utimesSync(join(stale, "index.json"), (Date.now() - 86_400_000) / 1000, (Date.now() - 86_400_000) / 1000);
    const first = verify();
    assert.is(first.status, 0, first.stderr);
    assert.not.ok(existsSync(stale));
    assert.match(first.stdout + first.stderr, /removed 1 least recently used HF reference export\(s\)/);
    const [entry] = readdirSync(join(cache, "references")).filter((n) => /^[0-9a-f]{16}$/.test(n));
    const dir = join(cache, "references", entry);
    assert.not.match(first.stdout + first.stderr, /damaged/);
    for (const [damage, why] of [
      [() => truncateSync(join(dir, "p000", "final_norm.npy"), 100), "p000/final_norm.npy does not match its sha256 in index.json"],
      [() => writeFileSync(join(dir, "index.json"), "{garbage"), "index.json: invalid JSON"],
      [() => rmSync(join(dir, "p000", "greedy.npy")), "p000/greedy.npy is missing"],
    ] as const) {
      damage();
      const r = verify();
      assert.is(r.status, 0, r.stderr);
      const said = (r.stdout + r.stderr).split("\n").find((l) => l.startsWith("the cached HF references")) ?? "";
      assert.ok(said.startsWith(`the cached HF references in ${dir} are damaged (${why}`) && said.endsWith("); exporting them again"), r.stdout + r.stderr);
      assert.match(r.stdout, /verify: OK/);
    }
    // an export from before verify compared decode steps' logits (no greedy_logits.npy, nor its entry)
    const indexFile = join(dir, "index.json");
    const withoutStepLogits = JSON.parse(readFileSync(indexFile, "utf8"));
    withoutStepLogits.prompts[0].files = withoutStepLogits.prompts[0].files.filter((f: { name: string }) => f.name !== "greedy_logits.npy");
    writeFileSync(indexFile, JSON.stringify(withoutStepLogits));
    rmSync(join(dir, "p000", "greedy_logits.npy"));
    const old = verify();
    assert.is(old.status, 0, old.stderr);
    assert.match(old.stdout + old.stderr, /are damaged \(p000\/greedy_logits\.npy is missing\); exporting them again/);
    // a file of the wrong shape whose sha256 index.json agrees with (edited, or another export's):
    // refused by name, not compared past its end
    const stepLogits = join(dir, "p000", "greedy_logits.npy");
    writeFileSync(stepLogits, readFileSync(join(dir, "p000", "greedy_gap.npy")));
    const index = JSON.parse(readFileSync(indexFile, "utf8"));
    index.prompts[0].files.find((f: { name: string }) => f.name === "greedy_logits.npy").sha256 = createHash("sha256").update(readFileSync(stepLogits)).digest("hex");
    writeFileSync(indexFile, JSON.stringify(index));
    const wrong = verify();
    assert.is(wrong.status, 1, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, `${stepLogits}: shape [2], expected [2,50257] for this model and prompt`);
    assert.not.match(wrong.stderr, /\n\s+at /);
    // a dangling symlink at the export's name: removed (the link only) and exported again
    rmSync(dir, { recursive: true });
    symlinkSync(join(cache, "nowhere"), dir);
    const relinked = verify();
    assert.is(relinked.status, 0, relinked.stderr);
    assert.ok(lstatSync(dir).isDirectory() && !existsSync(join(cache, "nowhere")));
    // greedy tokens outside the vocabulary (index.json agreeing), and a file index.json does not list:
    // one message naming the file each, never an internal error or a read of an unchecked file
    const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
    const greedyFile = join(dir, "p000", "greedy.npy");
    const g = readFileSync(greedyFile);
    g.writeInt32LE(-1, g.length - 8);
    writeFileSync(greedyFile, g);
    const idx = JSON.parse(readFileSync(indexFile, "utf8"));
    idx.prompts[0].files.find((f: { name: string }) => f.name === "greedy.npy").sha256 = sha(greedyFile);
    writeFileSync(indexFile, JSON.stringify(idx));
    const badIds = verify();
    assert.is(badIds.status, 1, badIds.stdout + badIds.stderr);
    assert.match(badIds.stderr, `${greedyFile}: token id -1 is outside the vocabulary (0..50256)`);
    idx.prompts[0].files = idx.prompts[0].files.filter((f: { name: string }) => f.name !== "logits.npy");
    writeFileSync(indexFile, JSON.stringify(idx));
    const unlisted = verify();
    assert.is(unlisted.status, 1, unlisted.stdout + unlisted.stderr);
    assert.match(unlisted.stderr, `${join(dir, "p000", "logits.npy")}: not listed in the export's index.json`);
    for (const r of [badIds, unlisted]) assert.not.match(r.stderr, /internal error|\n\s+at /);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("generate: bad input gets one clear message and exit 1", () => {
  const bin = join(REPO_ROOT, "bin", "tensorcore.js");
  for (const [args, msg] of [
    [["generate", "hi", "--model", "/nonexistent"], "does not exist"],
    [["generate", "hi", "--max-new-tokens", "zero"], "--max-new-tokens"],
    [["generate", "hi", "--backend", "gpu"], "unknown backend"],
    [["generate"], "one prompt"],
  ] as const) {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
    assert.is(r.status, 1, args.join(" "));
    assert.ok(r.stderr.includes(msg), r.stderr);
    assert.not.ok(/\n\s+at /.test(r.stderr), "no stack trace: " + r.stderr);
  }
});

test.run();
