// The worker thread models/chat.ts renders a chat template in (so a template that loops or grows
// without end can be stopped): one render, one message back ({text} or {error}), then it ends.

import { parentPort, workerData } from "node:worker_threads";
import { Template } from "@huggingface/jinja";

/** A rendered prompt larger than this is refused (a real one is a few KB). */
const MAX_TEXT = 16 << 20;

if (parentPort) {
  const { template, context } = workerData as { template: string; context: Record<string, unknown> };
  let reply: { text?: string; error?: string };
  try {
    const text = new Template(template).render(context);
    reply = text.length > MAX_TEXT ? { error: `the chat template rendered ${text.length} characters, more than ${MAX_TEXT}` } : { text };
  } catch (e) {
    // a template's own raise_exception('System role not supported') or a Jinja error, as one line
    reply = { error: `the chat template failed: ${String((e as Error)?.message ?? e).split("\n")[0]}` };
  }
  parentPort.postMessage(reply);
}
