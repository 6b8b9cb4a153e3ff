// notebooks/gpt2-in-tensorcore.ipynb on the tensorcore kernel, after notebooks/hf-reference-gpt2.ipynb
// (Python) has exported the HF activations it compares against: both run headless, and every
// comparison the DSL notebook shows must be within f32 round-off of HF.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT } from "../../models/causal-lm.js";
import { PYTHON } from "../../models/zoo.js";

const work = mkdtempSync(join(tmpdir(), "tc-gpt2-nb-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

function runNotebook(name: string, kernel: string, env: Record<string, string> = {}) {
  const out = join(work, name);
  const r = spawnSync(PYTHON, [join(REPO_ROOT, "tests/e2e/run_notebook.py"), join(REPO_ROOT, "notebooks", name), kernel, out], {
    encoding: "utf8", maxBuffer: 1 << 28, env: { ...process.env, ...env },
  });
  assert.is(r.status, 0, `${name}: ${r.stderr.slice(-2000)}${r.stdout.slice(-3000)}`);
  return JSON.parse(readFileSync(out, "utf8"));
}

test("hf-reference-gpt2 (Python) exports, then gpt2-in-tensorcore (TensorCore kernel) matches it step by step", () => {
  runNotebook("hf-reference-gpt2.ipynb", "python3");
  const prefix = join(work, "prefix");
  const install = spawnSync(process.execPath, [join(REPO_ROOT, "bin/tensorcore.js"), "kernel", "install", "--prefix", prefix], { encoding: "utf8" });
  assert.is(install.status, 0, install.stderr);
  const nb = runNotebook("gpt2-in-tensorcore.ipynb", "tensorcore", { JUPYTER_PATH: join(prefix, "share/jupyter") });
  let comparisons = 0, heatmaps = 0, generated = "";
  for (const cell of nb.cells) {
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    for (const o of cell.outputs ?? []) {
      if (o.data?.["application/vnd.plotly.v1+json"]) heatmaps++;
      if (o.output_type === "stream") generated += Array.isArray(o.text) ? o.text.join("") : o.text;
      const text = o.data?.["text/plain"];
      // Every MAX(ABS(dsl - hf)) value a cell shows: the last as execute_result, earlier ones as display_data.
      const shown = o.output_type === "execute_result" || (o.output_type === "display_data" && !o.data?.["application/vnd.plotly.v1+json"]);
      if (shown && /MAX\(ABS\(/.test(src) && text) {
        const body = (Array.isArray(text) ? text.join("") : text).split("\n").slice(1).join("\n");
        const worst = Math.max(...(body.match(/-?\d+(\.\d+)?(e[-+]?\d+)?/g) ?? ["NaN"]).map(Number));
        assert.ok(worst <= 1e-3, `a DSL step differs from HF by ${worst} in:\n${src}`);
        comparisons++;
      }
    }
  }
  assert.ok(comparisons >= 8, `expected every step to be compared, saw ${comparisons}`);
  assert.ok(heatmaps >= 4, `expected attention heatmaps, saw ${heatmaps}`);
  assert.match(generated, /The meaning of life is/);
  assert.match(generated, /tokens; prefill/);
});

test.run();
