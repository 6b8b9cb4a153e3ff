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
    for (const o of cell.outputs ?? []) {
      const fig = o.data?.["application/vnd.plotly.v1+json"];
      if (fig?.data[0].type === "heatmap") {
        heatmaps++;
        // DSL, HF and the difference side by side, the axes labelled with the prompt's tokens
        assert.is(fig.data.length, 3);
        assert.ok(fig.layout.xaxis.ticktext.includes("␣meaning"), JSON.stringify(fig.layout.xaxis.ticktext));
        assert.ok(o.data["image/svg+xml"], "a static picture too");
      }
      if (o.output_type !== "stream") continue;
      const text = Array.isArray(o.text) ? o.text.join("") : o.text;
      generated += text;
      // Every %compare line: its numbers checked here against f32 round-off, not only its verdict.
      for (const m of text.matchAll(/^(.+?) vs (.+?): max-abs-diff (\S+) · cosine (\S+) · (PASS|FAIL)/gm)) {
        assert.is(m[5], "PASS", m[0]);
        assert.ok(Number(m[3]) <= 1e-3, `${m[1]} differs from ${m[2]} by ${m[3]}`);
        assert.ok(Number(m[4]) >= 0.99999, m[0]);
        comparisons++;
      }
    }
  }
  assert.ok(comparisons >= 8, `expected every step to be compared, saw ${comparisons}`);
  assert.ok(heatmaps >= 2, `expected attention heatmaps, saw ${heatmaps}`);
  assert.match(generated, /The meaning of life is/);
  assert.match(generated, /tokens; prefill .*; stopped: (--max-new-tokens 24 reached|the model wrote the end-of-text token)/);
});

test.run();
