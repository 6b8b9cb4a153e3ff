// The command line, spawned: exit codes, --json, --kernel, --inputs, the default weights/
// folder, 0.5 for unbound parameters, errors on stderr without stack traces and with one prefix,
// --help on every command without side effects, unknown options refused before anything runs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_BACKEND } from "../backends/index.js";
import { HF_COMMANDS } from "../cli/hf.js";
import { examplePath, repoRoot, runCli } from "./helpers/examples.js";

const root = repoRoot();

const dir = mkdtempSync(join(tmpdir(), "tc-cli-"));
const PROG = `type V = Tensor<f32, {3}>;
type I = Tensor<int32, {2}>;
kernel first(V a) { a = a * 2; REDUCE(a); }
kernel second(V w, I n) { w = w + 1; n = n * 3; REDUCE(w); }
`;
const prog = join(dir, "prog.ta");
writeFileSync(prog, PROG);
mkdirSync(join(dir, "weights"));
writeFileSync(join(dir, "weights", "w.bin"), Buffer.from(new Float32Array([1, 2, 3]).buffer));
mkdirSync(join(dir, "other"));
writeFileSync(join(dir, "other", "w.bin"), Buffer.from(new Float32Array([10, 20, 30]).buffer));
writeFileSync(join(dir, "other", "n.bin"), Buffer.from(new Int32Array([4, -5]).buffer));
const noStack = (s: string) => assert.not.match(s, /\n\s+at .*:\d+:\d+\)?/);

test("check: ok exits 0, errors exit 1 on stderr with file:line:col and a caret", () => {
  const good = runCli(["check", prog]);
  assert.is(good.status, 0);
  assert.match(good.stdout, /prog\.ta: ok/);
  const bad = join(dir, "bad.ta");
  writeFileSync(bad, "type V = Tensor<f32, {3}>;\nkernel k(V a) {\n  a = b;\n  a = a + c;\n}\n");
  const r = runCli(["check", bad]);
  assert.is(r.status, 1);
  assert.is(r.stdout, "");
  assert.is(r.stderr, `${bad}:3:7: error: undefined name 'b' (did you mean 'a'?)\n    a = b;\n        ^\n${bad}:4:11: error: undefined name 'c' (did you mean 'a'?)\n    a = a + c;\n            ^\n`);
  noStack(r.stderr);
});

test("run: the last kernel by default, parameters from weights/ beside the file", () => {
  const r = runCli(["run", prog, "--json", "--backend", "interp"]);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out, {
    stdout: ["9"],
    params: { w: { dtype: "f32", shape: [3], data: [2, 3, 4] }, n: { dtype: "int32", shape: [2], data: [0, 0] } }, // n: 0.5 rounds to even, 0
  });
});

test("run: --kernel picks the entry, unbound parameters are 0.5, plain output prints lines", () => {
  const r = runCli(["run", prog, "--kernel", "first", "--backend", "interp"]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, "3\n");
  const j = JSON.parse(runCli(["run", prog, "--kernel=first", "--json", "--backend", "interp"]).stdout);
  assert.equal(j.params.a.data, [1, 1, 1]);
});

test("run: --inputs DIR replaces weights/", () => {
  const r = runCli(["run", prog, "--inputs", join(dir, "other"), "--json", "--backend", "interp"]);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.stdout, ["63"]);
  assert.equal(out.params.n.data, [12, -15]);
});

test("run: a top-level-only program prints its lines and has no params", () => {
  const top = join(dir, "top.ta");
  writeFileSync(top, "type S = Tensor<f32, {2}>;\nS x = 1.25;\nREDUCE(x);\n");
  assert.equal(JSON.parse(runCli(["run", top, "--json", "--backend", "interp"]).stdout), { stdout: ["2.5"], params: {} });
});

test("run: --json renders infinities and NaN as strings", () => {
  const f = join(dir, "inf.ta");
  writeFileSync(f, "type V = Tensor<f32, {3}>;\nkernel k(V v) { v[0] = INF; v[1] = -INF; v[2] = INF - INF; }\n");
  assert.equal(JSON.parse(runCli(["run", f, "--json", "--backend", "interp"]).stdout).params.v.data, ["Infinity", "-Infinity", "NaN"]);
});

test("errors: usage, missing files, unknown kernel, bad weights, run-time faults — exit 1, no stack", () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^tensorcore: error: unknown command 'frobnicate'/],
    [["run"], /^tensorcore: error: no input file/],
    [["run", join(dir, "nope.ta")], /^tensorcore: error: .*nope\.ta: no such file/],
    [["run", prog, "--bogus"], /^tensorcore: error: unknown option '--bogus' \(see `tensorcore run --help`\)/],
    [["run", prog, "--kernel"], /^tensorcore: error: option '--kernel' needs a value/],
    [["run", prog, "--kernel", "third", "--backend", "interp"], /^tensorcore: error: no kernel named 'third' \(kernels: first, second\)/],
    [["run", prog, "--backend", "gpu"], /^tensorcore: error: unknown backend 'gpu'/],
    [["run", examplePath("errors/runtime_lookup"), "--backend", "interp"], /runtime_lookup\.ta:10:3: error: LOOKUP index 7 is out of range/],
  ];
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.is(r.status, 1, args.join(" "));
    assert.match(r.stderr, re);
    noStack(r.stderr);
  }
  mkdirSync(join(dir, "short"));
  writeFileSync(join(dir, "short", "w.bin"), Buffer.alloc(6));
  const r = runCli(["run", prog, "--inputs", join(dir, "short"), "--backend", "interp"]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /prog\.ta:4:17: error: .*w\.bin: 'w' holds 6 bytes, but a f32 tensor of shape \{3\} needs 12 bytes/);
  noStack(r.stderr);
});

test("a flood of errors stops at 50, long lines are shown around the column, a device is not read", () => {
  const flood = join(dir, "flood.ta");
  writeFileSync(flood, `type T = Tensor<f32, {2}>;\nkernel k(T x) { x = ${"!".repeat(20000)}1; REDUCE(x); }\n`);
  const r = runCli(["check", flood]);
  assert.is(r.status, 1);
  noStack(r.stderr);
  assert.is((r.stderr.match(/flood\.ta:2:\d+: error: unexpected character '!'/g) ?? []).length, 50);
  assert.match(r.stderr, /\ntensorcore: error: 19950 more errors not shown \(the first 50 are\)\n$/);
  assert.ok(r.stderr.length < 20_000, `${r.stderr.length} characters of errors`);
  // the echoed line is a window of the 20,000-character line, with the caret under the column
  const [, shown, caret] = r.stderr.split("\n");
  assert.ok(shown.length < 200 && shown.startsWith("  kernel k(T x) { x = !!!") && shown.endsWith("…"), shown);
  assert.is(caret.indexOf("^"), shown.indexOf("!"));
  const dev = runCli(["check", "/dev/zero"]);
  assert.is(dev.status, 1);
  assert.is(dev.stderr, "tensorcore: error: /dev/zero: not a regular file\n");
});

test("run --inputs and verify's --prompts and --report are checked before any work", () => {
  for (const [args, want] of [
    [["run", prog, "--inputs", join(dir, "no-such-folder")], `--inputs ${join(dir, "no-such-folder")}: no such folder`],
    [["run", prog, "--inputs", prog], `--inputs ${prog}: not a folder`],
    [["verify", "--prompts", dir], `${dir}: is a directory, not a regular file`],
    [["verify", "--prompts", join(dir, "empty.txt")], `${join(dir, "empty.txt")}: no prompts`],
    [["verify", "--prompts", join(dir, "bad.json")], `${join(dir, "bad.json")}: invalid JSON`],
    [["verify", "--prompts", join(dir, "ok.txt"), "--report", join(dir, "nodir", "r.html")], `--report ${join(dir, "nodir", "r.html")}: no folder`],
    [["verify", "--prompts", join(dir, "ok.txt"), "--report", dir], `--report ${dir}: not a regular file`],
  ] as [string[], string][]) {
    writeFileSync(join(dir, "empty.txt"), "\n  \n");
    writeFileSync(join(dir, "bad.json"), "[\"a\",");
    writeFileSync(join(dir, "ok.txt"), "Hello\n");
    const r = runCli([...args, "--backend", "interp"]);
    assert.is(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`tensorcore: error: ${want}`), `${args.join(" ")}: ${r.stderr}`);
    assert.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

test("generate: a prompt longer than the context is refused with nothing on stdout; an unsafe integer is refused", () => {
  const r = runCli(["generate", "word ".repeat(400), "--backend", "interp", "--max-new-tokens", "2"]);
  assert.is(r.status, 1);
  assert.is(r.stdout, "");
  assert.is(r.stderr, "tensorcore: error: the prompt has 401 tokens, more than the model's context of 128\n");
  const s = runCli(["generate", "hi", "--seed", "99999999999999999999999"]);
  assert.is(s.status, 1);
  assert.match(s.stderr, /^tensorcore: error: option '--seed' needs an integer, got '99999999999999999999999'/);
});

test("help exits 0 and lists the commands", () => {
  const r = runCli(["--help"]);
  assert.is(r.status, 0);
  for (const c of ["check", "run", "compile", "generate", "verify", "hf", "kernel"]) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"));
  const bare = runCli([]);
  assert.is(bare.status, 1);
  assert.match(bare.stderr, /^tensorcore: error: missing command/m);
});

// Every command and subcommand, with the options its help must list (written from the docs, not
// from the specs), run in a throwaway HOME and Jupyter paths so that a side effect would show.
const HELP: [string[], string[]][] = [
  [["check"], []],
  [["run"], ["--kernel NAME", "--inputs DIR", "--json", "--backend NAME"]],
  [["compile"], ["-o, --output FILE", "--main", "--kernel NAME"]],
  [["generate"], ["--model DIR", "--max-new-tokens N", "--greedy", "--temperature T", "--top-k K", "--top-p P", "--seed N", "--backend NAME", "--json"]],
  [["verify"], ["--model DIR", "--prompts FILE", "--new-tokens N", "--backend NAME", "--report FILE", "--json"]],
  [["hf"], ["convert", "export", "make-model", "verify"]],
  [["hf", "convert"], ["--out DIR", "--dtype TYPE", "--max-ctx N", "--ignore-unknown-config"]],
  [["hf", "export"], ["--prompts FILE", "--out DIR", "--new-tokens N", "--seed N", "--archive"]],
  [["hf", "make-model"], ["--out DIR", "--layers N", "--heads N", "--width N", "--ctx N", "--seed N"]],
  [["hf", "verify"], []],
  [["kernel"], ["install", "uninstall", "spec"]],
  [["kernel", "install"], ["--user", "--sys-prefix", "--prefix DIR", "--name NAME", "--display-name TEXT"]],
  [["kernel", "uninstall"], ["--user", "--sys-prefix", "--prefix DIR", "--name NAME"]],
  [["kernel", "spec"], []],
];

/** Spawn the CLI with HOME, Jupyter's paths and the Python environment variables pointing into `home`. */
function sandboxed(args: string[], home: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), JUPYTER_DATA_DIR: join(home, "jupyter"), VIRTUAL_ENV: join(home, "venv"), TENSORCORE_CACHE: join(home, "cache") };
  delete env.CONDA_PREFIX;
  const r = spawnSync(process.execPath, [join(root, "bin", "tensorcore.js"), ...args], { cwd: home, env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

test("-h/--help on every command and subcommand: exit 0, lists its options, does nothing else", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-help-"));
  try {
    for (const [cmd, listed] of HELP) {
      for (const flag of ["--help", "-h"]) {
        const r = sandboxed([...cmd, flag], home);
        const what = [...cmd, flag].join(" ");
        assert.is(r.status, 0, `${what}: ${r.stderr}`);
        assert.is(r.stderr, "", what);
        assert.match(r.stdout, new RegExp(`^usage: tensorcore ${cmd.join(" ")}\\b`), what);
        for (const o of listed) assert.ok(r.stdout.includes(o), `${what} lists ${o}:\n${r.stdout}`);
        if (listed.some((o) => o.startsWith("-"))) assert.ok(r.stdout.includes("-h, --help"), what);
      }
      // --help wins over everything else on the line: nothing runs, even with real arguments
      const withArgs = sandboxed([...cmd, "--prefix", join(home, "p"), "--help"], home);
      assert.is(withArgs.status, 0, cmd.join(" "));
    }
    // nothing was written: no kernelspec, no cache, no prefix
    assert.equal(readdirSync(home), []);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("the default back end is stated in the help of every command that runs programs", () => {
  for (const cmd of ["run", "generate", "verify"]) {
    const r = runCli([cmd, "--help"]);
    assert.ok(r.stdout.includes(`--backend NAME`), cmd);
    assert.ok(r.stdout.includes(`[default: ${DEFAULT_BACKEND}; interp, with a note, when ${DEFAULT_BACKEND} cannot run here`), `${cmd}: ${r.stdout}`);
  }
  assert.ok(runCli(["--help"]).stdout.includes(`--backend NAME picks one): ${DEFAULT_BACKEND};`));
});

test("unknown options and missing values are refused before anything runs, with one prefix everywhere", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-bogus-"));
  try {
    const out = join(home, "out");
    const cases: string[][] = [
      ["check", prog, "--bogus"],
      ["run", prog, "--bogus"],
      ["compile", prog, "-o", join(out, "x.cpp"), "--bogus"],
      ["generate", "hello", "--bogus"],
      ["verify", "--report", join(out, "r.html"), "--bogus"],
      ["hf", "convert", "gpt2", "--out", out, "--bogus"],
      ["hf", "export", "gpt2", "--prompts", prog, "--out", out, "--bogus"],
      ["hf", "make-model", "embedded", "--out", out, "--bogus"],
      ["kernel", "install", "--prefix", out, "--bogus"],
      ["kernel", "uninstall", "--prefix", out, "--bogus"],
    ];
    for (const args of cases) {
      const cmd = args[0] === "hf" || args[0] === "kernel" ? `${args[0]} ${args[1]}` : args[0];
      const r = sandboxed(args, home);
      assert.is(r.status, 1, args.join(" "));
      assert.is(r.stdout, "", args.join(" "));
      assert.is(r.stderr, `tensorcore: error: unknown option '--bogus' (see \`tensorcore ${cmd} --help\`)\n`, args.join(" "));
    }
    // a value-taking option at the end, or followed by another option, has no value
    for (const args of [["generate", "hi", "--model"], ["kernel", "install", "--prefix"], ["hf", "convert", "gpt2", "--out"], ["run", prog, "--inputs", "--json"]]) {
      const r = sandboxed(args, home);
      assert.is(r.status, 1, args.join(" "));
      assert.match(r.stderr, new RegExp(`^tensorcore: error: option '${args[args.length - 1] === "--json" ? "--inputs" : args[args.length - 1]}' needs a value`), args.join(" "));
    }
    // typed values, required options and exclusive choices are checked up front as well
    for (const [args, re] of [
      [["generate", "hi", "--max-new-tokens", "many"], /^tensorcore: error: option '--max-new-tokens' needs an integer, got 'many'/],
      [["hf", "convert", "gpt2"], /^tensorcore: error: option '--out' is required/],
      [["hf", "convert", "gpt2", "--out", out, "--dtype", "f8"], /^tensorcore: error: option '--dtype' must be one of f32, f16, bf16, int8, got 'f8'/],
      [["kernel", "install", "--user", "--prefix", out], /^tensorcore: error: --user, --sys-prefix and --prefix exclude each other/],
      [["hf", "nope"], /^tensorcore: error: unknown command 'nope' for 'tensorcore hf'/],
      // generation's own ranges (the kernel's %generate gets the same messages)
      [["generate", "hi", "--max-new-tokens", "0"], /^tensorcore: error: --max-new-tokens must be a whole number, at least 1 \(got 0\)/],
      [["generate", "hi", "--top-p", "1.5"], /^tensorcore: error: --top-p must be in \(0, 1\] \(got 1\.5\)/],
      [["generate", "hi", "--temperature=-1"], /^tensorcore: error: --temperature must be positive \(got -1\)/],
    ] as [string[], RegExp][]) {
      const r = sandboxed(args, home);
      assert.is(r.status, 1, args.join(" "));
      assert.match(r.stderr, re);
    }
    assert.equal(readdirSync(home), []);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("kernel install writes the kernelspec only where it is told", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-kinstall-"));
  try {
    const r = sandboxed(["kernel", "install", "--prefix", join(home, "p"), "--name", "tc-test", "--display-name", "TC test"], home);
    assert.is(r.status, 0, r.stderr);
    const spec = JSON.parse(readFileSync(join(home, "p/share/jupyter/kernels/tc-test/kernel.json"), "utf8"));
    assert.is(spec.display_name, "TC test");
    assert.equal(readdirSync(home), ["p"]);
    const u = sandboxed(["kernel", "uninstall", "--prefix", join(home, "p"), "--name", "tc-test"], home);
    assert.is(u.status, 0, u.stderr);
    assert.not.ok(existsSync(join(home, "p/share/jupyter/kernels/tc-test")));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("kernel install/uninstall touch only TensorCore's kernelspec: another kernel's, a path as --name, and a user's own files are left alone", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-kowner-"));
  try {
    const kernels = join(home, "p/share/jupyter/kernels");
    const python = join(kernels, "python3");
    mkdirSync(python, { recursive: true });
    const pySpec = JSON.stringify({ argv: ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], display_name: "Python 3", language: "python" });
    writeFileSync(join(python, "kernel.json"), pySpec);
    const run = (...args: string[]) => sandboxed(["kernel", ...args, "--prefix", join(home, "p")], home);
    const refusedWith = (r: { status: number | null; stderr: string }, ...needles: string[]) => {
      assert.is(r.status, 1, r.stderr);
      for (const n of needles) assert.ok(r.stderr.includes(n), `expected '${n}' in: ${r.stderr}`);
      assert.not.match(r.stderr, /\n\s+at /);
    };
    // another kernel's kernelspec: neither removed nor overwritten
    refusedWith(run("uninstall", "--name", "python3"), `${python} is not a TensorCore kernelspec (its kernel.json is for the language 'python'); nothing removed`);
    refusedWith(run("install", "--name", "python3"), "is not a TensorCore kernelspec", "nothing written");
    assert.is(readFileSync(join(python, "kernel.json"), "utf8"), pySpec);
    // a path as the name: refused before anything is touched (--name .. would have removed every kernelspec)
    for (const name of ["..", "../..", "a/b", "."]) {
      refusedWith(run("uninstall", "--name", name), `--name '${name}': a kernelspec name is letters, digits`);
      refusedWith(run("install", "--name", name), `--name '${name}'`);
    }
    assert.ok(existsSync(join(python, "kernel.json")));
    // ours, with a file the user added: uninstall removes only what install wrote
    assert.is(run("install", "--name", "tc").status, 0);
    writeFileSync(join(kernels, "tc", "notes.txt"), "mine");
    const u = run("uninstall", "--name", "tc");
    assert.is(u.status, 0, u.stderr);
    assert.match(u.stdout, /left the folder and what else is in it \(notes\.txt\)/);
    assert.equal(readdirSync(join(kernels, "tc")), ["notes.txt"]);
    // something else where the language extension goes is not replaced, and then no kernelspec is written either
    const ext = join(home, "p/share/jupyter/labextensions/tensorcore-lab");
    rmSync(ext, { recursive: true, force: true });
    mkdirSync(ext, { recursive: true });
    writeFileSync(join(ext, "package.json"), JSON.stringify({ name: "someone-elses-extension" }));
    refusedWith(run("install", "--name", "tc2"), `${ext} holds something other than the TensorCore language extension`);
    assert.not.ok(existsSync(join(kernels, "tc2")));
    assert.equal(JSON.parse(readFileSync(join(ext, "package.json"), "utf8")).name, "someone-elses-extension");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("verify refuses a prompt that does not fit the context with its new tokens, naming it, before exporting anything", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-vfit-"));
  try {
    writeFileSync(join(home, "prompts.json"), JSON.stringify(["Hello world", "The meaning of life is"]));
    const r = sandboxed(["verify", "--model", join(root, "models", "embedded"), "--backend", "interp", "--prompts", join(home, "prompts.json"), "--new-tokens", "124"], home);
    assert.is(r.status, 1, r.stderr);
    // GPT-2 ids: "Hello world" is 2 tokens (fits in 128 with 124 more), "The meaning of life is" 5 (does not)
    assert.is(r.stderr, `tensorcore: error: prompt 2 ("The meaning of life is") is 5 tokens: with --new-tokens 124 it needs 129 positions, but the model's context has 128\n`);
    assert.not.ok(existsSync(join(home, "cache", "references")));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("hf's options match python-ref's argparse (names and defaults)", () => {
  const venv = join(root, ".venv", "bin", "python");
  const python = existsSync(venv) ? venv : "python3";
  const script = `import json
from tensorcore_ref.cli import build_parser
sub = [a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"][0]
print(json.dumps({n: {o.option_strings[0][2:]: o.default for o in p._actions if o.option_strings and o.option_strings[0] != "-h"} for n, p in sub.choices.items()}))`;
  const r = spawnSync(python, ["-c", script], { env: { ...process.env, PYTHONPATH: join(root, "python-ref") }, encoding: "utf8" });
  if (r.status !== 0) return console.log(`  (skipped: no Python that imports tensorcore_ref.cli: ${r.stderr.trim().split("\n").pop()})`);
  const py: Record<string, Record<string, unknown>> = JSON.parse(r.stdout);
  assert.equal(Object.keys(py).sort(), HF_COMMANDS.map((c) => c.name.slice(3)).sort());
  for (const c of HF_COMMANDS) {
    const ours = c.options, theirs = py[c.name.slice(3)];
    assert.equal(Object.keys(ours).sort(), Object.keys(theirs).sort(), c.name);
    for (const [name, o] of Object.entries(ours)) {
      const d = theirs[name];
      if (o.type === "boolean") assert.is(d, false, `${c.name} --${name}`);
      else assert.is(o.default ?? null, d, `${c.name} --${name}: ours ${o.default}, python-ref's ${d}`);
    }
  }
});

test("tensorcore cache prune keeps the HF reference exports under TENSORCORE_REFERENCES_CACHE_MB, oldest use first, touching nothing else", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-cache-refs-"));
  try {
    const refs = join(home, "references");
    mkdirSync(refs, { recursive: true });
    const hour = 3600_000;
    // three exports (a folder named by its key, its index.json's mtime = last use, the prompts file beside)
    const exportAt = (key: string, mb: number, usedAgoMs: number) => {
      mkdirSync(join(refs, key, "p000"), { recursive: true });
      writeFileSync(join(refs, key, "p000", "logits.npy"), Buffer.alloc(mb << 20));
      writeFileSync(join(refs, key, "index.json"), "{}");
      writeFileSync(join(refs, `${key}.prompts.json`), "[]");
      const t = (Date.now() - usedAgoMs) / 1000;
      utimesSync(join(refs, key, "index.json"), t, t);
    };
    exportAt("a".repeat(16), 2, 3 * hour);
    exportAt("b".repeat(16), 2, 1 * hour);
    exportAt("c".repeat(16), 2, 2 * 60_000); // used two minutes ago: may be in use elsewhere
    // a removal cut short by a process that is gone (pid 99999999 cannot exist): its temporary goes once
    // 15 minutes old; a fresh one, and a temporary-like name that is not an export's, stay
    const staleTmp = join(refs, `${"e".repeat(16)}.tmp-99999999-deadbeef`), freshTmp = join(refs, `${"f".repeat(16)}.tmp-99999999-deadbeef`);
    mkdirSync(join(staleTmp, "p000"), { recursive: true });
    mkdirSync(freshTmp);
    writeFileSync(join(refs, "notes.tmp-99999999-deadbeef"), "mine");
    utimesSync(staleTmp, (Date.now() - hour) / 1000, (Date.now() - hour) / 1000);
    // not ours: a file and a folder that are not export names, and a symlink with an export's name
    writeFileSync(join(refs, "notes.txt"), "mine");
    mkdirSync(join(refs, "0123456789abcdeg"));
    symlinkSync(tmpdir(), join(refs, "d".repeat(16)));
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [join(repoRoot(), "bin", "tensorcore.js"), "cache", ...args], { encoding: "utf8", env: { ...process.env, TENSORCORE_CACHE: home, ...extra } });
    const list = cli([]);
    assert.is(list.status, 0, list.stderr);
    assert.match(list.stdout, /references\s+6\.0 MB\s+3 exports; limit 2048 MB \(TENSORCORE_REFERENCES_CACHE_MB\)/);
    const prune = cli(["prune"], { TENSORCORE_REFERENCES_CACHE_MB: "5" });
    assert.is(prune.status, 0, prune.stderr);
    assert.match(prune.stdout, /HF reference exports .*references: removed 1 entries \(2\.0 MB\); 4\.0 MB kept \(limit 5\.0 MB/);
    assert.equal(readdirSync(refs).sort(), ["0123456789abcdeg", "b".repeat(16), `${"b".repeat(16)}.prompts.json`, "c".repeat(16), `${"c".repeat(16)}.prompts.json`, "d".repeat(16),
      `${"f".repeat(16)}.tmp-99999999-deadbeef`, "notes.tmp-99999999-deadbeef", "notes.txt"]);
    // the recently used export stays even when the limit cannot be met without it
    const tight = cli(["prune"], { TENSORCORE_REFERENCES_CACHE_MB: "0.5" });
    assert.is(tight.status, 0, tight.stderr);
    assert.ok(existsSync(join(refs, "c".repeat(16), "index.json")) && !existsSync(join(refs, "b".repeat(16))));
    assert.ok(existsSync(join(refs, "notes.txt")) && lstatSync(join(refs, "d".repeat(16))).isSymbolicLink());
    for (const v of ["-1", "0x10", "0b11", "NaN"]) {
      const bad = cli([], { TENSORCORE_REFERENCES_CACHE_MB: v });
      assert.is(bad.status, 1, bad.stdout);
      assert.match(bad.stderr, new RegExp(`^tensorcore: error: TENSORCORE_REFERENCES_CACHE_MB is '${v}': expected the HF reference exports' limit in MB, a positive number \\(unset: 2048\\)`));
    }
    // a references/ that is a symlink to the folder elsewhere is sized there, not as the link
    const linked = mkdtempSync(join(tmpdir(), "tc-cache-linked-"));
    try {
      symlinkSync(refs, join(linked, "references"));
      const viaLink = cli([], { TENSORCORE_CACHE: linked });
      assert.match(viaLink.stdout, /references\s+2\.0 MB\s+1 exports/);
    } finally {
      rmSync(linked, { recursive: true, force: true });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("tensorcore cache lists the cache's folders and prunes the compile cache to --max-mb, touching nothing else", () => {
  const home = mkdtempSync(join(tmpdir(), "tc-cache-cli-"));
  try {
    const env = { ...process.env, TENSORCORE_CACHE: home };
    const cli = (args: string[]) => spawnSync(process.execPath, [join(repoRoot(), "bin", "tensorcore.js"), "cache", ...args], { encoding: "utf8", env });
    mkdirSync(join(home, "eigen"));
    mkdirSync(join(home, "references"));
    writeFileSync(join(home, "references", "keep.npy"), Buffer.alloc(3 << 20));
    const old = (Date.now() - 7200_000) / 1000;
    for (const c of ["1", "2"]) {
      const so = join(home, "eigen", `${c.repeat(32)}.so`);
      writeFileSync(so, Buffer.alloc(2 << 20));
      writeFileSync(`${so}.sum`, "{}");
      utimesSync(`${so}.sum`, old + Number(c), old + Number(c));
    }
    const list = cli([]);
    assert.is(list.status, 0, list.stderr);
    assert.match(list.stdout, /eigen\s+4\.0 MB\s+2 compiled programs, 0 precompiled runtimes; limit 2048 MB/);
    assert.match(list.stdout, /references\s+3\.0 MB/);
    const prune = cli(["prune", "--max-mb", "3"]);
    assert.is(prune.status, 0, prune.stderr);
    assert.match(prune.stdout, /removed 1 entries \(2\.0 MB\)/);
    assert.equal(readdirSync(join(home, "eigen")).sort(), ["2".repeat(32) + ".so", "2".repeat(32) + ".so.sum"]);
    assert.ok(existsSync(join(home, "references", "keep.npy")));
    const bad = cli(["prune", "--max-mb", "0"]);
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /^tensorcore: error: option '--max-mb' must be positive, got 0/);
    // a cache without a compile cache: nothing to prune, and none is made
    rmSync(join(home, "eigen"), { recursive: true });
    const none = cli(["prune"]);
    assert.is(none.status, 0, none.stderr);
    assert.match(none.stdout, /nothing to prune/);
    assert.not.ok(existsSync(join(home, "eigen")));
    // a cache that is a file, and a junk limit: one message each, no stack trace
    const file = join(home, "afile");
    writeFileSync(file, "x");
    for (const [extra, want] of [[{ TENSORCORE_CACHE: file }, /^tensorcore: error: the cache .*afile cannot be read \(not a folder\): set TENSORCORE_CACHE/],
      [{ TENSORCORE_EIGEN_CACHE_MB: "lots" }, /^tensorcore: error: TENSORCORE_EIGEN_CACHE_MB is 'lots': expected/]] as const) {
      const r = spawnSync(process.execPath, [join(repoRoot(), "bin", "tensorcore.js"), "cache"], { encoding: "utf8", env: { ...env, ...extra } });
      assert.is(r.status, 1, r.stdout);
      assert.match(r.stderr, want);
      assert.not.match(r.stderr, /internal error|\n\s+at /);
    }
    // an empty TENSORCORE_CACHE is unset: the cache under HOME, as python-ref reads it
    const r = spawnSync(process.execPath, [join(repoRoot(), "bin", "tensorcore.js"), "cache"], { encoding: "utf8", env: { ...process.env, TENSORCORE_CACHE: "", HOME: home } });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${join(home, ".cache", "tensorcore").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: empty`));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test.run();
