// `tensorcore profile FILE.ta ... | --model DIR`: where the time goes, per kernel and per statement,
// on either back end, against this machine's roofline (runtime/profile.ts, runtime/roofline.ts).

import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { BackendName, chooseBackend, createExecutor } from "../backends/index.js";
import { runProgram } from "../backends/run-program.js";
import { CausalLM, EMBEDDED_MODEL } from "../models/causal-lm.js";
import { buildReport, formatProfile, ProfileReport, profileFigure, RawProfile, Roofline } from "../runtime/profile.js";
import { roofline } from "../runtime/roofline.js";
import { defaultInputsDir, DirectorySource, ManifestSource } from "../runtime/weights.js";
import { parseArgs, readSources, UsageError } from "./args.js";

export const PROFILE_USAGE = `usage: tensorcore profile FILE.ta [MORE.ta ...] [--kernel NAME] [--inputs DIR] [--repeat N]
       tensorcore profile --model DIR [--prompt N] [--tokens N]
   common: [--backend interp|eigen] [--top N] [--json] [--figure FILE.json] [--no-roofline | --refresh-roofline]

Runs a program (its top level, then its entry kernel N times) or a model (a prefill of N prompt
tokens, then decode steps) with per-kernel and per-statement timers, and prints calls, time, bytes
moved, FLOPs, GB/s and GFLOP/s, and the share of the roofline (streaming bandwidth and peak FMA
rate, measured once per CPU and cached; --refresh-roofline measures again on a quiet machine).
--figure writes a plotly figure ({data, layout}) as JSON.`;

function count(v: string | boolean | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer`);
  return n;
}

export async function profileCommand(argv: string[]): Promise<number> {
  const { positional, opts } = parseArgs(argv, {
    "--kernel": "value", "--inputs": "value", "--repeat": "value", "--model": "value", "--prompt": "value", "--tokens": "value",
    "--backend": "value", "--top": "value", "--json": "switch", "--figure": "value", "--no-roofline": "switch", "--refresh-roofline": "switch", "--help": "switch", "-h": "switch",
  });
  if (opts["--help"] || opts["-h"]) { console.log(PROFILE_USAGE); return 0; }
  const model = opts["--model"] as string | undefined;
  if (model !== undefined && positional.length) throw new UsageError("give either .ta files or --model DIR, not both");
  if (model === undefined && !positional.length) throw new UsageError(`no input file\n\n${PROFILE_USAGE}`);
  const backend = await chooseBackend(opts["--backend"] as string | undefined, undefined, (m) => console.error(m));
  const top = count(opts["--top"], 25, "--top");
  const roof: Roofline | undefined = opts["--no-roofline"] ? undefined : roofline({ refresh: opts["--refresh-roofline"] === true });

  const reports: { title: string; report: ProfileReport }[] = [];
  const add = (title: string, raw: RawProfile | undefined) => { if (raw) reports.push({ title, report: buildReport(raw, roof) }); };
  if (model !== undefined) {
    const dir = model || EMBEDDED_MODEL;
    if (!existsSync(dir)) throw new UsageError(`model folder '${dir}' does not exist`);
    const runs = await profileModel(dir, backend, count(opts["--prompt"], 16, "--prompt"), count(opts["--tokens"], 16, "--tokens"), (s) => console.error(s));
    for (const r of runs) add(r.title, r.raw);
  } else {
    const files = readSources(positional);
    const executor = await createExecutor(backend, { log: (s: string) => console.error(s), profile: true });
    try {
      const inputsDir = (opts["--inputs"] as string) ?? defaultInputsDir(positional[positional.length - 1]);
      const inputs = existsSync(inputsDir) ? (existsSync(resolve(inputsDir, "manifest.json")) ? new ManifestSource(inputsDir) : new DirectorySource(inputsDir)) : undefined;
      const r = await runProgram(files, executor, { kernel: opts["--kernel"] as string | undefined, inputs, print: () => {} });
      const repeat = count(opts["--repeat"], 1, "--repeat");
      if (r.kernel) {
        const args = r.kernel.params.map((p) => r.params.get(p.name)!);
        for (let i = 1; i < repeat; i++) executor.runKernel(r.kernel, args, { print: () => {} });
      }
      add(positional.join(" "), executor.profile?.());
    } finally {
      executor.close();
    }
  }
  if (opts["--figure"]) {
    const figs = reports.map(({ title, report }) => ({ title, ...profileFigure(report) }));
    writeFileSync(opts["--figure"] as string, JSON.stringify(figs.length === 1 ? figs[0] : figs) + "\n");
  }
  if (opts["--json"]) console.log(JSON.stringify(reports.map(({ title, report }) => ({ title, ...report })), null, 1));
  else for (const { title, report } of reports) console.log(`== ${title}\n${formatProfile(report, top)}\n`);
  return 0;
}

/**
 * A model's prefill of `promptLen` tokens, then `steps` greedy decode steps, with profiling on: one
 * raw profile for the prefill instantiation and one for decode.
 */
export async function profileModel(dir: string, backend: BackendName, promptLen: number, steps: number, log: (s: string) => void = () => {}): Promise<{ title: string; raw?: RawProfile }[]> {
  const m = await CausalLM.load(dir, { backend, log, profile: true });
  const prompt = Array.from({ length: Math.max(1, Math.min(promptLen, m.nCtx - steps)) }, (_, i) => (100 + 37 * i) % m.vocab);
  let logits = m.prefill(prompt);
  for (let i = 0; i < steps && m.length < m.nCtx; i++) logits = m.decode(argmaxOf(logits));
  const p = m.profiles();
  return [{ title: `prefill of ${prompt.length} tokens`, raw: p.prefill }, { title: `${steps} decode steps`, raw: p.decode }];
}

function argmaxOf(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
