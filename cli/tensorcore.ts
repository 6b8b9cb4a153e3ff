// The `tensorcore` command line. Each subcommand is a small function; user errors print
// diagnostics and exit 1, never a stack trace (set TENSORCORE_DEBUG=1 to see internal ones).

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DiagnosticError, formatDiagnostics, Interrupted } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { Session } from "../runtime/session.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { bindParam, defaultInputsDir, DirectorySource, ManifestSource, WeightSource } from "../runtime/weights.js";
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
  tensorcore hf convert|export|make-model ...     Hugging Face models and reference activations (python-ref)
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

/** Pick the entry kernel: the one named, or the last one defined (in the last file that defines one). */
export function entryKernel(program: IR.Program, name: string | undefined): IR.Kernel | undefined {
  if (name) {
    const k = program.kernelByName.get(name);
    if (!k) throw new UsageError(`no kernel named '${name}' (kernels: ${[...program.kernelByName.keys()].join(", ") || "none"})`);
    return k;
  }
  // program.kernels is in callee-first order; kernelByName keeps source order (files in order).
  return [...program.kernelByName.values()].filter((k) => program.kernels.includes(k)).pop();
}

export function weightSourceFor(dir: string): WeightSource {
  return existsSync(resolve(dir, "manifest.json")) ? new ManifestSource(dir) : new DirectorySource(dir);
}

async function cmdRun(argv: string[]): Promise<number> {
  const { positional, opts } = parseArgs(argv, { "--kernel": "value", "--inputs": "value", "--json": "switch", "--backend": "value" });
  const files = readSources(positional);
  const backend = (opts["--backend"] as string) ?? "interp";
  if (backend !== "interp" && backend !== "eigen") throw new UsageError(`unknown backend '${backend}' (interp or eigen)`);
  const json = opts["--json"] === true;
  const lines: string[] = [];
  const io = { print: (l: string) => (json ? lines.push(l) : console.log(l)) };
  const session = new Session();
  const program = session.check(files);
  session.define(program);
  const inputsDir = (opts["--inputs"] as string) ?? defaultInputsDir(positional[positional.length - 1]);
  const source = existsSync(inputsDir) ? weightSourceFor(inputsDir) : undefined;

  let runKernel: (k: IR.Kernel, args: TensorView[]) => void;
  let runTop: () => void;
  if (backend === "eigen") {
    const { EigenBackend } = await importPart("../compiler/eigen/backend.js");
    const eigen = await EigenBackend.forProgram(program, { log: (m: string) => console.error(m) });
    runTop = () => eigen.runTopLevel(session, io);
    runKernel = (k, args) => eigen.runKernel(k, args, io);
  } else {
    runTop = () => session.interpreter(io).runTopLevel(program);
    runKernel = (k, args) => session.interpreter(io).runKernel(k, args);
  }
  runTop();
  const kernel = program.kernels.length || opts["--kernel"] ? entryKernel(program, opts["--kernel"] as string | undefined) : undefined;
  const params: Record<string, ReturnType<typeof tensorJson>> = {};
  if (kernel) {
    const args = kernel.params.map((p) => bindParam(p.name, p.type, source, 0.5, p.span));
    runKernel(kernel, args);
    kernel.params.forEach((p, i) => { params[p.name] = tensorJson(args[i]); });
  }
  if (json) console.log(JSON.stringify({ stdout: lines, params }));
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
    else if (e instanceof UsageError) console.error(`tensorcore: ${e.message}`);
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
