// `tensorcore profile FILE.ta ... | --model DIR`: where the time goes, per kernel and per statement,
// on either back end, against this machine's roofline (runtime/profile.ts, runtime/roofline.ts).

import { existsSync } from "node:fs";
import { BackendName, chooseBackend, createExecutor, DEFAULT_BACKEND } from "../backends/index.js";
import { runProgram } from "../backends/run-program.js";
import { CausalLM, EMBEDDED_MODEL } from "../models/causal-lm.js";
import { buildReport, formatProfile, ProfileReport, profileFigure, RawProfile, Roofline } from "../runtime/profile.js";
import { roofline } from "../runtime/roofline.js";
import { InputError, inputsSource } from "../runtime/weights.js";
import { BACKEND_OPTION, checkOutputFile, CommandSpec, parseCommand, readSources, UsageError, writeOutputFile } from "./args.js";

export const PROFILE = {
  name: "profile",
  summary: "Where the time goes: runs a program (its top level, then its entry kernel N times) or a model (a\n" +
    "prefill of N prompt tokens, then decode steps) with per-kernel and per-statement timers, and prints\n" +
    "calls, time, bytes moved, FLOPs, GB/s and GFLOP/s, and the share of this machine's roofline\n" +
    "(streaming bandwidth and peak FMA rate, measured once per CPU and cached).",
  usage: "FILE.ta [MORE.ta ...] [options]  |  --model DIR [options]",
  positionals: { min: 0, max: Infinity },
  options: {
    kernel: { type: "string", value: "NAME", description: "the entry kernel", defaultText: "the last kernel" },
    inputs: { type: "string", value: "DIR", description: "where parameters are read from", defaultText: "weights/ beside the last FILE" },
    repeat: { type: "integer", value: "N", description: "runs of the entry kernel", default: 1 },
    model: { type: "string", value: "DIR", description: "profile a model folder instead of a program" },
    prompt: { type: "integer", value: "N", description: "prompt tokens to prefill (--model)", default: 16 },
    tokens: { type: "integer", value: "N", description: "decode steps (--model)", default: 16 },
    backend: BACKEND_OPTION,
    top: { type: "integer", value: "N", description: "rows of the table", default: 25 },
    json: { type: "boolean", description: "print the reports as JSON" },
    figure: { type: "string", value: "FILE", description: "write a plotly figure ({data, layout}) as JSON" },
    "no-roofline": { type: "boolean", description: "skip the roofline columns" },
    "refresh-roofline": { type: "boolean", description: "measure the roofline again (on a quiet machine)" },
  },
} as const satisfies CommandSpec;

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

export async function profileCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(PROFILE, argv);
  if (parsed.help) return 0;
  const { values: v, positionals: positional } = parsed;
  const model = v.model;
  if (model !== undefined && positional.length) throw new UsageError("give either .ta files or --model DIR, not both");
  if (model === undefined && !positional.length) throw new UsageError("no input file (see `tensorcore profile --help`)");
  const backend = await chooseBackend(v.backend, DEFAULT_BACKEND, (m) => console.error(m));
  const top = positive(v.top, "top");
  if (v.figure !== undefined) checkOutputFile(v.figure, "--figure");
  const roof: Roofline | undefined = v["no-roofline"] ? undefined : roofline({ refresh: v["refresh-roofline"] === true });

  const reports: { title: string; report: ProfileReport }[] = [];
  const add = (title: string, raw: RawProfile | undefined) => { if (raw) reports.push({ title, report: buildReport(raw, roof) }); };
  if (model !== undefined) {
    const dir = model || EMBEDDED_MODEL;
    if (!existsSync(dir)) throw new UsageError(`model folder '${dir}' does not exist`);
    const runs = await profileModel(dir, backend, positive(v.prompt, "prompt"), positive(v.tokens, "tokens"), (s) => console.error(s));
    for (const r of runs) add(r.title, r.raw);
  } else {
    const files = readSources(positional);
    const executor = await createExecutor(backend, { log: (s: string) => console.error(s), profile: true });
    try {
      const inputs = inputsSource(v.inputs, positional[positional.length - 1]);
      const r = await runProgram(files, executor, { kernel: v.kernel, inputs, print: () => {} });
      const repeat = positive(v.repeat, "repeat");
      if (r.kernel) {
        const args = r.kernel.params.map((p) => r.params.get(p.name)!);
        for (let i = 1; i < repeat; i++) executor.runKernel(r.kernel, args, { print: () => {} });
      }
      add(positional.join(" "), executor.profile?.());
    } finally {
      executor.close();
    }
  }
  if (v.figure) {
    const figs = reports.map(({ title, report }) => ({ title, ...profileFigure(report) }));
    writeOutputFile(v.figure, JSON.stringify(figs.length === 1 ? figs[0] : figs) + "\n");
  }
  if (v.json) console.log(JSON.stringify(reports.map(({ title, report }) => ({ title, ...report })), null, 1));
  else for (const { title, report } of reports) console.log(`== ${title}\n${formatProfile(report, top)}\n`);
  return 0;
}

/**
 * A model's prefill of `promptLen` tokens, then `steps` greedy decode steps, with profiling on: one
 * raw profile for the prefill instantiation and one for decode.
 */
export async function profileModel(dir: string, backend: BackendName, promptLen: number, steps: number, log: (s: string) => void = () => {}): Promise<{ title: string; raw?: RawProfile }[]> {
  const m = await CausalLM.load(dir, { backend, log, profile: true });
  // refused rather than cut short, so the titles say what ran
  if (promptLen + steps > m.nCtx) throw new InputError(`--prompt ${promptLen} and --tokens ${steps} need ${promptLen + steps} positions; the model's context has ${m.nCtx}`);
  const prompt = Array.from({ length: promptLen }, (_, i) => (100 + 37 * i) % m.vocab);
  let logits = m.prefill(prompt, { chunked: true }); // all of it in the prefill instantiation, even a short prompt
  for (let i = 0; i < steps; i++) logits = m.decode(argmaxOf(logits));
  const p = m.profiles();
  return [{ title: `prefill of ${prompt.length} tokens`, raw: p.prefill }, { title: `${steps} decode steps`, raw: p.decode }];
}

function argmaxOf(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
