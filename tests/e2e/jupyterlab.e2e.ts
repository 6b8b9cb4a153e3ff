// JupyterLab in headless Chromium (Debian's chromium, driven by playwright-core): open the tour
// notebook, which picks the tensorcore kernel, run all cells, ask for a completion, and check
// that the table and the heatmap rendered. The screenshot is kept in artifacts/.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, BrowserContext, Page } from "playwright-core";
import { jupyterEnv, JupyterEnv, JupyterServer, ROOT, startServer } from "./jupyter-server.js";

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
    copyFileSync(join(ROOT, "notebooks/tensorcore-tour.ipynb"), join(je.root, "tensorcore-tour.ipynb"));
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
      await page.locator(".jp-OutputArea-output .js-plotly-plot .heatmaplayer, .jp-OutputArea-output .js-plotly-plot .hm").first().waitFor({ state: "attached", timeout: 60000 });
      const plots = await page.locator(".jp-OutputArea-output .js-plotly-plot").count();
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
      await page.locator(".jp-OutputArea-output .js-plotly-plot").first().scrollIntoViewIfNeeded();
    } finally {
      mkdirSync(join(ROOT, "artifacts"), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => undefined);
      if (errors.length) console.log("page errors:", errors.slice(0, 5));
    }
  });
}

test.run();
