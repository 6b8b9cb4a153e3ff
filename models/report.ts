// The verification report: one self-contained HTML file (inline SVG drawn by kernel/figures.ts,
// no scripts, no network), reproducible from the model hash, the software versions and the seed
// it records. One report holds every back end that was verified (`verify --report` runs them all).

import { heatmapSpec, LineSpec, svgFigure, tokenLabel } from "../kernel/figures.js";
import { PromptReport, VerifyReport } from "./verify.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./causal-lm.js";

/** The report's styles, kept as CSS in models/report.css and inlined so the report stays one file. */
const REPORT_CSS = readFileSync(join(REPO_ROOT, "models", "report.css"), "utf8").replace(/\/\*.*?\*\/\n?/s, "");

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** log10(max-abs-diff) per layer: one line per back end and prompt, with the logits tolerance. */
function errorPlot(reports: VerifyReport[]): string {
  const first = reports[0]?.prompts[0];
  const spec: LineSpec = {
    kind: "lines",
    title: "Max-abs-diff against HF per layer (log scale)",
    xTitle: "layer (residual stream entering it), final norm, logits",
    yTitle: "max |DSL − HF|",
    xLabels: (first?.layers ?? []).map((l) => l.name.replace(/ \(last position\)$/, "")),
    yLog: true,
    series: reports.flatMap((r) => r.prompts.map((p, k) => ({ name: `${r.backend} · prompt ${k + 1}`, y: p.layers.map((l) => Math.max(l.maxAbs, 1e-12)) }))),
    hlines: reports[0] ? [{ y: reports[0].tolerance.logitsMaxAbs, label: `logits tolerance ${reports[0].tolerance.logitsMaxAbs}` }] : [],
  };
  return svgFigure(spec);
}

/** Token ids with their text: `The`₄₆₄. */
function tokens(ids: number[], byId: Record<number, string> | undefined): string {
  return ids.map((id) => `<span class="tok">${byId && byId[id] !== undefined ? `<code>${esc(tokenLabel(byId[id]))}</code>` : ""}<sub>${id}</sub></span>`).join(" ");
}

function promptSection(r: VerifyReport, p: PromptReport, k: number): string {
  const rows = p.layers.map((l) => `<tr><td>${esc(l.name)}</td><td>${l.maxAbs.toExponential(3)}</td><td>${l.cosine.toFixed(8)}</td></tr>`).join("");
  const attn = p.attention.map((a) => `<tr><td>layer ${a.layer} attention probs</td><td>${a.maxAbs.toExponential(3)}</td><td></td></tr>`).join("");
  const byId = p.tokenText?.byId;
  const labels = p.tokenText?.prompt;
  const maps = p.maps.map((m) => {
    const idx = m.dsl.map((_, i) => i);
    const spec = heatmapSpec(`Layer ${m.layer}, head 0: attention probabilities (${r.backend})`, [
      { title: "DSL", z: m.dsl, rows: idx, cols: idx },
      { title: "HF", z: m.hf, rows: idx, cols: idx },
    ], { labels, difference: true, scaleTitle: "probability" });
    return `<div class="map">${svgFigure(spec)}</div>`;
  }).join("");
  const g = p.greedy;
  return `<section><h3>${r.backend} · prompt ${k + 1}: ${esc(JSON.stringify(p.prompt))} <small>(${p.tokens} tokens)</small></h3>
${p.tokenText ? `<p class="ids"><b>prompt</b> ${tokens(p.tokenText.ids, byId)}</p>` : ""}
<table><tr><th>tensor</th><th>max-abs-diff</th><th>cosine</th></tr>${rows}${attn}</table>
<p>Greedy continuation: ${g.matched}/${g.hf.length} tokens identical to HF <code>generate</code>${g.tieSteps ? `; ${g.tieSteps} step(s) at a near-tie (HF top-2 gap &lt; ${r.tolerance.greedyGap})` : ""}.</p>
<p class="ids"><b>HF</b> ${tokens(g.hf, byId)}<br><b>DSL</b> ${tokens(g.dsl, byId)}</p>${maps}</section>`;
}

export function renderReport(input: VerifyReport | VerifyReport[]): string {
  const reports = Array.isArray(input) ? input : [input];
  const r0 = reports[0];
  const ok = reports.every((r) => r.ok);
  const verdicts = reports.map((r) => {
    const worst = Math.max(...r.prompts.map((p) => p.logitsMaxAbs));
    const greedy = r.prompts.map((p) => `${p.greedy.matched}/${p.greedy.hf.length}`).join(", ");
    return `<tr><td>${esc(r.backend)}</td><td class="${r.ok ? "ok" : "bad"}"><b>${r.ok ? "PASSED" : "FAILED"}</b></td><td>${worst.toExponential(2)}</td><td>${greedy}</td></tr>`;
  }).join("");
  const failures = reports.flatMap((r) => r.failures.map((f) => `${r.backend}: ${f}`));
  const sections = reports.map((r) => `<h2>Back end: ${esc(r.backend)}</h2>\n${r.prompts.map((p, k) => promptSection(r, p, k)).join("\n")}`).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>TensorCore verification report</title>
<style>${REPORT_CSS}</style></head><body>
<h1>TensorCore verification report</h1>
<p class="${ok ? "ok" : "bad"}"><b>${ok ? "PASSED" : "FAILED"}</b> — the DSL model on ${reports.map((r) => `the ${esc(r.backend)}`).join(" and ")} back end${reports.length > 1 ? "s" : ""} against Hugging Face transformers.</p>
<table><tr><th>back end</th><th>verdict</th><th>worst logits max-abs-diff</th><th>greedy tokens identical (per prompt)</th></tr>${verdicts}</table>
${r0 ? `<table><tr><td>model</td><td>${esc(r0.model)}</td></tr><tr><td>model sha256</td><td><code>${esc(r0.modelSha256)}</code></td></tr>
<tr><td>software</td><td>${esc(Object.entries(r0.versions).map(([k, v]) => `${k} ${v}`).join(", "))}</td></tr><tr><td>seed</td><td>${r0.seed}</td></tr>
<tr><td>tolerances</td><td>logits max-abs-diff ≤ ${r0.tolerance.logitsMaxAbs}; layer cosine ≥ ${r0.tolerance.layerCosine}; greedy identical except at HF top-2 gaps &lt; ${r0.tolerance.greedyGap}</td></tr></table>` : ""}
${failures.length ? `<ul class="bad">${failures.map((f) => `<li>${esc(f)}</li>`).join("")}</ul>` : ""}
<h2>Max-abs-diff per layer</h2>${errorPlot(reports)}
${sections}
</body></html>`;
}
