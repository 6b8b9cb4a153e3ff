// `tensorcore generate`: text generation with GPT-2 running entirely in DSL kernels.

import { existsSync } from "node:fs";
import { BACKEND_OPTION, CommandSpec, parseCommand, UsageError } from "../cli/args.js";
import { Progress } from "../cli/progress.js";
import { chooseBackend, DEFAULT_BACKEND } from "../backends/index.js";
import { EMBEDDED_MODEL, CausalLM, ModelError } from "./causal-lm.js";
import { chatTemplateOf, renderChat, userTurn } from "./chat.js";
import { generate } from "./generate.js";
import { samplingProblem, SamplingOptions } from "./sampling.js";
import { Tokenizer, TokenizerError } from "./tokenizer.js";
import { InputError } from "../runtime/model-folder.js";

export const GENERATE = {
  name: "generate",
  summary: "Generate text with a causal LM (GPT-2 or Llama) whose every step runs in DSL kernels.\n" +
    "Greedy unless --temperature is given; sampling with --seed is reproducible.",
  usage: '"PROMPT" [options]',
  positionals: { min: 1, max: 1, missing: "generate takes one prompt: tensorcore generate \"PROMPT\" [options]" },
  options: {
    model: { type: "string", value: "DIR", description: "a DSL model folder (from `tensorcore hf convert`)", defaultText: "the embedded model" },
    "max-new-tokens": { type: "integer", description: "tokens to generate (stops early at end-of-text)", default: 40 },
    greedy: { type: "boolean", description: "always the most likely token (the default without --temperature)" },
    temperature: { type: "number", value: "T", description: "sample at this temperature (> 0)" },
    "top-k": { type: "integer", value: "K", description: "sample among the K most likely tokens (0: all)", default: 0 },
    "top-p": { type: "number", value: "P", description: "sample within this probability mass, in (0, 1]", default: 1 },
    seed: { type: "integer", description: "sampling seed", default: 0 },
    chat: { type: "boolean", description: "the prompt is a user's message to a chat model: the folder's chat template (chat_template.jinja or tokenizer_config.json) turns it into the model's prompt, as HF's apply_chat_template" },
    system: { type: "string", value: "TEXT", description: "with --chat: a system message before the user's" },
    backend: BACKEND_OPTION,
    json: { type: "boolean", description: "print {text, prompt_ids, generated_ids, timing} as JSON" },
    "no-verify": { type: "boolean", description: "skip checking each tensor's sha256 against manifest.json (a corrupted weight file then loads silently; paths, file types and sizes are still checked)" },
  },
} as const satisfies CommandSpec;

export async function generateCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(GENERATE, argv);
  if (parsed.help) return 0;
  const { values: v, positionals } = parsed;
  const prompt = positionals[0];
  const dir = v.model ?? EMBEDDED_MODEL;
  if (v.greedy && v.temperature !== undefined) throw new UsageError("--greedy and --temperature exclude each other");
  const sampling: SamplingOptions = {
    greedy: v.temperature === undefined,
    temperature: v.temperature ?? 1,
    topK: v["top-k"],
    topP: v["top-p"],
    seed: v.seed,
  };
  const maxNew = v["max-new-tokens"];
  const problem = samplingProblem(sampling, maxNew);
  if (problem) throw new UsageError(problem);
  if (v.system !== undefined && !v.chat) throw new UsageError("--system needs --chat (a system message is part of a chat)");
  if (!existsSync(dir)) throw new UsageError(`model folder '${dir}' does not exist`);
  const json = v.json;
  const progress = new Progress();
  const backend = await chooseBackend(v.backend, DEFAULT_BACKEND, progress.log);
  try {
    // the tokenizer first: its files are checked in well under a second, before any compiling
    const tokenizer = Tokenizer.fromFolder(dir);
    // a chat turn is rendered before the model loads: a folder without a template is refused at once
    const text = v.chat ? await renderChat(chatTemplateOf(dir, tokenizer), userTurn(prompt, v.system)) : prompt;
    const model = await CausalLM.load(dir, { backend, log: progress.log, verifyWeights: v["no-verify"] !== true });
    progress.end();
    const result = generate(model, tokenizer, text, {
      maxNewTokens: maxNew,
      sampling,
      addSpecialTokens: !v.chat, // the template writes its own BOS, as apply_chat_template's ids have it
      // the user's message, then the reply on the next line (chat); the text and its continuation (plain)
      onPrefilled: json ? undefined : () => process.stdout.write(v.chat ? `${prompt}\n` : prompt),
      onText: json ? undefined : (t) => process.stdout.write(t),
    });
    if (json) console.log(JSON.stringify(result));
    else {
      process.stdout.write("\n");
      console.error(`[${backend}] prompt ${result.prompt_ids.length} tokens, prefill ${result.timing.prefill_ms} ms; ${result.generated_ids.length} new tokens, ${result.timing.decode_ms_per_token} ms/token`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ModelError || e instanceof InputError || e instanceof TokenizerError) throw new UsageError(e.message);
    throw e;
  } finally {
    progress.end();
  }
}
