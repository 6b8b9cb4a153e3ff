// Model folders from someone else: corrupted copies of models/embedded (never the original) given
// to the CLI must be refused with one line naming the file and the field, exit code 1, no
// "internal error", no stack trace, within seconds; a verified folder loads again without hashing.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ManifestSource, DirectorySource, InputError, bindParam, parseNpy } from "../runtime/weights.js";
import { Gpt2Tokenizer, TokenizerError } from "../models/tokenizer.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const EMBEDDED = join(ROOT, "models", "embedded");
const work = mkdtempSync(join(tmpdir(), "tc-untrusted-"));
const cache = join(work, "cache");
process.env.TENSORCORE_CACHE = cache; // the stamps of this file's loads go here, not to ~/.cache

let n = 0;
/** A fresh copy of the embedded model folder, changed by `edit`. */
function copy(edit: (dir: string) => void = () => {}): string {
  const dir = join(work, `m${n++}`);
  cpSync(EMBEDDED, dir, { recursive: true });
  edit(dir);
  return dir;
}
function editManifest(dir: string, f: (m: Record<string, any>) => void): void {
  const p = join(dir, "manifest.json");
  const m = JSON.parse(readFileSync(p, "utf8"));
  f(m);
  writeFileSync(p, JSON.stringify(m));
}
function editText(path: string, f: (s: string) => string): void {
  writeFileSync(path, f(readFileSync(path, "utf8")));
}

interface Run { status: number | null; stdout: string; stderr: string; ms: number }
function cli(args: string[]): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "tensorcore.js"), ...args], {
    cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, TENSORCORE_CACHE: cache, TENSORCORE_DEBUG: "" },
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ms: performance.now() - t0 };
}
const generate = (dir: string, ...extra: string[]) => cli(["generate", "Hello", "--max-new-tokens", "2", "--backend", "interp", "--model", dir, ...extra]);

/** Refused as a user error: exit 1, one line on stderr naming each needle, no crash, quickly. */
function refused(r: Run, needles: (string | RegExp)[], seconds = 10, located = false): void {
  assert.is(r.status, 1, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  // `run` locates a parameter's problem at the parameter (FILE:LINE:COL, the line and a caret)
  if (located) assert.match(lines[0], /\.ta:\d+:\d+: error: /);
  else {
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], /^tensorcore: /);
  }
  for (const s of needles) assert.ok(typeof s === "string" ? lines[0].includes(s) : s.test(lines[0]), `expected ${s} in: ${lines[0]}`);
  assert.not.match(r.stderr, /internal error/);
  assert.not.match(r.stderr, /\n\s+at .*:\d+:\d+\)?/);
  assert.not.match(r.stderr, /Traceback/);
  assert.ok(r.ms < seconds * 1000, `took ${r.ms} ms`);
}

test("a tensor file with '..' is refused before it is opened", () => {
  const outside = join(work, "outside.safetensors");
  cpSync(join(EMBEDDED, "weights.safetensors"), outside);
  const dir = copy((d) => editManifest(d, (m) => { m.tensors.wte.file = "../outside.safetensors"; }));
  refused(generate(dir), ["manifest.json", "tensors.wte.file", "'../outside.safetensors'", ".."], 5);
});

test("an absolute tensor path is refused", () => {
  const dir = copy((d) => editManifest(d, (m) => { m.tensors.wpe.file = join(EMBEDDED, "weights.safetensors"); }));
  refused(generate(dir), ["tensors.wpe.file", "absolute path"], 5);
});

test("a symbolic link out of the folder is refused (a weight file, and /dev/zero)", () => {
  const outside = join(work, "outside2.safetensors");
  cpSync(join(EMBEDDED, "weights.safetensors"), outside);
  const dir = copy((d) => { unlinkSync(join(d, "weights.safetensors")); symlinkSync(outside, join(d, "weights.safetensors")); });
  refused(generate(dir), ["tensors.wte.file", "symbolic link", outside, "outside the model folder"], 5);
  const zero = copy((d) => { unlinkSync(join(d, "weights.safetensors")); symlinkSync("/dev/zero", join(d, "weights.safetensors")); });
  refused(generate(zero), ["weights.safetensors", "/dev/zero"], 5);
  // a link that stays inside the folder is fine (realpath, not a blanket ban on links)
  const inside = copy((d) => { editManifest(d, (m) => { m.tensors.wpe.file = "alias.safetensors"; }); symlinkSync("weights.safetensors", join(d, "alias.safetensors")); });
  assert.not.throws(() => new ManifestSource(inside, { verify: false }).find("wpe"));
});

test("a FIFO, a directory and a device as files are refused without hanging", () => {
  const fifo = copy((d) => { unlinkSync(join(d, "weights.safetensors")); spawnSync("mkfifo", [join(d, "weights.safetensors")]); });
  refused(generate(fifo), ["weights.safetensors", "FIFO", "not a regular file"], 5);
  const dirAsFile = copy((d) => { mkdirSync(join(d, "w.dir")); editManifest(d, (m) => { m.tensors.wpe.file = "w.dir"; }); });
  refused(generate(dirAsFile), ["tensors.wpe.file", "'w.dir' is a directory"], 5);
  // the vocabulary as a device: refused, not read until memory runs out
  const vocab = copy((d) => { unlinkSync(join(d, "vocab.json")); symlinkSync("/dev/zero", join(d, "vocab.json")); });
  refused(generate(vocab), ["vocab.json", "/dev/zero"], 5);
});

test("one flipped byte in weights.safetensors is refused with the tensor's name; --no-verify loads it", () => {
  const dir = copy((d) => {
    const p = join(d, "weights.safetensors");
    const b = readFileSync(p);
    // inside wpe (the manifest's offset 6434176, 16384 bytes), computed from the original manifest
    const wpe = JSON.parse(readFileSync(join(EMBEDDED, "manifest.json"), "utf8")).tensors.wpe;
    b[wpe.offset + 100] ^= 0x01;
    writeFileSync(p, b);
  });
  refused(generate(dir), ["weights.safetensors", "tensor 'wpe'", "sha256", "--no-verify"], 30);
  const r = generate(dir, "--no-verify");
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Hello/);
});

test("a vocab.json id of 10^9 is refused in well under a second of work, naming the file and the id", () => {
  const dir = copy((d) => editText(join(d, "vocab.json"), (s) => s.replace('"hello": ', '"hello": 1000000000, "hello-was": ')));
  const r = generate(dir);
  refused(r, ["vocab.json", "1000000000", "50257"], 3);
  // in process, the same refusal is immediate (no table of 10^9 entries is allocated)
  const t0 = performance.now();
  assert.throws(() => Gpt2Tokenizer.fromFolder(dir), (e: unknown) => e instanceof TokenizerError && /1000000000/.test((e as Error).message));
  assert.ok(performance.now() - t0 < 1000);
  // without a model to bound it, ids are still bounded (2^24) before any table is sized by them
  assert.throws(() => Gpt2Tokenizer.fromVocabMerges({ a: 0, b: 1e9 }, []), (e: unknown) => e instanceof TokenizerError && /id 1000000000 is not an integer in 0\.\.16777215/.test((e as Error).message));
});

test("malformed manifests: __proto__ architecture, non-string dtype, null tensors, missing fields", () => {
  refused(generate(copy((d) => editManifest(d, (m) => { m.architecture = "__proto__"; }))), ["unsupported architecture '__proto__'"], 5);
  refused(generate(copy((d) => editManifest(d, (m) => { m.tensors.wte.dtype = 5; }))), ["manifest.json", "tensors.wte.dtype", "number 5"], 5);
  refused(generate(copy((d) => editManifest(d, (m) => { m.tensors = null; }))), ["manifest.json", '"tensors" must be an object', "null"], 5);
  refused(generate(copy((d) => editManifest(d, (m) => { delete m.tensors.wpe.offset; }))), ["tensors.wpe", '"offset" is missing'], 5);
  refused(generate(copy((d) => editManifest(d, (m) => { m.tensors.wpe.shape = [128, "64"]; }))), ["tensors.wpe.shape"], 5);
  refused(generate(copy((d) => editManifest(d, (m) => { m.tensors.wpe.nbytes = 1e12; }))), ["tensors.wpe.nbytes"], 5);
  refused(generate(copy((d) => editManifest(d, (m) => { m.dtype = ["f16"]; }))), ['"dtype" must be a string'], 5);
  // a tensor named __proto__ is plain data: found by name, nothing inherited
  const proto = copy((d) => editManifest(d, (m) => { m.tensors = JSON.parse(`{"__proto__": ${JSON.stringify(m.tensors.wpe)}}`); }));
  const src = new ManifestSource(proto, { verify: true });
  assert.equal(src.find("__proto__")?.shape, [128, 64]);
  assert.is(src.find("toString"), undefined);
});

test("a folder missing a tensor its library's weight table lists (an older conversion) is refused, naming it and the fix", () => {
  // as a Llama-library folder converted before q_norm / k_norm joined models/llama/weights.json
  const dir = copy((d) => editManifest(d, (m) => { delete m.tensors.lnf_g; delete m.tensors.wpe; }));
  refused(generate(dir), ["manifest.json", "no tensor 'wpe', 'lnf_g'", "models/gpt2/weights.json", "convert the HF model again"], 5);
  // and one without a const its library reads (as a Llama-library folder from before RESID_SCALE)
  const old = copy((d) => editManifest(d, (m) => { delete m.consts.GELU_TANH; }));
  refused(generate(old), ["manifest.json", "no const 'GELU_TANH'", "models/gpt2/weights.json", "convert the HF model again"], 5);
});

test("a model folder's manifest has convert's format (hf verify refuses the others too)", () => {
  for (const f of [undefined, "tensorcore-model/2", "safetensors-index/1"]) {
    const dir = copy((d) => editManifest(d, (m) => { if (f === undefined) delete m.format; else m.format = f; }));
    refused(generate(dir), ["manifest.json", `format ${JSON.stringify(f ?? null)}, expected "tensorcore-model/1"`], 10);
  }
});

test("manifest consts: a context that is not a positive integer, and consts that model.ta contradicts", () => {
  for (const v of [-1, 1.5, 0]) {
    const dir = copy((d) => editManifest(d, (m) => { m.consts.N_CTX = v; }));
    refused(generate(dir), ["manifest.json", `consts.N_CTX is ${JSON.stringify(v)}`, "positive integer"], 10);
  }
  for (const [k, v] of [["N_LAYER", 3], ["VOCAB", -5], ["LN_EPS", 0.1]] as const) {
    const dir = copy((d) => editManifest(d, (m) => { m.consts[k] = v; }));
    refused(generate(dir), ["manifest.json", `consts.${k} is ${v}, but model.ta declares`, "convert the HF model again"], 10);
  }
});

test("a tokenizer.json pipeline nested 3000 deep, or with a 5 MB string, is refused naming the section", () => {
  const n = 3000;
  const deep = copy((d) => writeFileSync(join(d, "tokenizer.json"), `{"model":{"type":"BPE","vocab":{},"merges":[]},"normalizer":` +
    `{"type":"Sequence","normalizers":[`.repeat(n) + `{"type":"Lowercase"}` + "]}".repeat(n) + "}"));
  refused(generate(deep), ["tokenizer.json: normalizer: nested more than 32 levels deep"], 10);
  const long = copy((d) => writeFileSync(join(d, "tokenizer.json"), JSON.stringify({
    model: { type: "BPE", vocab: {}, merges: [] }, normalizer: { type: "Prepend", prepend: "x".repeat(5_000_000) } })));
  refused(generate(long), ["tokenizer.json: normalizer: a string of 5000000 characters"], 10);
  const notObject = copy((d) => writeFileSync(join(d, "tokenizer.json"), `{"model": 5}`));
  refused(generate(notObject), ['tokenizer.json: "model" is not an object'], 10);
});

test("a tokenizer.json split pattern that would backtrack for hours on a short prompt is refused before tokenizing", () => {
  // (a+)+b takes ~4 s on 25 a's in V8 and doubles with each further a
  // (a class that runs tokenizer.json as written: GPT2Tokenizer would rebuild the pre-tokenizer)
  const folder = (pattern: string) => copy((d) => {
    writeFileSync(join(d, "tokenizer.json"), JSON.stringify({
      model: { type: "BPE", vocab: { a: 0, b: 1, c: 2 }, merges: [] },
      pre_tokenizer: { type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false } }));
    writeFileSync(join(d, "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "PreTrainedTokenizerFast" }));
  });
  const prompt = "a".repeat(40) + "c";
  refused(cli(["generate", prompt, "--max-new-tokens", "1", "--backend", "interp", "--model", folder("(a+)+b")]),
    ["tokenizer.json", "pre_tokenizer", "(a+)+b", "exponential time"], 10);
  refused(cli(["generate", prompt, "--max-new-tokens", "1", "--backend", "interp", "--model", folder("a*a*a*b")]),
    ["tokenizer.json", "pre_tokenizer", "long repeats"], 10);
});

test(".npy headers are read exactly: numpy's own forms pass; a non-boolean fortran_order, a float dimension, a repeated or extra key do not", () => {
  const npy = (header: string, bytes = 24): Uint8Array => {
    const h = header.padEnd(117) + "\n"; // numpy pads the header to a multiple of 64 with spaces and a newline
    const b = Buffer.alloc(10 + h.length + bytes);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    b.writeUInt16LE(h.length, 8);
    b.write(h, 10, "latin1");
    return new Uint8Array(b);
  };
  // as numpy 1.x and 2.x write them (np.save), for rank 2, rank 1 (a trailing comma) and rank 0
  for (const [h, shape] of [["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", [2, 3]], ["{'descr': '|i1', 'fortran_order': False, 'shape': (24,), }", [24]],
    ["{'descr': '<i4', 'fortran_order': False, 'shape': (), }", []]] as [string, number[]][])
    assert.equal(parseNpy(npy(h), "t.npy").shape, shape, h);
  for (const h of ["{'descr': '<f4', 'fortran_order': 'yes', 'shape': (2, 3), }", "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3), }",
    "{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }",
    "{'descr': '<f4', 'shape': (2, 3), }", "['descr', '<f4']"])
    assert.throws(() => parseNpy(npy(h), "t.npy"), /t\.npy: malformed \.npy header/, h);
  assert.throws(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), "t.npy"), /Fortran-ordered/);
});

test("truncated files: weights.safetensors, vocab.json, manifest.json", () => {
  refused(generate(copy((d) => truncateSync(join(d, "weights.safetensors"), 4000000))), ["weights.safetensors", "truncated", "tensor '"], 5);
  refused(generate(copy((d) => truncateSync(join(d, "vocab.json"), 5000))), ["vocab.json", "invalid JSON"], 5);
  refused(generate(copy((d) => truncateSync(join(d, "manifest.json"), 3000))), ["manifest.json", "invalid JSON"], 5);
  refused(generate(copy((d) => editText(join(d, "merges.txt"), (s) => s.replace("\n", "\nnospace\n")))), ["merges.txt", "bad merges line 2"], 5);
});

test("a second load of an unchanged folder hashes nothing; a changed one is hashed again", () => {
  const dir = copy();
  const before = readdirSync(dir).sort();
  const total = [...new ManifestSource(dir, { verify: false }).entries.values()].reduce((s, e) => s + e.nbytes, 0);
  const first = new ManifestSource(dir);
  first.find("wte");
  first.finishVerification();
  assert.is(first.hashedBytes, total);
  const second = new ManifestSource(dir);
  second.find("wte");
  second.finishVerification();
  assert.is(second.hashedBytes, 0);
  assert.equal(readdirSync(dir).sort(), before, "nothing is written into the model folder");
  // rewriting a weight file (same size) invalidates the stamp: the flipped byte is found
  const p = join(dir, "weights.safetensors");
  const b = readFileSync(p);
  b[b.length - 10] ^= 0x80;
  writeFileSync(p, b);
  const third = new ManifestSource(dir);
  assert.throws(() => third.finishVerification(), (e: unknown) => e instanceof InputError && /does not match its sha256/.test((e as Error).message));
  // so does a changed manifest (its sha256 is part of the stamp)
  const dir2 = copy();
  new ManifestSource(dir2).finishVerification();
  editManifest(dir2, (m) => { m.note = "changed"; });
  const fourth = new ManifestSource(dir2);
  fourth.finishVerification();
  assert.is(fourth.hashedBytes, total);
});

test("the CLI's verified load leaves a stamp in the cache that the next load uses", () => {
  const dir = copy();
  const r = generate(dir);
  assert.is(r.status, 0, r.stderr);
  const next = new ManifestSource(dir);
  next.finishVerification();
  assert.is(next.hashedBytes, 0);
});

test("run --inputs: a .bin linked out of the folder, and a corrupted manifest folder, are refused", () => {
  const prog = join(work, "p.ta");
  writeFileSync(prog, "type V = Tensor<f32, {3}>;\nkernel k(V w) { REDUCE(w); }\n");
  const inputs = join(work, "inputs");
  mkdirSync(inputs);
  const secret = join(work, "secret.bin");
  writeFileSync(secret, Buffer.from(new Float32Array([1, 2, 3]).buffer));
  symlinkSync(secret, join(inputs, "w.bin"));
  refused(cli(["run", prog, "--inputs", inputs, "--backend", "interp"]), ["w.bin", "outside the inputs folder"], 5, true);
  // a .bin whose size does not fit the parameter is refused before it is read
  const sized = join(work, "inputs-sized");
  mkdirSync(sized);
  writeFileSync(join(sized, "w.bin"), Buffer.alloc(1 << 20));
  refused(cli(["run", prog, "--inputs", sized, "--backend", "interp"]), ["w.bin", "1048576 bytes", "needs 12 bytes"], 5, true);
  // without a span (a model's own binding) the error stays an InputError: one line from the CLI
  assert.throws(() => bindParam("w", { name: "", precision: "f32", shape: [3], space: "Global", layout: { kind: "RowMajor" } }, new DirectorySource(inputs), undefined), (e: unknown) => e instanceof InputError);
  // a model folder as --inputs is verified too
  const flipped = copy((d) => { const p = join(d, "weights.safetensors"); const b = readFileSync(p); b[2000] ^= 1; writeFileSync(p, b); });
  writeFileSync(prog, "type E = Tensor<f16, {50257, 64}>;\nkernel k(E wte) { }\n");
  refused(cli(["run", prog, "--inputs", flipped, "--backend", "interp"]), ["tensor 'wte'", "sha256"], 10, true);
  const ok = cli(["run", prog, "--inputs", flipped, "--no-verify"]);
  assert.is(ok.status, 0, ok.stderr);
});

test("%load: a corrupted folder is a MagicError naming the tensor; --no-verify loads it; '..' is refused", async () => {
  const { LanguageEngine } = await import("../kernel/engine.js");
  const e = new LanguageEngine({ interrupt: new Int32Array(new SharedArrayBuffer(4)) });
  const run = (code: string) => e.execute({ code, user_expressions: {}, execution_count: 1 }, () => {});
  const m = join(work, "load");
  mkdirSync(m);
  const bytes = Buffer.from(new Float32Array([1, 2, 3]).buffer);
  const sha = createHash("sha256").update(bytes).digest("hex");
  bytes[0] ^= 1; // the file no longer matches the recorded sha256
  writeFileSync(join(m, "w.bin"), bytes);
  writeFileSync(join(m, "manifest.json"), JSON.stringify({ tensors: { w: { file: "w.bin", dtype: "f32", shape: [3], offset: 0, nbytes: 12, sha256: sha } } }));
  const bad = await run(`%load ${m}`);
  assert.is(bad.error?.ename, "MagicError");
  assert.match(bad.error!.evalue, /w\.bin: tensor 'w' does not match its sha256/);
  assert.is((await run(`%load --no-verify ${m}`)).status, "ok");
  writeFileSync(join(m, "manifest.json"), JSON.stringify({ tensors: { w: { file: "../secret.bin", dtype: "f32", shape: [3], offset: 0, nbytes: 12, sha256: sha } } }));
  const out = await run(`%load --no-verify ${m}`);
  assert.is(out.error?.ename, "MagicError");
  assert.match(out.error!.evalue, /tensors\.w\.file: '\.\.\/secret\.bin' contains '\.\.'/);
});

test("the original embedded folder is untouched", () => {
  const m = JSON.parse(readFileSync(join(EMBEDDED, "manifest.json"), "utf8"));
  const w = readFileSync(join(EMBEDDED, "weights.safetensors"));
  assert.is(statSync(join(EMBEDDED, "weights.safetensors")).size, w.length);
  assert.is(createHash("sha256").update(w).digest("hex"), m.weights_sha256);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
