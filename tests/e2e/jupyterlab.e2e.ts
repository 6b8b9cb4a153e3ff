// JupyterLab in headless Chromium (Debian's chromium, driven by playwright-core): open the tour
// notebook, which picks the tensorcore kernel, run all cells, ask for a completion, and check
// that the table and the heatmap rendered; `.ta` code is highlighted by the language extension
// (labextension/); a saved notebook's figures show after a reload, untrusted, without running;
// the committed notebooks open unmodified. Screenshots are kept in artifacts/.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, BrowserContext, Page } from "playwright-core";
import { jupyterEnv, JupyterEnv, JupyterServer, ROOT, startServer, VENV } from "./jupyter-server.js";

const CHROMIUM = [process.env.TENSORCORE_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
const SCREENSHOT = join(ROOT, "artifacts/jupyterlab-tour.png");

if (!CHROMIUM) {
  console.warn("\n*** SKIPPED: JupyterLab browser test: no chromium (apt-get install -y chromium, or scripts/ensure-browser.sh) ***\n");
  test.skip("JupyterLab in headless Chromium runs the tour notebook (SKIPPED: no chromium)", () => undefined);
} else {
  let je: JupyterEnv, server: JupyterServer, browser: BrowserContext, profile: string;

  test.before(async () => {
    try { await setup(); } catch (e) { console.error("set-up failed:", e); throw e; }
  });
  const setup = async () => {
    je = jupyterEnv();
    mkdirSync(join(ROOT, "artifacts"), { recursive: true });
    for (const nb of Object.keys(COMMITTED)) copyFileSync(join(ROOT, "notebooks", nb), join(je.root, nb));
    // tslab (the TypeScript kernel) for the verification-report notebook
    spawnSync(process.execPath, [join(ROOT, "node_modules/tslab/bin/tslab"), "install", "--python", join(VENV, "python"), "--binary", join(ROOT, "node_modules/.bin/tslab"), "--prefix", je.prefix], { encoding: "utf8" });
    writeFigures(join(je.root, "figures.ipynb"));
    writeFileSync(join(je.root, "example.ta"), TA_SOURCE);
    server = await startServer(je, "lab");
    profile = mkdtempSync(join(tmpdir(), "tc-chromium-"));
    // A fresh --user-data-dir: playwright passes it for a persistent context.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1600 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  };

  test.after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    je?.cleanup();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("JupyterLab in headless Chromium runs the tour notebook with the tensorcore kernel", async () => {
    const page: Page = await browser.newPage().catch((e) => { console.error("newPage:", e); throw e; });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      await page.goto(`${server.url}/lab/tree/tensorcore-tour.ipynb?token=${server.token}`, { timeout: 60000 });
      // The notebook's metadata picks the kernel: the toolbar names it once it is idle.
      await page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName").filter({ hasText: "TensorCore" }).waitFor({ timeout: 60000 });
      await page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus").first().waitFor({ timeout: 30000 }).catch(() => undefined);
      // Run → Run All Cells
      await page.locator(".lm-MenuBar-item", { hasText: "Run" }).first().click();
      await page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();
      // The table (arquero HTML) and the heatmap (plotly, via the MIME renderer or the HTML fallback).
      await page.locator(".jp-OutputArea-output .tc-tensor table").first().waitFor({ timeout: 60000 });
      await page.locator(".jp-OutputArea .js-plotly-plot .heatmaplayer, .jp-OutputArea .js-plotly-plot .hm").first().waitFor({ state: "attached", timeout: 60000 });
      const plots = await page.locator(".jp-OutputArea .js-plotly-plot").count();
      assert.ok(plots >= 2, `heatmap and line plot rendered (${plots})`);
      const stream = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']").first().textContent();
      assert.match(stream ?? "", "14");
      const errorsShown = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count();
      assert.is(errorsShown, 0);
      // Completion: a new cell at the end, type a prefix, Tab.
      await page.locator(".jp-Notebook .jp-Cell").last().click();
      await page.keyboard.press("Escape");
      await page.keyboard.press("b");
      await page.keyboard.press("Enter");
      await page.keyboard.type("SOFT");
      await page.keyboard.press("Tab");
      const completer = page.locator(".jp-Completer");
      await completer.waitFor({ timeout: 15000 }).catch(() => undefined);
      const items = (await completer.isVisible()) ? await completer.textContent() : await page.locator(".jp-Notebook .jp-Cell").last().textContent();
      assert.match(items ?? "", "SOFTMAX"); // a single match is inserted directly; several open the completer
      await page.keyboard.press("Escape");
      await page.locator(".jp-OutputArea .js-plotly-plot").first().scrollIntoViewIfNeeded();
    } finally {
      mkdirSync(join(ROOT, "artifacts"), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => undefined);
      if (errors.length) console.log("page errors:", errors.slice(0, 5));
    }
  });

  test("`.ta` code is highlighted: keywords, types and intrinsics carry the language's styles", async () => {
    const page = await browser.newPage();
    try {
      // a notebook cell (the tensorcore kernel's language) and a .ta file in the editor
      for (const [path, shot] of [["figures.ipynb", "jupyterlab-highlight-notebook.png"], ["example.ta", "jupyterlab-highlight-file.png"]]) {
        await page.goto(`${server.url}/lab/tree/${path}?token=${server.token}`, { timeout: 60000 });
        await page.locator(".jp-MainAreaWidget:not(.lm-mod-hidden) .cm-content").first().waitFor({ timeout: 60000 });
        await page.waitForFunction(() => [...document.querySelectorAll(".cm-line span")].some((s) => s.textContent === "MMUL"), undefined, { timeout: 30000 });
        const styles = await page.evaluate(() => {
          const line = document.querySelector(".cm-line")!;
          const plain = getComputedStyle(line).color;
          const out: Record<string, { cls: string; color: string; plain: string }> = {};
          for (const word of ["kernel", "Tensor", "MMUL", "f32", "TileReg"]) {
            const span = [...document.querySelectorAll(".cm-line span")].find((s) => s.textContent === word);
            out[word] = { cls: span?.className ?? "", color: span ? getComputedStyle(span).color : "", plain };
          }
          return out;
        });
        for (const [word, st] of Object.entries(styles)) {
          assert.ok(st.cls, `${path}: '${word}' has a highlight class`);
          assert.is.not(st.color, st.plain, `${path}: '${word}' is coloured unlike plain text`);
        }
        assert.is.not(styles.kernel.cls, styles.MMUL.cls, "keywords and intrinsics are told apart");
        assert.is.not(styles.Tensor.color, styles.kernel.color, "types and keywords are told apart");
        await page.screenshot({ path: join(ROOT, "artifacts", shot) }).catch(() => undefined);
      }
    } finally {
      await page.close();
    }
  });

  test("a saved notebook with three figures shows them after a reload, untrusted, without running", async () => {
    // executed headless (as by someone else), so this user's JupyterLab does not trust it
    const path = join(je.root, "figures.ipynb");
    const r = spawnSync(join(VENV, "jupyter"), ["nbconvert", "--to", "notebook", "--execute", "--inplace", "--ExecutePreprocessor.timeout=120", path], { env: je.env, encoding: "utf8", timeout: 180000 });
    assert.is(r.status, 0, r.stderr);
    assert.ok(statSync(path).size < 200_000, `saved notebook is ${statSync(path).size} bytes`);
    const trusted = spawnSync(join(VENV, "python"), ["-c", "import nbformat, sys; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], 4)))", path], { env: je.env, encoding: "utf8" });
    assert.is(trusted.stdout.trim(), "False", trusted.stderr);
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/lab/tree/figures.ipynb?token=${server.token}`, { timeout: 60000 });
      for (let round = 0; round < 2; round++) {
        if (round === 1) await page.reload({ timeout: 60000 });
        await page.locator(".jp-OutputArea .js-plotly-plot").nth(2).waitFor({ state: "attached", timeout: 60000 });
        assert.is(await page.locator(".jp-OutputArea .js-plotly-plot").count(), 3, "three figures");
        assert.is(await page.locator(".jp-OutputArea .js-plotly-plot .heatmaplayer, .jp-OutputArea .js-plotly-plot .hm").count() > 0, true, "a heatmap drawn");
      }
      assert.is(await page.locator(".jp-CodeCell .jp-InputArea-prompt:has-text('[*]')").count(), 0, "nothing ran");
      await page.screenshot({ path: join(ROOT, "artifacts/jupyterlab-figures-reloaded.png"), fullPage: true }).catch(() => undefined);
      await page.locator(".jp-OutputArea .js-plotly-plot").nth(2).screenshot({ path: join(ROOT, "artifacts/jupyterlab-figure-vs.png") }).catch(() => undefined);
    } finally {
      await page.close();
    }
  });

  test("the committed notebooks open unmodified (their metadata is what their kernels report)", async () => {
    for (const [nb, kernel] of Object.entries(COMMITTED)) {
      const page = await browser.newPage();
      try {
        await page.goto(`${server.url}/lab/tree/${nb}?token=${server.token}`, { timeout: 60000 });
        // once the kernel answered kernel_info, JupyterLab has written its language_info into the model
        await page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName").filter({ hasText: kernel }).first().waitFor({ timeout: 60000 });
        await page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first().waitFor({ timeout: 60000 }).catch(() => undefined);
        await page.waitForTimeout(1500);
        const dirty = await page.locator(".lm-TabBar-tab.jp-mod-dirty").count();
        await page.screenshot({ path: join(ROOT, "artifacts", `jupyterlab-open-${nb.replace(/\.ipynb$/, "")}.png`) }).catch(() => undefined);
        assert.is(dirty, 0, `${nb} opens marked as modified`);
      } finally {
        await page.close();
      }
    }
  });
}

/** The committed notebooks and the kernel each names (display names, as JupyterLab's toolbar shows them). */
const COMMITTED: Record<string, string> = {
  "tensorcore-tour.ipynb": "TensorCore", "gpt2-in-tensorcore.ipynb": "TensorCore",
  "hf-reference-gpt2.ipynb": "Python 3 (ipykernel)", "verification-report.ipynb": "TypeScript",
};

const TA_SOURCE = `// highlighted by the .ta language extension
type T = Tensor<f32, {2, 2}, TileReg>;
kernel square(T a, T out) {
  MMUL(out, a, a);
}
`;

/** A small notebook with three figures (not yet executed). */
function writeFigures(path: string): void {
  const code = (source: string) => ({ cell_type: "code", execution_count: null, id: Math.random().toString(36).slice(2, 10), metadata: {}, outputs: [], source });
  const nb = JSON.parse(readFileSync(join(ROOT, "notebooks/tensorcore-tour.ipynb"), "utf8"));
  nb.cells = [
    code(TA_SOURCE + "type M = Tensor<f32, {6, 6}>;\nM m;\nbatch(i = 0..6 step 1) { batch(j = 0..6 step 1) { m[i][j] = i - j; } }\nM w;\nw = m;\nCAUSAL_MASK(w, 0);\nSOFTMAX(w);"),
    code("%heatmap w --labels [\"The\", \" cat\", \" sat\", \" on\", \" the\", \" mat\"]"),
    code("%plot m"),
    code("%heatmap w --vs SOFTMAX(m)"),
  ];
  writeFileSync(path, JSON.stringify(nb, null, 1));
}

test.run();
