// The example programs under examples/ and their expected results, for any back end.
//
//   listExamples("run" | "error" | "all")  example names, e.g. "prototype/bmm", "errors/shapes"
//   expectedFor(name)                      the numpy-derived expectation (tests/fixtures/examples/*.expected.json)
//                                          or, for examples/errors/*, the diagnostics its `// expect:` lines name
//   runExample(name, backend)              runs it as `tensorcore run FILE --json` would: "interp" in process,
//                                          "cli" or "eigen" by spawning bin/tensorcore.js
//   compareResult(actual, expected, opts)  mismatches as readable strings (empty when it matches)
//
// Another back end reuses all of this: runExample(name, "eigen") and compareResult with its own tolerance.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { DiagnosticError, formatDiagnostics } from "../../compiler/diagnostics.js";
import { SourceFile } from "../../compiler/source.js";
import { createExecutor } from "../../backends/index.js";
import { runProgram } from "../../backends/run-program.js";
import { TensorView, toNumbers } from "../../runtime/tensor.js";
import { DirectorySource } from "../../runtime/weights.js";

export type Backend = "interp" | "cli" | "eigen";
export type JsonNumber = number | "NaN" | "Infinity" | "-Infinity";
export interface TensorJson { dtype: string; shape: number[]; data: JsonNumber[] }
export interface RunResult { stdout: string[]; params: Record<string, TensorJson> }
export interface ExpectedRun extends RunResult {
  kind: "run";
  example: string;
  tolerance: { rtol: number; atol: number; params?: Record<string, { rtol: number; atol: number }> };
}
export interface ExpectedError {
  kind: "error";
  /** "runtime" when the program checks but fails while running. */
  phase: "check" | "runtime";
  /** `LINE:COL: error: MESSAGE`, each a line of the diagnostics after the file name. */
  diagnostics: string[];
}
export type Outcome = { ok: true; result: RunResult } | { ok: false; error: string; exitCode?: number };

/** The repository root (the folder that holds examples/ and package.json). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, "examples")) && existsSync(join(dir, "package.json")))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root from " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const examplesDir = (): string => join(repoRoot(), "examples");
export const fixturesDir = (): string => join(repoRoot(), "tests", "fixtures", "examples");
export const examplePath = (name: string): string => join(examplesDir(), `${name}.ta`);
export const isErrorExample = (name: string): boolean => name.startsWith("errors/");

/** Example names ("group/name"), sorted. */
export function listExamples(which: "run" | "error" | "all" = "all"): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== "weights") walk(join(dir, e.name));
      else if (e.isFile() && e.name.endsWith(".ta")) out.push(relative(examplesDir(), join(dir, e.name)).replace(/\\/g, "/").slice(0, -3));
    }
  };
  walk(examplesDir());
  return out.filter((n) => which === "all" || (which === "error") === isErrorExample(n)).sort();
}

export function fixturePath(name: string): string {
  return join(fixturesDir(), `${name.replace(/\//g, "__")}.expected.json`);
}

export function expectedFor(name: string): ExpectedRun | ExpectedError {
  if (isErrorExample(name)) {
    const text = readFileSync(examplePath(name), "utf8");
    const diagnostics = [...text.matchAll(/^\/\/ expect: (.*)$/gm)].map((m) => m[1].trim());
    return { kind: "error", phase: name.startsWith("errors/runtime_") ? "runtime" : "check", diagnostics };
  }
  const doc = JSON.parse(readFileSync(fixturePath(name), "utf8"));
  return { kind: "run", ...doc };
}

export function jsonNumber(x: number): JsonNumber {
  return Number.isFinite(x) ? x : Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
}

export function tensorJson(t: TensorView): TensorJson {
  return { dtype: t.precision, shape: [...t.shape], data: toNumbers(t).map(jsonNumber) };
}

/** Run an example the way `tensorcore run FILE --json` does: in process ("interp"), or by spawning the CLI. */
export async function runExample(name: string, backend: Backend = "interp"): Promise<Outcome> {
  const file = examplePath(name);
  // "cli" is the interpreter behind the command line (the CLI's default back end is eigen)
  if (backend !== "interp") return runCli(["run", file, "--json", "--backend", backend === "eigen" ? "eigen" : "interp"]);
  const stdout: string[] = [];
  try {
    const dir = join(dirname(file), "weights");
    const { params } = await runProgram([new SourceFile(file, readFileSync(file, "utf8"))], await createExecutor("interp"), {
      inputs: existsSync(dir) ? new DirectorySource(dir) : undefined,
      print: (l) => stdout.push(l),
    });
    return { ok: true, result: { stdout, params: Object.fromEntries([...params].map(([k, v]) => [k, tensorJson(v)])) } };
  } catch (e) {
    if (e instanceof DiagnosticError) return { ok: false, error: formatDiagnostics(e.diagnostics) };
    throw e;
  }
}

/** Spawn the CLI (bin/tensorcore.js) in the repository root. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Outcome & { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [join(repoRoot(), "bin", "tensorcore.js"), ...args], {
    cwd: opts.cwd ?? repoRoot(), encoding: "utf8", timeout: opts.timeoutMs ?? 60_000,
  });
  const base = { stdout: r.stdout ?? "", stderr: r.stderr ?? "", status: r.status };
  if (r.status !== 0) return { ok: false, error: base.stderr, exitCode: r.status ?? undefined, ...base };
  const json = args.includes("--json");
  return { ok: true, result: json ? JSON.parse(base.stdout) : { stdout: base.stdout.split("\n").filter((l) => l !== ""), params: {} }, ...base };
}

function close(a: JsonNumber, b: JsonNumber, rtol: number, atol: number): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

/**
 * Compare a run with its expectation. Integers must match exactly; floats within the fixture's
 * tolerance (or opts'); printed lines exactly, or as numbers within rtol when they differ.
 */
export function compareResult(actual: RunResult, expected: ExpectedRun, opts: { rtol?: number; atol?: number } = {}): string[] {
  const problems: string[] = [];
  const rtol0 = opts.rtol ?? expected.tolerance.rtol, atol0 = opts.atol ?? expected.tolerance.atol;
  if (actual.stdout.length !== expected.stdout.length) problems.push(`stdout: ${JSON.stringify(actual.stdout)}, expected ${JSON.stringify(expected.stdout)}`);
  else actual.stdout.forEach((line, i) => {
    const want = expected.stdout[i];
    if (line !== want && !(Number.isFinite(Number(line)) && close(Number(line), Number(want), rtol0, 0))) problems.push(`stdout line ${i + 1}: '${line}', expected '${want}'`);
  });
  const names = new Set([...Object.keys(actual.params), ...Object.keys(expected.params)]);
  for (const name of names) {
    const a = actual.params[name], e = expected.params[name];
    if (!a || !e) { problems.push(`parameter '${name}' ${a ? "is not expected" : "is missing"}`); continue; }
    if (a.dtype !== e.dtype || a.shape.join() !== e.shape.join()) { problems.push(`${name}: ${a.dtype} {${a.shape}}, expected ${e.dtype} {${e.shape}}`); continue; }
    const integer = e.dtype === "int8" || e.dtype === "int32";
    const tol = expected.tolerance.params?.[name];
    const rtol = integer ? 0 : tol?.rtol ?? rtol0, atol = integer ? 0 : tol?.atol ?? atol0;
    const bad: string[] = [];
    a.data.forEach((x, i) => { if (!close(x, e.data[i], rtol, atol)) bad.push(`[${i}] ${x} vs ${e.data[i]}`); });
    if (bad.length) problems.push(`${name}: ${bad.length} of ${a.data.length} elements differ (rtol ${rtol}, atol ${atol}): ${bad.slice(0, 4).join(", ")}`);
  }
  return problems;
}

/** Check a failing outcome against an error example's `// expect:` lines (each a prefix of a reported line after the file name). */
export function compareError(name: string, outcome: Outcome, expected: ExpectedError): string[] {
  if (outcome.ok) return [`${name}: ran successfully, expected ${expected.diagnostics.length} error(s)`];
  const file = examplePath(name);
  const lines = outcome.error.split("\n").filter((l) => l.includes(": error: "));
  const problems: string[] = [];
  if (lines.length !== expected.diagnostics.length) problems.push(`${lines.length} errors reported, expected ${expected.diagnostics.length}:\n${outcome.error}`);
  expected.diagnostics.forEach((d) => {
    if (!lines.some((l) => l.startsWith(`${file}:${d}`) || l.includes(`${name}.ta:${d}`))) problems.push(`missing: ${d}\n${outcome.error}`);
  });
  return problems;
}
