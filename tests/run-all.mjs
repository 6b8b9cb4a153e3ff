#!/usr/bin/env node
// Runs every test group (uvu suites over the built TypeScript, pytest for python-ref)
// and ends with one line "N passed, N failed" that CI reads.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const only = process.argv[2]; // optional group name
let passed = 0, failed = 0;
const groups = [];

function run(name, cmd, args, parse, env = {}) {
  if (only && only !== name) return;
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
const pytest = (out) => {
  // the summary line: "46 passed in 63.05s", "1 failed, 45 passed, 2 errors in 70.1s" (with or without ===)
  const line = out.split("\n").filter((l) => /\d+ (passed|failed|errors?)\b.* in [\d.]+s/.test(l)).pop();
  if (!line) return null;
  const num = (w) => +((new RegExp(`(\\d+) ${w}`).exec(line) || [0, 0])[1]);
  return { passed: num("passed"), failed: num("failed") + num("errors?") };
};

// Unit and differential suites: every dist/tests/*.test.js file (uvu).
run("unit", process.execPath, [join(root, "node_modules/uvu/bin.js"), "dist/tests", "\\.test\\.js$"], uvu);

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
