// Chat templates as HF renders them: for the tokenizer kinds of the families (ChatML for Qwen2,
// Llama 3's header tokens, Gemma's turns, Mistral's [INST]), each template placed where the hub puts
// it (chat_template.jinja, tokenizer_config.json's string or named list), our rendered text and ids
// equal transformers' apply_chat_template(..., add_generation_prompt=True), and a template's own
// refusal (Gemma's "System role not supported") is refused by both. Then `generate --chat` on a model
// folder feeds the model exactly HF's ids.

import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ChatMessage, chatTemplateOf, renderChat } from "../../models/chat.js";
import { EMBEDDED_MODEL, REPO_ROOT } from "../../models/causal-lm.js";
import { Tokenizer } from "../../models/tokenizer.js";
import { PYTHON } from "../../models/zoo.js";

const KINDS = join(REPO_ROOT, "tests", "fixtures", "tokenizers");

const QWEN = `{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- else %}
    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;
const LLAMA3 = `{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Cutting Knowledge Date: December 2023\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}`;
const GEMMA = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
const MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

type Placement = "jinja" | "config-string" | "config-list";
const CASES: [kind: string, template: string, placement: Placement][] = [
  ["qwen2", QWEN, "jinja"],
  ["llama3", LLAMA3, "config-string"],
  ["gemma", GEMMA, "jinja"],
  ["mistral", MISTRAL, "config-list"],
];
const CONVERSATIONS: ChatMessage[][] = [
  [{ role: "user", content: "Hello, 世界! What's 2+2?" }],
  [{ role: "system", content: "  You are terse. " }, { role: "user", content: "Name a colour." }],
  [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello! How can I help?" }, { role: "user", content: "Tell me a joke 😀\n\twith tabs" }],
];

function place(dir: string, template: string, how: Placement): void {
  if (how === "jinja") return writeFileSync(join(dir, "chat_template.jinja"), template);
  const cfgPath = join(dir, "tokenizer_config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  cfg.chat_template = how === "config-string" ? template : [{ name: "default", template }, { name: "rag", template: "unused" }];
  writeFileSync(cfgPath, JSON.stringify(cfg));
}

/** HF's rendering and ids for each conversation (or its error). */
function hfChat(dir: string, conversations: ChatMessage[][]): ({ text: string; ids: number[] } | { error: string })[] {
  const script = `
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
out = []
for conv in json.loads(sys.argv[2]):
    try:
        text = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        ids = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        out.append({"text": text, "ids": list(ids)})
    except Exception as e:
        out.append({"error": str(e)})
print(json.dumps(out))`;
  const r = spawnSync(PYTHON, ["-c", script, dir, JSON.stringify(conversations)], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

for (const [kind, template, placement] of CASES) {
  test(`${kind} (${placement}): the rendered chat and its ids equal HF's apply_chat_template`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `tc-chat-${kind}-`));
    try {
      cpSync(join(KINDS, kind), dir, { recursive: true });
      place(dir, template, placement);
      const want = hfChat(dir, CONVERSATIONS);
      const tok = Tokenizer.fromFolder(dir);
      const chat = chatTemplateOf(dir, tok);
      for (let c = 0; c < CONVERSATIONS.length; c++) {
        const w = want[c];
        if ("error" in w) {
          let got = "rendered";
          try { await renderChat(chat, CONVERSATIONS[c]); } catch (e) { got = (e as Error).message; }
          assert.ok(got.endsWith(`the chat template failed: ${w.error}`), `conversation ${c}: HF: ${w.error}; ours: ${got}`);
          continue;
        }
        const text = await renderChat(chat, CONVERSATIONS[c]);
        assert.is(text, w.text, `conversation ${c}`);
        assert.equal(tok.encode(text, { addSpecialTokens: false }), w.ids, `conversation ${c}`);
      }
      assert.ok(want.filter((w) => "ids" in w).length >= 2, "most conversations render");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("generate --chat feeds the model HF's ids for the turn, and prints the message then the reply", () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-chat-gen-"));
  try {
    cpSync(EMBEDDED_MODEL, dir, { recursive: true });
    writeFileSync(join(dir, "chat_template.jinja"), QWEN); // GPT-2's vocabulary spells the markers out
    const conv: ChatMessage[] = [{ role: "system", content: "Be kind." }, { role: "user", content: "What is a fortune?" }];
    const [want] = hfChat(dir, [conv]);
    const bin = join(REPO_ROOT, "bin", "tensorcore.js");
    const r = spawnSync(process.execPath, [bin, "generate", "What is a fortune?", "--chat", "--system", "Be kind.", "--model", dir, "--max-new-tokens", "6", "--backend", "interp", "--json"], { encoding: "utf8" });
    assert.is(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).prompt_ids, (want as { ids: number[] }).ids);
    const shown = spawnSync(process.execPath, [bin, "generate", "What is a fortune?", "--chat", "--model", dir, "--max-new-tokens", "4", "--backend", "interp"], { encoding: "utf8" });
    assert.is(shown.status, 0, shown.stderr);
    assert.ok(shown.stdout.startsWith("What is a fortune?\n"), shown.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
