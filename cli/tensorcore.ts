// The `tensorcore` command line. Each subcommand is a small function; user errors print
// diagnostics and exit 1, never a stack trace (set TENSORCORE_DEBUG=1 to see internal ones).

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DiagnosticError, formatDiagnostics, Interrupted } from "../compiler/diagnostics.js";
import { chooseBackend, createExecutor, UnknownBackend } from "../backends/index.js";
import { NoSuchKernel } from "../compiler/entry.js";
import { runProgram } from "../backends/run-program.js";
import { Session } from "../runtime/session.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { defaultInputsDir, DirectorySource, ManifestSource, WeightSource } from "../runtime/weights.js";
import { parseArgs, readSources, UsageError } from "./args.js";

export { parseArgs, readSources, UsageError };


const HELP = `tensorcore — the TensorCore DSL toolchain

usage:
  tensorcore check FILE.ta [MORE.ta ...]        check programs, report every error
  tensorcore run FILE.ta [MORE.ta ...] [--kernel NAME] [--inputs DIR] [--json] [--backend interp|eigen]
                                                run the top-level statements, then the entry kernel
                                                (NAME, or the last kernel), parameters bound from
                                                DIR/<param>.bin or .npy (default: weights/ beside FILE),
                                                or a model folder's manifest.json; unbound ones are 0.5
  tensorcore compile FILE.ta [-o out.cpp] [--main]   emit C++/Eigen for a program
  tensorcore generate "PROMPT" [--model DIR] [--max-new-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S] [--backend interp|eigen] [--json]
  tensorcore verify [--model DIR] [--prompts FILE] [--backend interp|eigen] [--report out.html]
  tensorcore profile FILE.ta [...] [--kernel NAME] [--repeat N] | --model DIR [--prompt N] [--tokens N]
                    [--backend interp|eigen] [--figure out.json] [--json]
                                                calls, time, bytes, FLOPs, GB/s and GFLOP/s per kernel
                                                and statement, against this machine's roofline
  tensorcore hf convert|export|export-gguf|make-model ...     Hugging Face models and reference activations (python-ref)
  tensorcore kernel install [--user|--sys-prefix|--prefix P]   install the Jupyter kernelspec
`;

function cmdCheck(argv: string[]): number {
  const { positional } = parseArgs(argv, {});
  const files = readSources(positional);
  const session = new Session();
  session.check(files);
  console.log(`${positional.join(", ")}: ok`);
  return 0;
}

export function jsonNumber(x: number): number | string {
  return Number.isFinite(x) ? x : Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
}

export function tensorJson(t: TensorView): { dtype: string; shape: number[]; data: (number | string)[] } {
  return { dtype: t.precision, shape: t.shape, data: toNumbers(t).map(jsonNumber) };
}

export function weightSourceFor(dir: string): WeightSource {
  return existsSync(resolve(dir, "manifest.json")) ? new ManifestSource(dir) : new DirectorySource(dir);
}

async function cmdRun(argv: string[]): Promise<number> {
  const { positional, opts } = parseArgs(argv, { "--kernel": "value", "--inputs": "value", "--json": "switch", "--backend": "value" });
  const files = readSources(positional);
  const backend = await chooseBackend(opts["--backend"] as string | undefined, "interp");
  const json = opts["--json"] === true;
  const lines: string[] = [];
  const inputsDir = (opts["--inputs"] as string) ?? defaultInputsDir(positional[positional.length - 1]);
  const executor = await createExecutor(backend, { log: (m: string) => console.error(m) });
  try {
    const { params } = await runProgram(files, executor, {
      kernel: opts["--kernel"] as string | undefined,
      inputs: existsSync(inputsDir) ? weightSourceFor(inputsDir) : undefined,
      print: (l) => (json ? lines.push(l) : console.log(l)),
    });
    if (json) console.log(JSON.stringify({ stdout: lines, params: Object.fromEntries([...params].map(([k, v]) => [k, tensorJson(v)])) }));
  } finally {
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
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "check": return cmdCheck(rest);
    case "run": return cmdRun(rest);
    case "compile": {
      const { compileCommand } = await importPart("../compiler/eigen/cli.js");
      return compileCommand(rest);
    }
    case "hf": {
      const { hfCommand } = await importPart("./hf.js");
      return hfCommand(rest);
    }
    case "generate": {
      const { generateCommand } = await importPart("../models/cli.js");
      return generateCommand(rest);
    }
    case "verify": {
      const { verifyCommand } = await importPart("../models/verify.js");
      return verifyCommand(rest);
    }
    case "profile": {
      const { profileCommand } = await importPart("./profile.js");
      return profileCommand(rest);
    }
    case "kernel": {
      const { kernelCommand } = await importPart("../kernel/install.js");
      return kernelCommand(rest);
    }
    case undefined: case "help": case "--help": case "-h":
      console.log(HELP);
      return cmd === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command '${cmd}'\n\n${HELP}`);
  }
}

/** Run the CLI, mapping every user-facing failure to a message and exit code 1. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (e) {
    if (e instanceof DiagnosticError) console.error(formatDiagnostics(e.diagnostics));
    else if (e instanceof UsageError || e instanceof UnknownBackend || e instanceof NoSuchKernel) console.error(`tensorcore: ${e.message}`);
    else if (e instanceof Interrupted) console.error("tensorcore: interrupted");
    else if ((e as NodeJS.ErrnoException)?.code === "ERR_MODULE_NOT_FOUND") console.error(`tensorcore: this command is not available in this build (${(e as Error).message.split("\n")[0]})`);
    else {
      console.error(`tensorcore: internal error: ${(e as Error)?.message ?? e}`);
      if (process.env.TENSORCORE_DEBUG) console.error((e as Error)?.stack);
    }
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
