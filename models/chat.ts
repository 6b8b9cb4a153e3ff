// Chat templates: a model folder's Jinja template that turns messages into the prompt an instruct
// model was trained on (`<|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n` for Qwen, and so
// on), rendered as transformers' `apply_chat_template(messages, add_generation_prompt=True)` does:
//   * the template: `chat_template.jinja` (what transformers 5 saves), else tokenizer_config.json's
//     "chat_template" (a string, or a list of {name, template} whose "default" is used);
//   * the variables: messages, add_generation_prompt, and the tokenizer's special tokens as strings
//     (Tokenizer.specialTokensMap: bos_token, eos_token, ...), as HF's special_tokens_map;
//   * the ids: the rendered text encoded without the post-processor's BOS/EOS
//     (add_special_tokens=False), since templates write their own.
// The template is the folder's, so it is untrusted: it runs in a worker thread with a time and a
// memory limit (a `{% for i in range(10**12) %}` would otherwise hang generate), on @huggingface/jinja
// (the Jinja subset HF's chat templates use; no access to anything but the variables given).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { confinedFile, isPlainObject, readWholeFile, realFolder } from "../runtime/model-folder.js";
import type { Tokenizer } from "./tokenizer.js";
import { TokenizerError } from "./tokenizer/errors.js";

export interface ChatMessage { role: string; content: string }

/** A template file larger than this is refused (the hub's largest are tens of KB). */
const TEMPLATE_MAX_BYTES = 1 << 20;
/** Rendering longer than this is stopped (real templates render in milliseconds). */
export const RENDER_TIME_LIMIT_MS = 5000;
const RENDER_MEMORY_MB = 256;

/** What a model folder gives a chat template: the template and the special tokens' strings. */
export interface ChatTemplate { template: string; where: string; specialTokens: Readonly<Record<string, string | string[]>> }

/**
 * The folder's chat template, or a TokenizerError saying it has none (and where one would be).
 * `tokenizer` is the folder's (it has read tokenizer_config.json: the special tokens and the
 * template written there).
 */
export function chatTemplateOf(dir: string, tokenizer: Tokenizer): ChatTemplate {
  const specialTokens = tokenizer.specialTokensMap;
  const file = join(dir, "chat_template.jinja");
  if (existsSync(file)) {
    const template = readWholeFile(confinedFile(realFolder(dir, "model folder"), "chat_template.jinja", file), TEMPLATE_MAX_BYTES, file).toString("utf8");
    return { template, where: file, specialTokens };
  }
  const where = `${join(dir, "tokenizer_config.json")}: chat_template`;
  const t = tokenizer.configChatTemplate;
  if (typeof t === "string") return { template: t, where, specialTokens };
  if (Array.isArray(t)) {
    const named = t.find((x) => isPlainObject(x) && x.name === "default");
    if (!named || typeof named.template !== "string") throw new TokenizerError(`${where}: a list of templates without one named "default"`);
    return { template: named.template, where, specialTokens };
  }
  if (t !== undefined && t !== null) throw new TokenizerError(`${where}: expected a string or a list of {name, template}`);
  throw new TokenizerError(`${dir} has no chat template (neither chat_template.jinja nor "chat_template" in tokenizer_config.json): it is not a chat model, so give the prompt without --chat`);
}

/**
 * The prompt text for `messages` (then the assistant's turn begins), rendered in a worker thread
 * that is stopped after RENDER_TIME_LIMIT_MS or RENDER_MEMORY_MB.
 */
export function renderChat(chat: ChatTemplate, messages: ChatMessage[], timeLimitMs = RENDER_TIME_LIMIT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./chat-render.js", import.meta.url), {
      workerData: { template: chat.template, context: { messages, add_generation_prompt: true, ...chat.specialTokens } },
      resourceLimits: { maxOldGenerationSizeMb: RENDER_MEMORY_MB },
      stdout: true, stderr: true,
    });
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      f();
    };
    const timer = setTimeout(() => settle(() => reject(new TokenizerError(`${chat.where}: rendering the chat template took more than ${timeLimitMs / 1000} s; stopped`))), timeLimitMs);
    worker.on("message", (m: { text?: string; error?: string }) =>
      settle(() => (m.text !== undefined ? resolve(m.text) : reject(new TokenizerError(`${chat.where}: ${m.error}`)))));
    worker.on("error", (e: Error & { code?: string }) =>
      settle(() => reject(new TokenizerError(`${chat.where}: ${e.code === "ERR_WORKER_OUT_OF_MEMORY" ? `rendering the chat template needed more than ${RENDER_MEMORY_MB} MB; stopped` : e.message}`))));
    worker.on("exit", () => settle(() => reject(new TokenizerError(`${chat.where}: the chat template's renderer stopped without a result`))));
  });
}

/** The messages of one user turn, after an optional system message. */
export function userTurn(prompt: string, system?: string): ChatMessage[] {
  return [...(system !== undefined ? [{ role: "system", content: system }] : []), { role: "user", content: prompt }];
}
