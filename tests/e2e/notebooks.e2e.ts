// The verification-report notebook, executed headless under tslab (the TypeScript kernel) with the
// project's own API: it must run top to bottom, pass, and render its tables and plots.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT } from "../../models/causal-lm.js";
import { ensureModel, PYTHON } from "../../models/zoo.js";

const prefix = mkdtempSync(join(tmpdir(), "tc-tslab-"));

test.after(() => rmSync(prefix, { recursive: true, force: true }));

test("notebooks/verification-report.ipynb runs under tslab and passes", () => {
  const install = spawnSync(process.execPath, [join(REPO_ROOT, "node_modules/tslab/bin/tslab"), "install", "--python", PYTHON,
    "--binary", join(REPO_ROOT, "node_modules/.bin/tslab"), "--prefix", prefix], { encoding: "utf8" });
  assert.is(install.status, 0, install.stderr + install.stdout);
  const model = ensureModel("gpt2-tiny-custom", ["--layers", "3", "--heads", "6", "--width", "192"], "gpt2-3x6x192");
  const r = spawnSync(PYTHON, [join(REPO_ROOT, "tests/e2e/run_notebook.py"), join(REPO_ROOT, "notebooks/verification-report.ipynb"), "tslab"], {
    encoding: "utf8", maxBuffer: 1 << 28,
    env: { ...process.env, JUPYTER_PATH: join(prefix, "share/jupyter"), TENSORCORE_REPORT_MODEL: model.dsl, TENSORCORE_REPORT_BACKEND: "eigen" },
  });
  assert.is(r.status, 0, r.stderr.slice(-3000) + r.stdout.slice(-3000));
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.ok(out.outputs.some((o: { text: string }) => o.text.includes("PASSED")), JSON.stringify(out.outputs).slice(0, 2000));
  const html = out.outputs.filter((o: { mimes: string[] }) => o.mimes.includes("text/html"));
  assert.ok(html.length >= 5, `expected the table, the error plot, two heatmaps and the continuations; got ${html.length} HTML outputs`);
});

test.run();
