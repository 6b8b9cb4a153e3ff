// The wire format: ZeroMQ multipart frames <-> messages, and HMAC signing.
//   [identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]
// The signature is the hex HMAC of the four JSON frames with the connection file's key and
// signature_scheme ("hmac-sha256"); an empty key means unsigned. Verification is constant-time.
// A signature seen before is refused, as jupyter_client's Session does (its digest_history): a
// validly signed message replayed from a capture runs once. The history is bounded (DIGEST_HISTORY
// signatures, the oldest tenth dropped when full), so a replay older than that is not detected.

import { createHmac, getHashes, timingSafeEqual } from "node:crypto";
import { Header, JsonObject, Message } from "./protocol.js";

export const DELIMITER = Buffer.from("<IDS|MSG>");

/** jupyter_client's digest_history_size. */
export const DIGEST_HISTORY = 1 << 16;

export class Signer {
  private readonly algorithm: string | undefined;
  private readonly seen = new Set<string>();
  constructor(readonly key: string, readonly scheme = "hmac-sha256", private readonly historySize = DIGEST_HISTORY) {
    if (key === "") { this.algorithm = undefined; return; }
    const m = /^hmac-(.+)$/.exec(scheme);
    if (!m || !getHashes().includes(m[1])) throw new Error(`unsupported signature_scheme '${scheme}' (expected hmac-sha256 or another hmac-<hash>)`);
    this.algorithm = m[1];
  }
  get enabled(): boolean { return this.algorithm !== undefined; }
  sign(frames: Buffer[]): string {
    if (!this.algorithm) return "";
    const h = createHmac(this.algorithm, this.key);
    for (const f of frames) h.update(f);
    return h.digest("hex");
  }
  /** Constant-time comparison of a received signature with the expected one. */
  verify(signature: Buffer, frames: Buffer[]): boolean {
    if (!this.algorithm) return true;
    const expected = Buffer.from(this.sign(frames), "ascii");
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
  /** Record a verified signature; false when it was seen before (a replay). */
  remember(signature: Buffer): boolean {
    if (!this.algorithm) return true;
    const s = signature.toString("latin1");
    if (this.seen.has(s)) return false;
    if (this.seen.size >= this.historySize) {
      let drop = Math.max(1, Math.floor(this.historySize / 10));
      for (const old of this.seen) { if (drop-- <= 0) break; this.seen.delete(old); }
    }
    this.seen.add(s);
    return true;
  }
}

export type DecodeResult = { ok: true; message: Message } | { ok: false; reason: string; identities: Buffer[] };

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseJsonFrame(frame: Buffer, what: string): JsonObject {
  let text: string;
  try {
    text = utf8.decode(frame);
  } catch {
    throw new Error(`${what} is not valid UTF-8`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${what} is not a JSON object`);
  return v as JsonObject;
}

/** Frames to a message; a bad signature, a malformed frame or a missing field is a reason to drop it. */
export function decode(frames: Buffer[], signer: Signer): DecodeResult {
  const delim = frames.findIndex((f) => f.equals(DELIMITER));
  const identities = delim < 0 ? [] : frames.slice(0, delim);
  if (delim < 0) return { ok: false, reason: "no <IDS|MSG> delimiter", identities };
  if (frames.length < delim + 6) return { ok: false, reason: `too few frames (${frames.length - delim - 1} after the delimiter, need 5)`, identities };
  const [signature, h, p, m, c] = frames.slice(delim + 1, delim + 6);
  if (signer.enabled && !signer.verify(signature, [h, p, m, c])) {
    return { ok: false, reason: signature.length === 0 ? "missing signature" : "bad signature", identities };
  }
  try {
    const header = parseJsonFrame(h, "header") as unknown as Header;
    if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") throw new Error("header lacks msg_type or msg_id");
    const message: Message = {
      identities,
      header,
      parent_header: parseJsonFrame(p, "parent_header") as Message["parent_header"],
      metadata: parseJsonFrame(m, "metadata"),
      content: parseJsonFrame(c, "content"),
      buffers: frames.slice(delim + 6),
    };
    // Last, so that only messages that would run enter the history (as in jupyter_client).
    if (!signer.remember(signature)) return { ok: false, reason: "duplicate signature", identities };
    return { ok: true, message };
  } catch (e) {
    return { ok: false, reason: (e as Error).message, identities };
  }
}

/** A message to signed frames. */
export function encode(msg: Message<unknown>, signer: Signer): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((x) => Buffer.from(JSON.stringify(x ?? {}), "utf8"));
  return [...msg.identities, DELIMITER, Buffer.from(signer.sign(parts), "ascii"), ...parts, ...msg.buffers];
}
