// `tensorcore hf convert|export|export-gguf|make-model|verify ...`: the Hugging Face reference side.
// The work is done by the Python package python-ref/tensorcore_ref, run with the project's
// virtual environment (<repo>/.venv, created by `npm run setup`).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SUBCOMMANDS = ["convert", "export", "export-gguf", "make-model", "verify"] as const;

const USAGE = `usage: tensorcore hf <command> [options]

  convert SOURCE --out DIR [--dtype f32|f16|bf16|int8] [--max-ctx N] [--ignore-unknown-config]
      HF GPT-2/Llama model (hub id or save_pretrained folder) -> DSL model folder
  export SOURCE --prompts FILE --out DIR [--new-tokens N] [--seed S] [--archive]
      reference activations (HF eager attention, fp32) for each prompt
  export-gguf SOURCE --out FILE [--dtype f32|f16|bf16|q8_0]
      HF GPT-2/Llama model -> one GGUF file that llama.cpp and its tools load
  make-model gpt2-124m-random|tiny-llama-random|gpt2-tiny-custom|embedded [--out DIR]
             [--layers N --heads N --width N --ctx N --seed N]
      build one of the project's HF models with save_pretrained (default: ~/.cache/tensorcore/models/NAME)
  verify DIR
      check a DSL model folder's manifest and sha256s

Each command's --help lists all options.`;

/** Repository root: this file compiles to <repo>/dist/cli/hf.js, two levels below the root. */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, "..", "..");
}

/** The project's Python (the virtual environment `npm run setup` creates). */
export function venvPython(root: string = repoRoot()): string {
  return process.platform === "win32"
    ? join(root, ".venv", "Scripts", "python.exe")
    : join(root, ".venv", "bin", "python");
}

/** Runs `python -m tensorcore_ref <argv...>` with inherited stdio; resolves to its exit code. */
export async function hfCommand(argv: string[]): Promise<number> {
  const [cmd] = argv;
  if (cmd === undefined || cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(cmd)) {
    console.error(`tensorcore hf: unknown command '${cmd}' (expected ${SUBCOMMANDS.join(", ")})`);
    return 2;
  }
  const root = repoRoot();
  const python = venvPython(root);
  if (!existsSync(python)) {
    console.error(`tensorcore hf: Python environment missing (${python}); run npm run setup`);
    return 1;
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.HF_HUB_OFFLINE ??= "1";
  // make the package importable even if the editable install is missing
  const pkg = join(root, "python-ref");
  env.PYTHONPATH = env.PYTHONPATH ? `${pkg}${process.platform === "win32" ? ";" : ":"}${env.PYTHONPATH}` : pkg;

  return await new Promise<number>((resolveCode) => {
    const child = spawn(python, ["-m", "tensorcore_ref", ...argv], { stdio: "inherit", env });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const onInt = forward("SIGINT");
    const onTerm = forward("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    const done = (code: number) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolveCode(code);
    };
    child.on("error", (err) => {
      console.error(`tensorcore hf: cannot start ${python}: ${err.message}; run npm run setup`);
      done(1);
    });
    child.on("close", (code, signal) => done(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1)));
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return table[sig];
}
