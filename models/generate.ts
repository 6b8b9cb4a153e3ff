// The decoding loop: prefill the prompt, then decode one token at a time, streaming text.

import { CausalLM } from "./causal-lm.js";
import { pickToken, SamplingOptions, seededRandom } from "./sampling.js";
import { Gpt2Tokenizer } from "./tokenizer.js";

export interface GenerateOptions {
  maxNewTokens: number;
  sampling: SamplingOptions;
  /** Called with each piece of text as soon as it is complete UTF-8. */
  onText?: (text: string) => void;
  stopAtEos?: boolean;
}

export interface GenerateResult {
  prompt_ids: number[];
  generated_ids: number[];
  text: string;
  /** Why generation stopped: the end-of-text token, the token budget, or a full context. */
  stop: "eos" | "max_tokens" | "context_full";
  timing: { prefill_ms: number; decode_ms_per_token: number };
}

export function generate(model: CausalLM, tokenizer: Gpt2Tokenizer, prompt: string, opts: GenerateOptions): GenerateResult {
  const promptIds = tokenizer.encode(prompt);
  if (promptIds.length === 0) promptIds.push(tokenizer.eosId);
  const random = seededRandom(opts.sampling.seed);
  const stream = tokenizer.createStreamDecoder();
  const t0 = performance.now();
  let logits = model.prefill(promptIds);
  const prefillMs = performance.now() - t0;
  const generated: number[] = [];
  let decodeMs = 0, decodeSteps = 0;
  const room = model.nCtx - promptIds.length;
  let stop: GenerateResult["stop"] = opts.maxNewTokens <= room + 1 ? "max_tokens" : "context_full";
  for (let i = 0; i < Math.min(opts.maxNewTokens, room + 1); i++) {
    const id = pickToken(logits, opts.sampling, random);
    generated.push(id);
    if (id === tokenizer.eosId && opts.stopAtEos !== false) { stop = "eos"; break; }
    const piece = stream.push(id);
    if (piece) opts.onText?.(piece);
    if (i === opts.maxNewTokens - 1) { stop = "max_tokens"; break; }
    if (model.length >= model.nCtx) { stop = "context_full"; break; }
    const t = performance.now();
    logits = model.decode(id);
    decodeMs += performance.now() - t;
    decodeSteps++;
  }
  const rest = stream.flush();
  if (rest) opts.onText?.(rest);
  return {
    prompt_ids: promptIds,
    generated_ids: generated,
    text: tokenizer.decode(generated.filter((id) => id !== tokenizer.eosId)),
    stop,
    timing: { prefill_ms: round(prefillMs), decode_ms_per_token: round(decodeSteps ? decodeMs / decodeSteps : 0) },
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
