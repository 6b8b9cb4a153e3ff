// `tensorcore hf convert|export|export-gguf|make-model|verify ...`: the Hugging Face reference side.
// The work is done by the Python package python-ref/tensorcore_ref, run with the project's
// virtual environment (<repo>/.venv, created by `npm run setup`). The options are declared here
// too (tests/cli.test.ts checks they match python-ref's argparse), so --help and mistakes are
// answered before Python starts; Python's progress lines are drawn by cli/progress.ts and its
// `error:` lines get the CLI's prefix.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CommandGroup, CommandSpec, ERROR_PREFIX, groupCommand, parseCommand, UsageError } from "./args.js";
import { parseStepLine, Progress } from "./progress.js";

export const HF_COMMANDS: CommandSpec[] = [
  {
    name: "hf convert",
    summary: "Convert an HF model (hub id or save_pretrained folder; GPT-2, Llama, Qwen2, Qwen3, Mistral, Gemma, Gemma 2, Gemma 3 (text, or the language model of the 4B+ image-text checkpoints), Phi-3, Granite or GPT-NeoX) into a DSL model folder.",
    usage: "SOURCE --out DIR [options]",
    positionals: { min: 1, max: 1 },
    options: {
      out: { type: "string", value: "DIR", description: "output model folder (replaced atomically)", required: true },
      dtype: { type: "string", value: "TYPE", description: "weight precision", choices: ["f32", "f16", "bf16", "int8"], default: "f32" },
      "max-ctx": { type: "integer", description: "cap N_CTX (position table rows)", defaultText: "the model's" },
      "ignore-unknown-config": { type: "boolean", description: "convert even if config.json has fields the generator does not know" },
    },
  },
  {
    name: "hf export",
    summary: "Reference activations (HF eager attention, fp32) for each prompt, for `tensorcore verify`.",
    usage: "SOURCE --prompts FILE --out DIR [options]",
    positionals: { min: 1, max: 1 },
    options: {
      prompts: { type: "string", value: "FILE", description: "one prompt per line, or a JSON list of strings", required: true },
      out: { type: "string", value: "DIR", description: "output folder (replaced atomically)", required: true },
      "new-tokens": { type: "integer", description: "greedy tokens to generate", default: 8 },
      seed: { type: "integer", description: "random seed", default: 0 },
      archive: { type: "boolean", description: "also pack DIR into DIR.tar.gz" },
    },
  },
  {
    name: "hf export-gguf",
    summary: "Write an HF GPT-2/Llama model as one GGUF file that llama.cpp and its tools load.",
    usage: "SOURCE --out FILE [options]",
    positionals: { min: 1, max: 1 },
    options: {
      out: { type: "string", value: "FILE", description: "output .gguf file (replaced atomically)", required: true },
      dtype: { type: "string", value: "TYPE", description: "matrices' type (norms, biases and GPT-2's position table stay f32)", choices: ["f32", "f16", "bf16", "q8_0"], default: "f32" },
    },
  },
  {
    name: "hf make-model",
    summary: "Build one of the project's HF models with save_pretrained.",
    usage: "NAME [options]   (NAME: gpt2-124m-random, tiny-llama-random, gpt2-tiny-custom, embedded, or a family's\n" +
      "    seeded test model: gpt2-family, llama-family, qwen2-family, qwen3-family, mistral-family, gemma-family,\n" +
      "    gemma2-family, gemma3-family, phi3-family, granite-family, gpt-neox-family; variants: gpt-neox-sequential (use_parallel_residual false),\n" +
      "    qwen2-sliding (a sliding window on layer 1 only), phi3-longrope (LongRoPE, original context 48 of 96),\n" +
      "    gemma3-multimodal (Gemma 3 as its 4B+ checkpoints are\n" +
      "    published: Gemma3ForConditionalGeneration, a language model beside a vision tower))",
    positionals: { min: 1, max: 1 },
    options: {
      out: { type: "string", value: "DIR", description: "output folder", defaultText: "~/.cache/tensorcore/models/NAME" },
      layers: { type: "integer", description: "layers (gpt2-tiny-custom)", defaultText: "3" },
      heads: { type: "integer", description: "attention heads (gpt2-tiny-custom)", defaultText: "6" },
      width: { type: "integer", description: "model width (gpt2-tiny-custom)", defaultText: "192" },
      ctx: { type: "integer", description: "context length (gpt2-tiny-custom)", defaultText: "128" },
      seed: { type: "integer", description: "random seed (gpt2-tiny-custom, tiny-llama-random, family models and variants)", defaultText: "0" },
      format: { type: "string", value: "FORM", description: "family models: how the weights are saved (sharded: model.safetensors.index.json; bin: pytorch_model.bin)", choices: ["safetensors", "sharded", "bin"], defaultText: "safetensors" },
      "source-dtype": { type: "string", value: "TYPE", description: "family models: the saved weights' dtype", choices: ["f32", "f16", "bf16"], defaultText: "f32" },
    },
    notes: "An option the model is not built from is refused (--layers for llama-family), as are sizes that are not positive.",
  },
  {
    name: "hf verify",
    summary: "Check a DSL model folder's manifest and sha256s.",
    usage: "DIR",
    positionals: { min: 1, max: 1 },
    options: {},
  },
];

export const HF_GROUP: CommandGroup = {
  name: "hf",
  summary: "Hugging Face models and reference activations (python-ref, run in the project's .venv).",
  commands: HF_COMMANDS.map((c) => ({ name: c.name.slice(3), summary: c.summary })),
};

const MAKE_MODELS = ["gpt2-124m-random", "tiny-llama-random", "gpt2-tiny-custom", "embedded",
  "gpt2-family", "llama-family", "qwen2-family", "qwen3-family", "mistral-family", "gemma-family", "gemma2-family", "gemma3-family", "phi3-family", "granite-family", "gpt-neox-family", "gpt-neox-sequential", "qwen2-sliding", "gemma3-multimodal", "phi3-longrope"];

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

/**
 * Runs `python -m tensorcore_ref ARGS...` in the project's environment: stdout passes through,
 * stderr is read line by line (progress lines drawn on `progress`, `error:` lines given the CLI's
 * prefix, the rest passed through). Resolves to the exit code (1 for any failure, 128+n for a signal).
 */
export async function runPythonRef(args: string[], progress: Progress = new Progress()): Promise<number> {
  const root = repoRoot();
  const python = venvPython(root);
  if (!existsSync(python)) throw new UsageError(`the Python environment is missing (${python}); run \`npm run setup\``);
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.HF_HUB_OFFLINE ??= "1";
  // make the package importable even if the editable install is missing
  const pkg = join(root, "python-ref");
  env.PYTHONPATH = env.PYTHONPATH ? `${pkg}${process.platform === "win32" ? ";" : ":"}${env.PYTHONPATH}` : pkg;

  return await new Promise<number>((resolveCode) => {
    const child = spawn(python, ["-m", "tensorcore_ref", ...args], { stdio: ["inherit", "inherit", "pipe"], env });
    let pending = "";
    const onLine = (line: string) => {
      const step = parseStepLine(line);
      if (step) progress.step(step.task, step.done, step.total, step.label);
      else if (line.startsWith("error: ")) progress.line(ERROR_PREFIX + line.slice("error: ".length));
      else progress.line(line);
    };
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop()!;
      for (const l of lines) onLine(l.replace(/\r$/, ""));
    });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const onInt = forward("SIGINT");
    const onTerm = forward("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    const done = (code: number) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      if (pending) onLine(pending);
      progress.end();
      resolveCode(code);
    };
    child.on("error", (err) => {
      progress.line(`${ERROR_PREFIX}cannot start ${python}: ${err.message}; run \`npm run setup\``);
      done(1);
    });
    child.on("close", (code, signal) => done(signal ? 128 + (signalNumber(signal) ?? 1) : code === 0 ? 0 : 1));
  });
}

/** `tensorcore hf ...`: the options are checked here, then python-ref runs with the same arguments. */
export async function hfCommand(argv: string[]): Promise<number> {
  const cmd = groupCommand(HF_GROUP, argv);
  if (cmd === undefined) return 0;
  const spec = HF_COMMANDS.find((c) => c.name === `hf ${cmd}`)!;
  const rest = argv.slice(1);
  const parsed = parseCommand(spec, rest);
  if (parsed.help) return 0;
  if (cmd === "make-model" && !MAKE_MODELS.includes(parsed.positionals[0]))
    throw new UsageError(`unknown model '${parsed.positionals[0]}' (expected ${MAKE_MODELS.join(", ")}; see \`tensorcore hf make-model --help\`)`);
  return runPythonRef(argv);
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return table[sig];
}
