// The `tensorcore` command line. Each subcommand is a small function; user errors print
// diagnostics and exit 1, never a stack trace (set TENSORCORE_DEBUG=1 to see internal ones).

import { DiagnosticError, formatDiagnostics, Interrupted } from "../compiler/diagnostics.js";
import { chooseBackend, createExecutor, DEFAULT_BACKEND, UnknownBackend } from "../backends/index.js";
import { NoSuchKernel } from "../compiler/entry.js";
import { runProgram } from "../backends/run-program.js";
import { Session } from "../runtime/session.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { InputError, inputsSource } from "../runtime/weights.js";
import { BACKEND_OPTION, CommandGroup, DEFAULT_BACKEND_TEXT, CommandSpec, ERROR_PREFIX, groupCommand, parseCommand, readSources, UsageError } from "./args.js";
import { Progress } from "./progress.js";

export { readSources, UsageError };

/** The commands, with the module each loads on demand (the top-level help needs only the summaries). */
const COMMANDS: { name: string; summary: string; part?: string; entry?: string }[] = [
  { name: "check", summary: "check programs, report every error" },
  { name: "run", summary: "run a program's top-level statements, then its entry kernel" },
  { name: "compile", summary: "emit C++/Eigen for a program", part: "../compiler/eigen/cli.js", entry: "compileCommand" },
  { name: "generate", summary: "generate text with a model running in DSL kernels", part: "../models/cli.js", entry: "generateCommand" },
  { name: "verify", summary: "compare a model with HF transformers, layer by layer", part: "../models/verify.js", entry: "verifyCommand" },
  { name: "profile", summary: "where the time goes: per kernel and statement, against this machine's roofline", part: "./profile.js", entry: "profileCommand" },
  { name: "hf", summary: "Hugging Face models and reference activations (convert, export, export-gguf, make-model, verify)", part: "./hf.js", entry: "hfCommand" },
  { name: "kernel", summary: "install, uninstall or print the Jupyter kernelspec", part: "../kernel/install.js", entry: "kernelCommand" },
  { name: "cache", summary: "what the per-user cache holds; prune the compile cache and the HF reference exports", part: "./cache.js", entry: "cacheCommand" },
];

const TOP: CommandGroup = {
  name: "",
  summary: "tensorcore — the TensorCore DSL toolchain",
  commands: COMMANDS,
  notes: `Back end (run, generate, verify; --backend NAME picks one): ${DEFAULT_BACKEND_TEXT}.\nErrors print as \`${ERROR_PREFIX}...\` (or FILE:LINE:COL: error: ...) and exit 1.`,
};

export const CHECK: CommandSpec = {
  name: "check",
  summary: "Parse and type-check programs, reporting every error (nothing runs).",
  usage: "FILE.ta [MORE.ta ...]",
  positionals: { min: 1, max: Infinity, missing: "no input file" },
  options: {},
};

export const RUN = {
  name: "run",
  summary: "Run the top-level statements, then the entry kernel; print what REDUCE(x) prints.\n" +
    "Parameters are bound from DIR/<param>.bin or .npy, or a model folder's manifest.json; unbound ones are 0.5.",
  usage: "FILE.ta [MORE.ta ...] [options]",
  positionals: { min: 1, max: Infinity, missing: "no input file" },
  options: {
    kernel: { type: "string", value: "NAME", description: "the entry kernel", defaultText: "the last kernel" },
    inputs: { type: "string", value: "DIR", description: "where parameters are read from", defaultText: "weights/ beside the last FILE" },
    json: { type: "boolean", description: "print {stdout, params} as JSON" },
    backend: BACKEND_OPTION,
    "no-verify": { type: "boolean", description: "skip checking each tensor's sha256 against manifest.json (a corrupted weight file then loads silently; paths, file types and sizes are still checked)" },
  },
} as const satisfies CommandSpec;

function cmdCheck(argv: string[]): number {
  const parsed = parseCommand(CHECK, argv);
  if (parsed.help) return 0;
  const files = readSources(parsed.positionals);
  const session = new Session();
  session.check(files);
  console.log(`${parsed.positionals.join(", ")}: ok`);
  return 0;
}

export function jsonNumber(x: number): number | string {
  return Number.isFinite(x) ? x : Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
}

export function tensorJson(t: TensorView): { dtype: string; shape: number[]; data: (number | string)[] } {
  return { dtype: t.precision, shape: t.shape, data: toNumbers(t).map(jsonNumber) };
}

async function cmdRun(argv: string[]): Promise<number> {
  const parsed = parseCommand(RUN, argv);
  if (parsed.help) return 0;
  const { values, positionals } = parsed;
  const files = readSources(positionals);
  const progress = new Progress();
  const backend = await chooseBackend(values.backend, DEFAULT_BACKEND, progress.log);
  const lines: string[] = [];
  const inputs = inputsSource(values.inputs, positionals[positionals.length - 1], values["no-verify"] !== true);
  const executor = await createExecutor(backend, { log: progress.log });
  try {
    const { params } = await runProgram(files, executor, {
      kernel: values.kernel,
      inputs,
      print: (l) => {
        progress.end(); // a compile's status line ends before the program prints
        if (values.json) lines.push(l);
        else console.log(l);
      },
    });
    progress.end();
    if (values.json) console.log(JSON.stringify({ stdout: lines, params: Object.fromEntries([...params].map(([k, v]) => [k, tensorJson(v)])) }));
  } finally {
    progress.end();
    executor.close();
  }
  return 0;
}

/** Subcommands live in their own parts of the tree and load on demand. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function importPart(path: string): Promise<any> {
  return import(new URL(path, import.meta.url).href);
}

async function main(argv: string[]): Promise<number> {
  const cmd = groupCommand(TOP, argv);
  if (cmd === undefined) return 0;
  const rest = argv.slice(1);
  if (cmd === "check") return cmdCheck(rest);
  if (cmd === "run") return cmdRun(rest);
  const c = COMMANDS.find((x) => x.name === cmd)!;
  const part = await importPart(c.part!);
  return part[c.entry!](rest);
}

/** Run the CLI, mapping every user-facing failure to one message and exit code 1. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (e) {
    if (e instanceof DiagnosticError) console.error(e.diagnostics.map((d) => (d.span ? formatDiagnostics([d]) : `tensorcore: ${d.severity}: ${d.message}`)).join("\n"));
    else if (e instanceof UsageError || e instanceof UnknownBackend || e instanceof NoSuchKernel || e instanceof InputError) console.error(ERROR_PREFIX + e.message);
    else if (e instanceof Interrupted) console.error(`${ERROR_PREFIX}interrupted`);
    else if ((e as NodeJS.ErrnoException)?.code === "ERR_MODULE_NOT_FOUND") console.error(`${ERROR_PREFIX}this command is not available in this build (${(e as Error).message.split("\n")[0]})`);
    else {
      console.error(`${ERROR_PREFIX}internal error: ${(e as Error)?.message ?? e}`);
      if (process.env.TENSORCORE_DEBUG) console.error((e as Error)?.stack);
    }
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
