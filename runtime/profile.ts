// The profiler's report: what a back end counted (calls and time per kernel and per statement),
// charged with the work of each statement (compiler/cost.ts), set against this machine's roofline
// (runtime/roofline.ts). A table for a terminal and a plotly-style figure ({data, layout}) for a
// notebook. Back ends only count; every number derived from the IR is computed here, once, so both
// back ends report the same bytes and FLOPs for the same run.

import { Cost, isLeaf, stmtCost } from "../compiler/cost.js";
import * as IR from "../compiler/ir.js";
import { Span } from "../compiler/source.js";

/** What a back end measured. `kernel: null` stands for a program's top-level statements. */
export interface RawProfile {
  backend: string;
  kernels: { kernel: IR.Kernel | null; calls: number; seconds: number }[];
  stmts: { kernel: IR.Kernel | null; stmt: IR.Stmt; calls: number; seconds: number }[];
}

export interface Roofline {
  /** Streaming-read bandwidth, all threads (GB/s). */
  bandwidthGBps: number;
  /** Peak FMA rate, all threads (GFLOP/s, a multiply-add counting 2). */
  peakGflops: number;
  threads: number;
  /** How it was measured (the CPU and the instruction set). */
  note: string;
  /** Measured while other work kept the machine busy: the figures may be low, so the next use measures again. */
  busy?: boolean;
}

export interface ProfileRow {
  kernel: string;
  /** "line:col" of the statement in its file ("" for a kernel row). */
  where: string;
  file: string;
  /** The statement's first line of source, trimmed (the kernel's name for a kernel row). */
  text: string;
  kind: IR.Stmt["kind"] | "kernel";
  calls: number;
  seconds: number;
  flops: number;
  bytes: number;
  /** Achieved rates (0 when the time is 0). */
  gbps: number;
  gflops: number;
  /** FLOPs per byte. */
  intensity: number;
  /** Share of the attainable rate at this intensity, min(peak, intensity × bandwidth) (0..1+). */
  ofRoofline: number;
}

export interface ProfileReport {
  backend: string;
  roofline?: Roofline;
  /** Sum of the outermost kernels' times (what the host waited for). */
  totalSeconds: number;
  kernels: ProfileRow[];
  stmts: ProfileRow[];
}

const TOP = "(top level)";
const kernelName = (k: IR.Kernel | null): string => (k ? k.name : TOP);

function where(span: Span): { where: string; file: string; text: string } {
  const p = span.file.position(span.start);
  const text = span.file.lineText(p.line).replace(/\/\/.*$/, "").trim(); // without a trailing comment
  return { where: `${p.line}:${p.col}`, file: span.file.name, text };
}

function rates(row: Omit<ProfileRow, "gbps" | "gflops" | "intensity" | "ofRoofline">, roof?: Roofline): ProfileRow {
  const gbps = row.seconds > 0 ? row.bytes / row.seconds / 1e9 : 0;
  const gflops = row.seconds > 0 ? row.flops / row.seconds / 1e9 : 0;
  const intensity = row.bytes > 0 ? row.flops / row.bytes : 0;
  let ofRoofline = 0;
  if (roof && row.seconds > 0 && (row.flops > 0 || row.bytes > 0)) {
    // the time the roofline allows for this work: the larger of its memory time and its compute time
    const ideal = Math.max(row.bytes / (roof.bandwidthGBps * 1e9), row.flops / (roof.peakGflops * 1e9));
    ofRoofline = ideal / row.seconds;
  }
  return { ...row, gbps, gflops, intensity, ofRoofline };
}

/**
 * Charge each counted statement with its work. A leaf's work is its cost per execution times its
 * executions. A call statement's is its callee's inclusive work per call times its calls (exact:
 * a kernel's parameters have static shapes, so each of its calls does the same work, unless its
 * loop bounds read tensors, when it is the average over the callee's calls).
 */
export function buildReport(raw: RawProfile, roofline?: Roofline): ProfileReport {
  // merge entries for the same statement (a kernel compiled for two stride patterns, top-level
  // statements lowered into several segment kernels): by kernel and source position
  type Acc = { kernel: IR.Kernel | null; stmt: IR.Stmt; calls: number; seconds: number };
  const byKey = new Map<string, Acc>();
  // (a top-level `show` runs compiled as an assignment to an output tensor: the same row)
  const keyOf = (k: IR.Kernel | null, s: IR.Stmt) =>
    `${kernelName(k)}\u0000${s.span.file.name}\u0000${s.span.start}\u0000${s.span.end}\u0000${s.kind === "show" ? "assign" : s.kind}`;
  for (const e of raw.stmts) {
    if (e.calls === 0) continue;
    const key = keyOf(e.kernel, e.stmt);
    const a = byKey.get(key);
    if (a) { a.calls += e.calls; a.seconds += e.seconds; } else byKey.set(key, { ...e });
  }
  const kernelCalls = new Map<IR.Kernel | null, { calls: number; seconds: number }>();
  for (const k of raw.kernels) {
    const a = kernelCalls.get(k.kernel);
    if (a) { a.calls += k.calls; a.seconds += k.seconds; } else kernelCalls.set(k.kernel, { calls: k.calls, seconds: k.seconds });
  }
  const stmtsOf = new Map<IR.Kernel | null, Acc[]>();
  for (const a of byKey.values()) {
    const list = stmtsOf.get(a.kernel) ?? [];
    list.push(a);
    stmtsOf.set(a.kernel, list);
  }

  // inclusive work of each kernel over all its calls, callees first (the call graph is acyclic)
  const inclusive = new Map<IR.Kernel | null, Cost>();
  const rowCost = new Map<Acc, Cost>();
  const visit = (k: IR.Kernel | null): Cost => {
    const done = inclusive.get(k);
    if (done) return done;
    const total: Cost = { flops: 0, bytesRead: 0, bytesWritten: 0 };
    for (const a of stmtsOf.get(k) ?? []) {
      let c: Cost;
      if (isLeaf(a.stmt)) {
        const one = stmtCost(a.stmt);
        c = { flops: one.flops * a.calls, bytesRead: one.bytesRead * a.calls, bytesWritten: one.bytesWritten * a.calls };
      } else if (a.stmt.kind === "call") {
        const callee = visit(a.stmt.kernel), n = kernelCalls.get(a.stmt.kernel)?.calls ?? 0;
        const f = n > 0 ? a.calls / n : 0;
        c = { flops: callee.flops * f, bytesRead: callee.bytesRead * f, bytesWritten: callee.bytesWritten * f };
      } else {
        continue; // a loop: its body's statements are charged themselves
      }
      rowCost.set(a, c);
      total.flops += c.flops; total.bytesRead += c.bytesRead; total.bytesWritten += c.bytesWritten;
    }
    inclusive.set(k, total);
    return total;
  };

  const stmts: ProfileRow[] = [];
  for (const a of byKey.values()) {
    const k = a.kernel;
    visit(k);
    const c = rowCost.get(a);
    stmts.push(rates({
      kernel: kernelName(k), ...where(a.stmt.span), kind: a.stmt.kind, calls: a.calls, seconds: a.seconds,
      flops: c?.flops ?? 0, bytes: c ? c.bytesRead + c.bytesWritten : 0,
    }, roofline));
  }
  // loops: their body's work, so a loop row reads like a call row
  for (const a of byKey.values()) {
    if (a.stmt.kind !== "loop") continue;
    const inner = new Set<IR.Stmt>();
    const walk = (ss: IR.Stmt[]) => ss.forEach((s) => { inner.add(s); if (s.kind === "loop") walk(s.body); });
    walk(a.stmt.body);
    let flops = 0, bytes = 0;
    for (const b of byKey.values()) {
      if (b.kernel !== a.kernel || !containsStmt(inner, b.stmt)) continue;
      const c = rowCost.get(b);
      if (c) { flops += c.flops; bytes += c.bytesRead + c.bytesWritten; }
    }
    const row = stmts.find((r) => r.kernel === kernelName(a.kernel) && r.kind === "loop" && r.where === where(a.stmt.span).where)!;
    Object.assign(row, rates({ ...row, flops, bytes }, roofline));
  }

  const called = new Set<IR.Kernel>();
  for (const a of byKey.values()) if (a.stmt.kind === "call") called.add(a.stmt.kernel);
  const kernels: ProfileRow[] = [];
  let totalSeconds = 0;
  for (const [k, kc] of kernelCalls) {
    const c = visit(k);
    if (!k || !called.has(k)) totalSeconds += kc.seconds;
    kernels.push(rates({
      kernel: kernelName(k), where: "", file: k ? k.span.file.name : "", text: kernelName(k), kind: "kernel",
      calls: kc.calls, seconds: kc.seconds, flops: c.flops, bytes: c.bytesRead + c.bytesWritten,
    }, roofline));
  }
  kernels.sort((x, y) => y.seconds - x.seconds);
  stmts.sort((x, y) => y.seconds - x.seconds);
  return { backend: raw.backend, roofline, totalSeconds, kernels, stmts };
}

/** Statements are matched by source position: the compiled back end runs copies of top-level ones. */
function containsStmt(set: Set<IR.Stmt>, s: IR.Stmt): boolean {
  if (set.has(s)) return true;
  for (const t of set) if (t.span.start === s.span.start && t.span.end === s.span.end && t.span.file === s.span.file && t.kind === s.kind) return true;
  return false;
}

const fmt = (x: number, d = 1): string => (x === 0 ? "0" : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d));

/** The report as aligned text: kernels, then the `top` most expensive statements. */
export function formatProfile(r: ProfileReport, top = 25): string {
  const out: string[] = [];
  const roof = r.roofline;
  out.push(`profile (${r.backend}): ${fmt(r.totalSeconds * 1e3, 2)} ms in kernels` +
    (roof ? `; roofline ${fmt(roof.bandwidthGBps)} GB/s streaming read, ${fmt(roof.peakGflops)} GFLOP/s peak FMA (${roof.threads} threads; ${roof.note})` : ""));
  const head = ["calls", "ms", "%", "FLOP", "bytes", "GB/s", "GFLOP/s", "FLOP/B", "% roof"];
  const cells = (x: ProfileRow) => [String(x.calls), fmt(x.seconds * 1e3, 3), fmt(r.totalSeconds > 0 ? (100 * x.seconds) / r.totalSeconds : 0),
    si(x.flops), si(x.bytes), fmt(x.gbps, 2), fmt(x.gflops, 2), fmt(x.intensity, 2), roof ? fmt(100 * x.ofRoofline) : "-"];
  const table = (title: string, rows: ProfileRow[], label: (x: ProfileRow) => string) => {
    const labels = rows.map(label);
    const w = Math.max(title.length, ...labels.map((l) => l.length));
    const body = rows.map(cells);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    out.push("", `${title.padEnd(w)}  ${head.map((h, i) => h.padStart(widths[i])).join("  ")}`);
    rows.forEach((_, j) => out.push(`${labels[j].padEnd(w)}  ${body[j].map((c, i) => c.padStart(widths[i])).join("  ")}`));
  };
  table("kernel", r.kernels, (x) => x.kernel);
  const shown = r.stmts.slice(0, top);
  table(`statement (top ${shown.length} of ${r.stmts.length} by time)`, shown, (x) => `${x.kernel} ${x.where} ${clip(x.text, 44)}`);
  out.push("", "time of a loop, a call and a kernel includes what runs inside; statements inside parallel batch loops (compiled) sum their threads' time.");
  return out.join("\n");
}

/** A count with an SI suffix: 512, 4.10k, 1.23M, 2.05G. */
export function si(x: number): string {
  if (x < 1000) return String(Math.round(x));
  const units = ["k", "M", "G", "T", "P"];
  let i = -1;
  while (x >= 1000 && i < units.length - 1) { x /= 1000; i++; }
  return `${x.toPrecision(3)}${units[i]}`;
}

const clip = (s: string, n: number): string => (s.length > n ? s.slice(0, n - 1) + "…" : s);

/**
 * A plotly figure: the roofline (attainable GFLOP/s against FLOPs per byte, log-log) with a marker
 * per statement (size by time), beside a bar chart of time per kernel. Plain {data, layout}, for the
 * notebook's display layer to render.
 */
export function profileFigure(r: ProfileReport, top = 40): { data: object[]; layout: object } {
  const data: object[] = [];
  const leaves = r.stmts.filter((s) => s.kind !== "loop" && s.kind !== "call" && s.seconds > 0 && s.intensity > 0).slice(0, top);
  if (r.roofline) {
    const { bandwidthGBps: bw, peakGflops: peak } = r.roofline;
    const lo = Math.min(0.01, ...leaves.map((s) => s.intensity)) / 2, hi = Math.max(100, ...leaves.map((s) => s.intensity)) * 2;
    const ridge = peak / bw;
    data.push({ type: "scatter", mode: "lines", name: "roofline", x: [lo, ridge, hi], y: [lo * bw, peak, peak], line: { color: "black" }, xaxis: "x", yaxis: "y" });
  }
  const max = Math.max(1e-12, ...leaves.map((s) => s.seconds));
  data.push({
    type: "scatter", mode: "markers", name: "statements", xaxis: "x", yaxis: "y",
    x: leaves.map((s) => s.intensity), y: leaves.map((s) => s.gflops),
    text: leaves.map((s) => `${s.kernel} ${s.where}: ${s.text}<br>${(s.seconds * 1e3).toFixed(3)} ms, ${s.calls} calls, ${s.gbps.toFixed(2)} GB/s`),
    marker: { size: leaves.map((s) => 6 + 24 * Math.sqrt(s.seconds / max)) },
  });
  data.push({ type: "bar", orientation: "h", name: "ms per kernel", xaxis: "x2", yaxis: "y2", x: r.kernels.map((k) => k.seconds * 1e3), y: r.kernels.map((k) => k.kernel) });
  const layout = {
    title: { text: `profile (${r.backend})` },
    grid: { rows: 1, columns: 2, pattern: "independent" },
    xaxis: { type: "log", title: { text: "FLOP per byte" } },
    yaxis: { type: "log", title: { text: "GFLOP/s" } },
    xaxis2: { title: { text: "ms" } },
    yaxis2: { automargin: true },
    showlegend: false,
  };
  return { data, layout };
}
