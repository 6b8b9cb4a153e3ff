// `tensorcore verify --report` for two prompts on the embedded model: one report with every back
// end, opened in headless Chromium (as a person would open the file): both back ends, token text
// on the attention maps' axes, a colour key. The screenshot is kept in artifacts/.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { BACKENDS } from "../../backends/index.js";
import { REPO_ROOT } from "../../models/causal-lm.js";

const CHROMIUM = [process.env.TENSORCORE_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
const work = mkdtempSync(join(tmpdir(), "tc-report-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

test("verify --report: both back ends in one self-contained report, token labels and a colour key", async () => {
  const prompts = join(work, "prompts.json"), out = join(work, "report.html");
  writeFileSync(prompts, JSON.stringify(["The meaning of life is", "Hello, my dog"]));
  const r = spawnSync(process.execPath, [join(REPO_ROOT, "bin/tensorcore.js"), "verify", "--prompts", prompts, "--new-tokens", "4", "--report", out], {
    encoding: "utf8", env: { ...process.env, TENSORCORE_CACHE: join(work, "cache") }, timeout: 600000,
  });
  assert.is(r.status, 0, r.stderr.slice(-3000) + r.stdout.slice(-2000));
  const html = readFileSync(out, "utf8");
  assert.not.match(html, /<script|https?:\/\/(?!www\.w3\.org)/, "self-contained: no scripts, no network");
  const expected = ["interp", ...((await BACKENDS.eigen.available()) ? [] : ["eigen"])];
  if (expected.length === 1) console.warn("  (the eigen back end is not available here: the report has interp only)");
  if (!CHROMIUM) { console.warn("  SKIPPED the browser part: no chromium"); return; }
  const profile = mkdtempSync(join(tmpdir(), "tc-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1300, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(out).href);
    const headings = await page.locator("h2").allTextContents();
    for (const b of expected) assert.ok(headings.includes(`Back end: ${b}`), `a section for ${b}: ${headings}`);
    const verdicts = await page.locator("table").first().locator("tr").allTextContents();
    for (const b of expected) assert.ok(verdicts.some((row) => row.startsWith(b) && row.includes("PASSED")), `${b} passed: ${verdicts}`);
    // Attention maps: DSL, HF and their difference, labelled with the prompt's tokens, with keys.
    const map = page.locator(".map svg").first();
    const labels = await map.locator("text").allTextContents();
    for (const token of ["The", "␣meaning", "␣of", "␣life", "␣is"]) assert.ok(labels.includes(token), `token label '${token}' on the map: ${labels.slice(0, 20)}`);
    assert.ok(labels.includes("DSL − HF"), "the difference panel");
    assert.is(await map.locator(".tc-colorkey").count(), 2, "a key for DSL/HF, one for the difference");
    const box = await map.boundingBox();
    assert.ok(box && box.width > 600 && box.height > 250, `maps large enough to read: ${JSON.stringify(box)}`);
    // token text beside the ids, and the per-layer plot with a legend and axis names
    assert.ok(await page.locator(".tok code", { hasText: "␣meaning" }).count() > 0, "token text beside ids");
    const plot = await page.locator("svg[aria-label^='Max-abs-diff']").locator("text").allTextContents();
    assert.ok(plot.some((t) => t.startsWith("interp · prompt 1")) && plot.includes("max |DSL − HF|"), `legend and axis names: ${plot.slice(0, 12)}`);
    mkdirSync(join(REPO_ROOT, "artifacts"), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, "artifacts/verification-report.png"), fullPage: true });
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test.run();
