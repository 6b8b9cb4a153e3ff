// The verification report: one self-contained HTML file (inline SVG, no scripts, no network),
// reproducible from the model hash, the software versions and the seed it records.

import { VerifyReport } from "./verify.js";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A line chart of log10(max-abs-diff) per layer, one polyline per prompt. */
function errorPlot(r: VerifyReport): string {
  const W = 560, Hh = 220, pad = 40;
  const rows = r.prompts[0]?.layers.length ?? 0;
  const vals = r.prompts.flatMap((p) => p.layers.map((l) => Math.log10(Math.max(l.maxAbs, 1e-12))));
  const lo = Math.floor(Math.min(...vals, -8)), hi = Math.ceil(Math.max(...vals, -2));
  const x = (i: number) => pad + (i * (W - 2 * pad)) / Math.max(1, rows - 1);
  const y = (v: number) => Hh - pad + ((lo - v) * (Hh - 2 * pad)) / Math.max(1e-9, hi - lo);
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const lines = r.prompts.map((p, k) => `<polyline fill="none" stroke="${colors[k % colors.length]}" stroke-width="2" points="${p.layers.map((l, i) => `${x(i).toFixed(1)},${y(Math.log10(Math.max(l.maxAbs, 1e-12))).toFixed(1)}`).join(" ")}"/>`);
  const ticks: string[] = [];
  for (let v = lo; v <= hi; v++) ticks.push(`<text x="4" y="${y(v) + 4}" font-size="10">1e${v}</text><line x1="${pad}" x2="${W - pad}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
  const tol = `<line x1="${pad}" x2="${W - pad}" y1="${y(Math.log10(r.tolerance.logitsMaxAbs))}" y2="${y(Math.log10(r.tolerance.logitsMaxAbs))}" stroke="#999" stroke-dasharray="4"/>`;
  const labels = (r.prompts[0]?.layers ?? []).map((_, i) => `<text x="${x(i)}" y="${Hh - pad + 14}" font-size="9" text-anchor="middle">${i}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" role="img" aria-label="max-abs-diff per layer">${ticks.join("")}${tol}${lines.join("")}${labels.join("")}</svg>`;
}

/** A heatmap of an attention map (rows are queries, columns keys), white → dark blue. */
function heatmap(m: number[][], title: string): string {
  const n = m.length, cell = Math.max(4, Math.min(14, Math.floor(220 / Math.max(1, n))));
  const rects: string[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const v = Math.max(0, Math.min(1, m[i][j]));
      const c = Math.round(255 * (1 - v));
      rects.push(`<rect x="${j * cell}" y="${i * cell + 16}" width="${cell}" height="${cell}" fill="rgb(${c},${c},255)"><title>q${i} k${j}: ${m[i][j].toFixed(5)}</title></rect>`);
    }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${n * cell}" height="${n * cell + 16}"><text x="0" y="12" font-size="11">${esc(title)}</text>${rects.join("")}</svg>`;
}

export function renderReport(r: VerifyReport): string {
  const prompts = r.prompts.map((p) => {
    const rows = p.layers.map((l) => `<tr><td>${esc(l.name)}</td><td>${l.maxAbs.toExponential(3)}</td><td>${l.cosine.toFixed(8)}</td></tr>`).join("");
    const attn = p.attention.map((a) => `<tr><td>layer ${a.layer} attention probs</td><td>${a.maxAbs.toExponential(3)}</td><td></td></tr>`).join("");
    const maps = p.maps.map((m) => `<div class="pair">${heatmap(m.dsl, `DSL layer ${m.layer} head 0`)}${heatmap(m.hf, `HF layer ${m.layer} head 0`)}</div>`).join("");
    return `<section><h2>${esc(JSON.stringify(p.prompt))} <small>(${p.tokens} tokens)</small></h2>
<table><tr><th>tensor</th><th>max-abs-diff</th><th>cosine</th></tr>${rows}${attn}</table>
<p>Greedy continuation: ${p.greedy.matched}/${p.greedy.hf.length} tokens identical to HF <code>generate</code>${p.greedy.tieSteps ? `; ${p.greedy.tieSteps} step(s) at a near-tie (HF top-2 gap &lt; ${r.tolerance.greedyGap})` : ""}.</p>
<p class="ids">HF: ${p.greedy.hf.join(" ")}<br>DSL: ${p.greedy.dsl.join(" ")}</p>${maps}</section>`;
  }).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>TensorCore verification report</title>
<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}.pair{display:flex;gap:24px;margin:8px 0}.ok{color:#080}.bad{color:#b00}.ids{font-family:monospace;font-size:11px}</style></head><body>
<h1>TensorCore verification report</h1>
<p class="${r.ok ? "ok" : "bad"}"><b>${r.ok ? "PASSED" : "FAILED"}</b> — DSL (${r.backend} back end) against Hugging Face transformers.</p>
<table><tr><td>model</td><td>${esc(r.model)}</td></tr><tr><td>model sha256</td><td><code>${esc(r.modelSha256)}</code></td></tr>
<tr><td>software</td><td>${esc(Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(", "))}</td></tr><tr><td>seed</td><td>${r.seed}</td></tr>
<tr><td>tolerances</td><td>logits max-abs-diff ≤ ${r.tolerance.logitsMaxAbs}; layer cosine ≥ ${r.tolerance.layerCosine}; greedy identical except at HF top-2 gaps &lt; ${r.tolerance.greedyGap}</td></tr></table>
${r.failures.length ? `<ul class="bad">${r.failures.map((f) => `<li>${esc(f)}</li>`).join("")}</ul>` : ""}
<h2>Max-abs-diff per layer (log scale; dashed: the logits tolerance)</h2>${errorPlot(r)}
${prompts}
</body></html>`;
}
