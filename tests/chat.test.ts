// Chat templates from a model folder are untrusted: rendering is bounded in time and memory, and
// every failure is one message naming the file. (HF parity: tests/e2e/chat.e2e.ts.)

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chatTemplateOf, renderChat, userTurn } from "../models/chat.js";
import { Tokenizer, TokenizerError } from "../models/tokenizer.js";

/** A folder with a one-token tokenizer.json and `files`. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "tc-chat-"));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ model: { type: "BPE", vocab: { a: 0 }, merges: [] } }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const templateOf = (dir: string) => chatTemplateOf(dir, Tokenizer.fromFolder(dir));

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, TokenizerError);
    return (e as Error).message;
  }
  return "rendered";
}

test("the template comes from chat_template.jinja first, then tokenizer_config.json (a string, or the list's \"default\")", async () => {
  const chatml = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const dirs = [
    folder({ "chat_template.jinja": chatml, "tokenizer_config.json": JSON.stringify({ chat_template: "ignored" }) }),
    folder({ "tokenizer_config.json": JSON.stringify({ chat_template: chatml }) }),
    folder({ "tokenizer_config.json": JSON.stringify({ chat_template: [{ name: "tool_use", template: "x" }, { name: "default", template: chatml }] }) }),
  ];
  try {
    for (const dir of dirs) {
      assert.is(await renderChat(templateOf(dir), userTurn("héllo", "be brief")), "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhéllo<|im_end|>\n<|im_start|>assistant\n");
    }
    // the special tokens are variables, as in HF's special_tokens_map
    const llama = folder({ "tokenizer_config.json": JSON.stringify({ bos_token: { content: "<s>" }, eos_token: "</s>", chat_template: "{{ bos_token }}[INST] {{ messages[0].content }} [/INST]{{ eos_token }}" }) });
    dirs.push(llama);
    assert.is(await renderChat(templateOf(llama), userTurn("hi")), "<s>[INST] hi [/INST]</s>");
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test("a folder without a template, a broken template, and the template's own raise_exception are one message each", async () => {
  const none = folder({ "tokenizer_config.json": "{}" });
  const broken = folder({ "chat_template.jinja": "{% for m in messages %}" });
  const raising = folder({ "chat_template.jinja": "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok" });
  const list = folder({ "tokenizer_config.json": JSON.stringify({ chat_template: [{ name: "tool_use", template: "x" }] }) });
  try {
    assert.throws(() => templateOf(none), /has no chat template \(neither chat_template\.jinja nor "chat_template" in tokenizer_config\.json\)/);
    assert.throws(() => templateOf(list), /tokenizer_config\.json: chat_template: a list of templates without one named "default"/);
    assert.match(await refusal(renderChat(templateOf(broken), userTurn("hi"))), new RegExp(`^${join(broken, "chat_template.jinja")}: the chat template failed: `));
    assert.match(await refusal(renderChat(templateOf(raising), userTurn("hi", "sys"))), /: the chat template failed: System role not supported$/);
    assert.is(await renderChat(templateOf(raising), userTurn("hi")), "ok");
  } finally {
    for (const d of [none, broken, raising, list]) rmSync(d, { recursive: true, force: true });
  }
});

test("a template that loops for ever or grows without end is stopped, with a message", async () => {
  // (nested short ranges: one range(10^9) is an array that, on a fast machine, reached the 256 MB
  // limit before the 1 s one, so this test saw the memory message instead)
  const loop = folder({ "chat_template.jinja": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}" });
  const grow = folder({ "chat_template.jinja": "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}" });
  try {
    const t0 = performance.now();
    assert.match(await refusal(renderChat(templateOf(loop), userTurn("hi"), 1000)), /rendering the chat template took more than 1 s; stopped/);
    assert.ok(performance.now() - t0 < 5000);
    // V8's string limit (2^29 characters) or the worker's heap limit, whichever comes first
    assert.match(await refusal(renderChat(templateOf(grow), userTurn("hi"), 20_000)), /: (the chat template failed: Invalid string length|rendering the chat template needed more than 256 MB; stopped)$/);
  } finally {
    for (const d of [loop, grow]) rmSync(d, { recursive: true, force: true });
  }
});

test.run();
