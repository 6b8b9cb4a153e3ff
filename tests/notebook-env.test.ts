// The notebook environment's static parts: committed notebooks carry the metadata their kernel
// reports (so JupyterLab opens them unmodified), the shipped .ta language extension knows every
// word of the language, and `kernel install` puts it beside the kernelspec.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelInfo } from "../kernel/syntax.js";
import { install, kernelSpec } from "../kernel/install.js";
import { languageWords } from "../kernel/language-words.js";
import { figureBundle, heatmapFigureSpec } from "../kernel/display.js";
import { allocTensor } from "../runtime/tensor.js";
import { repoRoot } from "./helpers/examples.js";

const root = repoRoot();
const notebooks = readdirSync(join(root, "notebooks")).filter((f) => f.endsWith(".ipynb"));
const read = (f: string) => JSON.parse(readFileSync(join(root, "notebooks", f), "utf8"));

test("tensorcore notebooks carry exactly the kernelspec and language_info the kernel reports", () => {
  const spec = kernelSpec();
  let n = 0;
  for (const f of notebooks) {
    const md = read(f).metadata;
    if (md.kernelspec?.name !== "tensorcore") continue;
    n++;
    assert.equal(md.kernelspec, { display_name: spec.display_name, language: spec.language, name: "tensorcore" }, f);
    assert.equal(md.language_info, kernelInfo().language_info, `${f}: language_info differs from kernel_info's (JupyterLab would mark it modified)`);
  }
  assert.ok(n >= 2, `tensorcore notebooks: ${n}`);
  assert.equal((spec.metadata as { language_info: unknown }).language_info, kernelInfo().language_info, "the kernelspec says what the kernel says");
});

test("every committed notebook has a complete language_info", () => {
  for (const f of notebooks) {
    const li = read(f).metadata.language_info ?? {};
    for (const key of ["name", "version", "mimetype", "file_extension", "codemirror_mode"]) assert.ok(li[key] !== undefined, `${f}: language_info.${key}`);
  }
});

test("the prebuilt JupyterLab extension carries every word of the language (rebuild: node scripts/build-labextension.mjs)", () => {
  const dir = join(root, "labextension/prebuilt");
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  assert.ok(existsSync(join(dir, pkg.jupyterlab._build.load)), "its remote entry");
  const js = readdirSync(join(dir, "static")).filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(dir, "static", f), "utf8")).join("\n");
  const words = languageWords();
  for (const [kind, list] of Object.entries(words)) for (const w of list) assert.ok(js.includes(`"${w}"`), `${kind} '${w}' is missing from the prebuilt extension`);
  assert.ok(words.intrinsics.includes("MMUL") && words.types.includes("Tensor") && words.keywords.includes("kernel"));
  assert.equal(JSON.parse(readFileSync(join(root, "labextension/src/words.json"), "utf8")), words, "words.json is current");
});

test("kernel install --prefix puts the language extension beside the kernelspec", () => {
  const prefix = mkdtempSync(join(tmpdir(), "tc-install-"));
  try {
    const dest = install({ user: false, "sys-prefix": false, prefix, name: "tensorcore", "display-name": "TensorCore" });
    assert.ok(existsSync(join(dest, "kernel.json")));
    assert.ok(existsSync(join(prefix, "share/jupyter/labextensions/tensorcore-lab/package.json")));
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

test("figures are data: three small figures make well under 200 KB", () => {
  const t = allocTensor({ precision: "f32", shape: [12, 12], layout: { kind: "RowMajor" } });
  for (let i = 0; i < 144; i++) t.data[i] = Math.sin(i);
  const size = [0, 1, 2].map(() => JSON.stringify(figureBundle(heatmapFigureSpec(t, "t"), "t")).length).reduce((a, b) => a + b);
  assert.ok(size < 200_000, `${size} bytes`);
});

test.run();
