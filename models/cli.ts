// `tensorcore generate`: text generation with GPT-2 running entirely in DSL kernels.

import { existsSync } from "node:fs";
import { parseArgs, UsageError } from "../cli/args.js";
import { chooseBackend, DEFAULT_BACKEND } from "../backends/index.js";
import { EMBEDDED_MODEL, CausalLM, ModelError } from "./causal-lm.js";
import { generate } from "./generate.js";
import { GREEDY, SamplingOptions } from "./sampling.js";
import { Tokenizer, TokenizerError } from "./tokenizer.js";

const num = (v: string | boolean | undefined, name: string, dflt: number, integer = false): number => {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (typeof v !== "string" || !Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new UsageError(`${name} needs ${integer ? "an integer" : "a number"}, got '${v}'`);
  return x;
};

export async function generateCommand(argv: string[]): Promise<number> {
  const { positional, opts } = parseArgs(argv, {
    "--model": "value", "--max-new-tokens": "value", "--greedy": "switch", "--temperature": "value", "--top-k": "value",
    "--top-p": "value", "--seed": "value", "--backend": "value", "--json": "switch",
  });
  if (positional.length !== 1) throw new UsageError('generate takes one prompt: tensorcore generate "PROMPT" [options]');
  const prompt = positional[0];
  const dir = (opts["--model"] as string) ?? EMBEDDED_MODEL;
  const json = opts["--json"] === true;
  const backend = await chooseBackend(opts["--backend"] as string | undefined, DEFAULT_BACKEND, (m) => console.error(m));
  const sampling: SamplingOptions = {
    greedy: opts["--greedy"] === true || opts["--temperature"] === undefined,
    temperature: num(opts["--temperature"], "--temperature", 1),
    topK: num(opts["--top-k"], "--top-k", 0, true),
    topP: num(opts["--top-p"], "--top-p", 1),
    seed: num(opts["--seed"], "--seed", 0, true),
  };
  if (opts["--greedy"] === true && opts["--temperature"] !== undefined) throw new UsageError("--greedy and --temperature exclude each other");
  if (sampling.topP <= 0 || sampling.topP > 1) throw new UsageError("--top-p must be in (0, 1]");
  if (!sampling.greedy && sampling.temperature <= 0) throw new UsageError("--temperature must be positive");
  const maxNew = num(opts["--max-new-tokens"], "--max-new-tokens", 40, true);
  if (maxNew < 1) throw new UsageError("--max-new-tokens must be at least 1");
  if (!existsSync(dir)) throw new UsageError(`model folder '${dir}' does not exist`);
  void GREEDY;
  try {
    const model = await CausalLM.load(dir, { backend, log: (m) => console.error(m) });
    const tokenizer = Tokenizer.fromFolder(dir);
    if (!json) process.stdout.write(prompt);
    const result = generate(model, tokenizer, prompt, {
      maxNewTokens: maxNew,
      sampling,
      onText: json ? undefined : (t) => process.stdout.write(t),
    });
    if (json) console.log(JSON.stringify(result));
    else {
      process.stdout.write("\n");
      console.error(`[${backend}] prompt ${result.prompt_ids.length} tokens, prefill ${result.timing.prefill_ms} ms; ${result.generated_ids.length} new tokens, ${result.timing.decode_ms_per_token} ms/token`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ModelError || e instanceof TokenizerError) throw new UsageError(e.message);
    throw e;
  }
}
