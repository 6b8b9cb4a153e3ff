#!/usr/bin/env node
// Runs every test group (uvu suites over the built TypeScript, the C++ runtime's own test, pytest for
// python-ref) and ends with one line "N passed, N failed" that CI reads.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const only = process.argv[2]; // optional group name
let passed = 0, failed = 0;
const groups = [];

function run(name, cmd, args, parse, env = {}) {
  if (only && only !== name.split(" ")[0]) return;
  console.log(`\n=== ${name}: ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  const out = (r.stdout || "") + (r.stderr || "");
  process.stdout.write(out);
  const counts = parse(out);
  if (!counts) { failed += 1; groups.push(`${name}: no result (exit ${r.status})`); return; }
  // A runner that exits non-zero without counting a failure still fails the group.
  if (r.status !== 0 && counts.failed === 0) counts.failed = 1;
  passed += counts.passed; failed += counts.failed;
  groups.push(`${name}: ${counts.passed} passed, ${counts.failed} failed`);
}

const uvu = (out) => {
  const t = /Total:\s+(\d+)/.exec(out), p = /Passed:\s+(\d+)/.exec(out);
  if (!t || !p) return null;
  return { passed: +p[1], failed: +t[1] - +p[1] };
};
const counted = (out) => {
  // the C++ tests' last line: "N passed, N failed"
  const m = /^(\d+) passed, (\d+) failed$/m.exec(out);
  return m ? { passed: +m[1], failed: +m[2] } : null;
};
const pytest = (out) => {
  // the summary line: "46 passed in 63.05s", "1 failed, 45 passed, 2 errors in 70.1s" (with or without ===)
  const line = out.split("\n").filter((l) => /\d+ (passed|failed|errors?)\b.* in [\d.]+s/.test(l)).pop();
  if (!line) return null;
  const num = (w) => +((new RegExp(`(\\d+) ${w}`).exec(line) || [0, 0])[1]);
  return { passed: num("passed"), failed: num("failed") + num("errors?") };
};

// Unit and differential suites: every dist/tests/*.test.js file (uvu).
run("unit", process.execPath, [join(root, "node_modules/uvu/bin.js"), "dist/tests", "\\.test\\.js$"], uvu);

// C++: tests/cpp/NAME.cpp against the eigen back end's runtime header (compiler/eigen/runtime/), built
// with the back end's compiler and Eigen into dist/tests/cpp/NAME, again only when a source, a flag or
// the compiler changed. Returns the binary, or why there is none.
async function buildCpp(name, extra = []) {
  const src = join(root, "tests/cpp", `${name}.cpp`), rtDir = join(root, "compiler/eigen/runtime");
  const bin = join(root, "dist/tests/cpp", name);
  let tc;
  try {
    tc = (await import(join(root, "dist/compiler/eigen/build.js"))).toolchain(); // one sentence if g++ or Eigen is missing
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  const flags = ["-std=c++17", "-O1", "-march=native", "-ffp-contract=off", `-I${tc.eigenDir}`, `-I${rtDir}`];
  const sources = [src, ...extra.map((f) => join(root, f))];
  const h = createHash("sha256").update(tc.cxx).update(tc.version).update(flags.join("\0")).update(sources.join("\0")).update(readFileSync(src));
  for (const f of readdirSync(rtDir).sort()) h.update(f).update(readFileSync(join(rtDir, f)));
  const key = h.digest("hex");
  if (existsSync(bin) && existsSync(bin + ".key") && readFileSync(bin + ".key", "utf8") === key) return { bin };
  mkdirSync(dirname(bin), { recursive: true });
  console.log(`\n=== cpp: compiling ${relative(root, src)}`);
  const tmp = `${bin}.tmp-${process.pid}`;
  const r = spawnSync(tc.cxx, [...flags, ...sources, "-pthread", "-o", tmp], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    return { error: `${tc.cxx} failed on ${relative(root, src)}:\n${r.error ?? ""}${r.stdout ?? ""}${r.stderr ?? ""}` };
  }
  renameSync(tmp, bin);
  writeFileSync(bin + ".key", key);
  return { bin };
}

if (!only || only === "cpp") {
  // precision_test: the header's scalar rules against numpy; pool_test: the runtime's thread pool
  for (const [name, extra, args] of [
    ["precision_test", [], [join(root, "tests/fixtures/examples/precision-cases.json")]],
    ["pool_test", ["compiler/eigen/runtime/tc_runtime.cpp"], []],
  ]) {
    const built = await buildCpp(name, extra);
    if (built.error) {
      console.log(`\n=== cpp: not built: ${built.error}`);
      failed += 1;
      groups.push(`cpp ${name}: not built`);
    } else run(`cpp ${name}`, built.bin, args, counted);
  }
}

// python-ref: pytest inside the project's virtual environment.
const py = join(root, ".venv/bin/python");
if (existsSync(join(root, "python-ref/tests")) && existsSync(py)) {
  run("python-ref", py, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "python-ref/tests"], pytest);
}

// End-to-end suites (Jupyter server, notebooks, HF verification) live in dist/tests/e2e.
if (existsSync(join(root, "dist/tests/e2e")) && readdirSync(join(root, "dist/tests/e2e")).some((f) => f.endsWith(".e2e.js"))) {
  run("e2e", process.execPath, [join(root, "node_modules/uvu/bin.js"), "dist/tests/e2e", "\\.e2e\\.js$"], uvu);
}

console.log("\n" + groups.join("\n"));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
