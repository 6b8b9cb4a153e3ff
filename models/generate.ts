// The decoding loop: prefill the prompt, then decode one token at a time, streaming text.

import { CausalLM } from "./causal-lm.js";
import { pickToken, SamplingOptions, seededRandom } from "./sampling.js";
import { Tokenizer } from "./tokenizer.js";

export interface GenerateOptions {
  maxNewTokens: number;
  sampling: SamplingOptions;
  /** Called once the prompt has run (a prompt the model refuses, longer than its context, never gets here). */
  onPrefilled?: () => void;
  /** Called with each piece of text as soon as it is complete UTF-8. */
  onText?: (text: string) => void;
  stopAtEos?: boolean;
  /** Add the post-processor's special tokens (BOS…) to the prompt, as HF's encode does by default; false for a rendered chat template, which writes its own. */
  addSpecialTokens?: boolean;
}

export interface GenerateResult {
  prompt_ids: number[];
  generated_ids: number[];
  text: string;
  /** Why generation stopped: the end-of-text token, the token budget, or a full context. */
  stop: "eos" | "max_tokens" | "context_full";
  timing: { prefill_ms: number; decode_ms_per_token: number };
}

export function generate(model: CausalLM, tokenizer: Tokenizer, prompt: string, opts: GenerateOptions): GenerateResult {
  // encode() adds what the tokenizer's post-processor adds (Llama's <s>, Llama 3's <|begin_of_text|>), as HF does.
  const promptIds = tokenizer.encode(prompt, { addSpecialTokens: opts.addSpecialTokens ?? true });
  if (promptIds.length === 0) {
    // an empty prompt under a tokenizer without BOS: start from the end-of-text token, as GPT-2 does
    const start = tokenizer.bosId >= 0 ? tokenizer.bosId : tokenizer.eosId;
    if (start < 0) throw new Error("generate: the prompt is empty and the tokenizer has no BOS or EOS token to start from");
    promptIds.push(start);
  }
  const eos = new Set(tokenizer.eosIds);
  const random = seededRandom(opts.sampling.seed);
  // The prompt is context: the first new token decodes as it would after it (SentencePiece's leading "▁").
  const stream = tokenizer.createStreamDecoder({ context: promptIds });
  const t0 = performance.now();
  let logits = model.prefill(promptIds);
  const prefillMs = performance.now() - t0;
  opts.onPrefilled?.();
  const generated: number[] = [];
  const pieces: string[] = [];
  const emit = (piece: string): void => {
    if (!piece) return;
    pieces.push(piece);
    opts.onText?.(piece);
  };
  let decodeMs = 0, decodeSteps = 0;
  const room = model.nCtx - promptIds.length;
  let stop: GenerateResult["stop"] = opts.maxNewTokens <= room + 1 ? "max_tokens" : "context_full";
  for (let i = 0; i < Math.min(opts.maxNewTokens, room + 1); i++) {
    const id = pickToken(logits, opts.sampling, random);
    generated.push(id);
    if (eos.has(id) && opts.stopAtEos !== false) { stop = "eos"; break; }
    if (tokenizer.hasToken(id)) emit(stream.push(id)); // a padding row's id decodes to nothing, as in HF
    if (i === opts.maxNewTokens - 1) { stop = "max_tokens"; break; }
    if (model.length >= model.nCtx) { stop = "context_full"; break; }
    const t = performance.now();
    logits = model.decode(id);
    decodeMs += performance.now() - t;
    decodeSteps++;
  }
  emit(stream.flush());
  return {
    prompt_ids: promptIds,
    generated_ids: generated,
    text: pieces.join(""),
    stop,
    timing: { prefill_ms: round(prefillMs), decode_ms_per_token: round(decodeSteps ? decodeMs / decodeSteps : 0) },
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
