// Jupyter messaging protocol 5.3: message shapes and the reply contents this kernel sends.
// Nothing here touches sockets or the language; wire.ts frames these, handlers.ts produces them.

import { randomUUID } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";

export type Channel = "shell" | "control" | "iopub" | "stdin";

export interface Header {
  msg_id: string;
  msg_type: string;
  username: string;
  session: string;
  date: string;
  version: string;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A decoded message. `identities` are the ZeroMQ routing prefixes of the request it answers. */
export interface Message<C = JsonObject> {
  identities: Buffer[];
  header: Header;
  parent_header: Partial<Header> | Record<string, never>;
  metadata: JsonObject;
  content: C;
  buffers: Buffer[];
}

/** A MIME bundle: "text/plain", "text/html", "application/vnd.plotly.v1+json", ... */
export type MimeBundle = Record<string, Json>;

export function makeHeader(msgType: string, session: string, username = "tensorcore"): Header {
  return { msg_id: randomUUID(), msg_type: msgType, username, session, date: new Date().toISOString(), version: PROTOCOL_VERSION };
}

/** A new message in reply to (or caused by) `parent`; iopub messages carry no identities of their own. */
export function makeMessage(msgType: string, content: JsonObject, parent: Message<unknown> | undefined, session: string, metadata: JsonObject = {}): Message {
  return {
    identities: parent ? parent.identities : [],
    header: makeHeader(msgType, session, parent?.header.username ?? "tensorcore"),
    parent_header: parent ? parent.header : {},
    metadata,
    content,
    buffers: [],
  };
}

/** The reply type of a request type (`execute_request` → `execute_reply`). */
export function replyType(requestType: string): string {
  return requestType.replace(/_request$/, "_reply");
}

// ---- contents the engine produces (the handlers wrap them into messages) ----------------------

export interface ExecuteRequest {
  code: string;
  silent: boolean;
  store_history: boolean;
  user_expressions: Record<string, string>;
  allow_stdin: boolean;
  stop_on_error: boolean;
  /** Set by the handlers: the cell's number, for names in error messages (cell[3]:2:5). */
  execution_count?: number;
}

export interface ErrorInfo {
  ename: string;
  evalue: string;
  traceback: string[];
}

export interface ExecuteOutcome {
  status: "ok" | "error";
  error?: ErrorInfo;
  /** The cell's value (a trailing bare expression): becomes execute_result. */
  result?: { data: MimeBundle; metadata: JsonObject };
  user_expressions?: JsonObject;
}

export interface CompleteResult {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: JsonObject;
}

export interface InspectResult {
  found: boolean;
  data: MimeBundle;
  metadata: JsonObject;
}

export interface IsCompleteResult {
  status: "complete" | "incomplete" | "invalid" | "unknown";
  indent?: string;
}

/** What a running cell emits before it finishes (iopub traffic). */
export type OutputEvent =
  | { kind: "stream"; name: "stdout" | "stderr"; text: string }
  | { kind: "display"; data: MimeBundle; metadata: JsonObject; displayId?: string; update?: boolean }
  | { kind: "clear"; wait: boolean };

export interface KernelInfo {
  implementation: string;
  implementation_version: string;
  language_info: JsonObject;
  banner: string;
  help_links: { text: string; url: string }[];
}
