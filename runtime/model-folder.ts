// Reading folders that came from someone else (model folders, --inputs folders, tokenizer files):
// every path stays inside its folder, only regular files are opened, sizes are checked against the
// file before anything is allocated, and every failure is an InputError whose message names the
// file and the field. docs/security.md states the guarantees.

import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, renameSync, rmSync, Stats, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { Precision } from "../compiler/types.js";

/** Bad input read from a file: printed as one line (the CLI exits 1, the kernel shows an error). */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/**
 * The per-user cache (TENSORCORE_CACHE, else ~/.cache/tensorcore), read at each call so tests can
 * set it. An empty TENSORCORE_CACHE counts as unset, as python-ref's paths.cache_dir reads it.
 */
export function cacheDir(): string {
  return process.env.TENSORCORE_CACHE || join(homedir(), ".cache", "tensorcore");
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** The real path of a folder, or an InputError saying why it is not one. */
export function realFolder(dir: string, what = "folder"): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    throw new InputError(errno(e) === "ENOENT" ? `${what} '${dir}' does not exist` : `${dir}: cannot open (${errno(e)})`);
  }
  if (!statSync(real).isDirectory()) throw new InputError(`${dir}: not a folder`);
  return real;
}

/**
 * The real path of `rel` inside the folder whose real path is `realDir`: a relative path without
 * `..`, whose target (after following symbolic links) is a regular file inside the folder.
 * `where` names the field for messages ("manifest.json: tensors.wte.file").
 */
export function confinedFile(realDir: string, rel: unknown, where: string, folder = "the model folder"): string {
  if (typeof rel !== "string" || rel.length === 0) throw new InputError(`${where}: expected a file name, got ${describeValue(rel)}`);
  if (rel.includes("\0")) throw new InputError(`${where}: the file name contains a NUL character`);
  if (isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) throw new InputError(`${where}: '${rel}' is an absolute path; files must be inside ${folder}`);
  if (rel.split(/[\\/]/).includes("..")) throw new InputError(`${where}: '${rel}' contains '..'; files must be inside ${folder}`);
  const joined = join(realDir, rel);
  let real: string;
  try {
    real = realpathSync(joined);
  } catch (e) {
    throw new InputError(errno(e) === "ENOENT" ? `${where}: '${rel}' is missing (${joined})` : `${where}: cannot open '${rel}' (${errno(e)})`);
  }
  const inside = relative(realDir, real);
  if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) {
    throw new InputError(`${where}: '${rel}' is a symbolic link to ${real}, outside ${folder}`);
  }
  let st: Stats;
  try {
    st = statSync(real);
  } catch (e) {
    throw new InputError(`${where}: cannot open '${rel}' (${errno(e)})`);
  }
  if (!st.isFile()) throw new InputError(`${where}: '${rel}' is ${kindOf(st)}, not a regular file`);
  return real;
}

/**
 * Open a regular file for reading. O_NONBLOCK: a FIFO swapped in after the checks does not hang
 * the open; the fstat then refuses it. O_NOFOLLOW: the final component is not a link.
 */
export function openRegular(path: string, shown = path): { fd: number; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    throw new InputError(`${shown}: cannot open (${errno(e)})`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new InputError(`${shown}: is ${kindOf(stat)}, not a regular file`);
  }
  return { fd, stat };
}

/** Exactly `nbytes` bytes at `offset`, or an InputError (a file shorter than that is truncated). */
export function readRange(path: string, offset: number, nbytes: number, shown: string, what: string): Uint8Array {
  const { fd, stat } = openRegular(path, shown);
  try {
    if (offset + nbytes > stat.size) throw new InputError(`${shown}: truncated: ${what} needs bytes ${offset}..${offset + nbytes}, the file has ${stat.size}`);
    const out = new Uint8Array(nbytes);
    let done = 0;
    while (done < nbytes) {
      let n: number;
      try {
        n = readSync(fd, out, done, Math.min(nbytes - done, 1 << 30), offset + done);
      } catch (e) {
        throw new InputError(`${shown}: cannot read (${errno(e)})`);
      }
      if (n === 0) throw new InputError(`${shown}: truncated: ${what} ends at byte ${offset + done}, expected ${offset + nbytes}`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a byte range, read in 1 MiB pieces (never the whole range in memory). */
export function hashRange(path: string, offset: number, nbytes: number, shown: string, what: string): string {
  const { fd, stat } = openRegular(path, shown);
  try {
    if (offset + nbytes > stat.size) throw new InputError(`${shown}: truncated: ${what} needs bytes ${offset}..${offset + nbytes}, the file has ${stat.size}`);
    const h = createHash("sha256");
    const buf = new Uint8Array(Math.min(nbytes, 1 << 20) || 1);
    let done = 0;
    while (done < nbytes) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, nbytes - done), offset + done);
      if (n === 0) throw new InputError(`${shown}: truncated: ${what} ends at byte ${offset + done}`);
      h.update(buf.subarray(0, n));
      done += n;
    }
    return h.digest("hex");
  } finally {
    closeSync(fd);
  }
}

/**
 * Write a file whole or not at all: a temporary file beside it (named for this process), renamed
 * over it; the temporary file is removed when the write fails. Errors are the file system's.
 */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A whole small file (manifest, vocab, config), refused above `maxBytes` before reading. */
export function readWholeFile(path: string, maxBytes: number, shown = path): Buffer {
  const { fd, stat } = openRegular(path, shown);
  try {
    if (stat.size > maxBytes) throw new InputError(`${shown}: ${stat.size} bytes, more than the ${maxBytes} this file may have`);
    try {
      return readFileSync(fd);
    } catch (e) {
      throw new InputError(`${shown}: cannot read (${errno(e)})`);
    }
  } finally {
    closeSync(fd);
  }
}

/** JSON text parsed, with the file named when it is not JSON (a truncated file, say). */
export function parseJson(text: string, shown: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${shown}: invalid JSON (${(e as Error).message})`);
  }
}

export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return `${typeof v} ${String(v)}`;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

// ---- manifest.json ------------------------------------------------------------------------------

export const MANIFEST_MAX_BYTES = 64 << 20;
export const DTYPE_BYTES: Record<string, number> = { f32: 4, f16: 2, bf16: 2, int8: 1, int32: 4 };
/** No tensor has more elements than this (2^31 - 1: typed arrays and the back ends index with int32). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

export interface ManifestEntry { file: string; dtype: Precision; shape: number[]; offset: number; nbytes: number; sha256?: string }
export interface Manifest { format?: string; architecture?: string; dtype?: string; consts?: Record<string, number>; tensors: Record<string, ManifestEntry> }

/**
 * Check a parsed manifest's structure: every field of the right type, sizes consistent with shapes.
 * Returns its tensors as a Map (so a tensor named `__proto__` is plain data).
 */
export function checkManifest(m: unknown, shown: string): { manifest: Manifest; entries: Map<string, ManifestEntry> } {
  if (!isPlainObject(m)) throw new InputError(`${shown}: expected a JSON object, got ${describeValue(m)}`);
  for (const key of ["format", "architecture", "dtype"]) {
    if (Object.hasOwn(m, key) && typeof m[key] !== "string") throw new InputError(`${shown}: "${key}" must be a string, got ${describeValue(m[key])}`);
  }
  if (Object.hasOwn(m, "consts")) {
    const c = m.consts;
    if (!isPlainObject(c)) throw new InputError(`${shown}: "consts" must be an object, got ${describeValue(c)}`);
    for (const [k, v] of Object.entries(c)) if (typeof v !== "number" || !Number.isFinite(v)) throw new InputError(`${shown}: consts.${k} must be a number, got ${describeValue(v)}`);
  }
  if (!Object.hasOwn(m, "tensors")) throw new InputError(`${shown}: "tensors" is missing`);
  const tensors = m.tensors;
  if (!isPlainObject(tensors)) throw new InputError(`${shown}: "tensors" must be an object mapping names to tensors, got ${describeValue(tensors)}`);
  const entries = new Map<string, ManifestEntry>();
  for (const [name, e] of Object.entries(tensors)) {
    const at = `${shown}: tensors.${name}`;
    if (!isPlainObject(e)) throw new InputError(`${at}: expected an object, got ${describeValue(e)}`);
    for (const key of ["file", "dtype", "shape", "offset", "nbytes"]) if (!Object.hasOwn(e, key)) throw new InputError(`${at}: "${key}" is missing`);
    if (typeof e.file !== "string" || e.file.length === 0) throw new InputError(`${at}.file: expected a file name, got ${describeValue(e.file)}`);
    if (typeof e.dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, e.dtype)) throw new InputError(`${at}.dtype: expected one of ${Object.keys(DTYPE_BYTES).join(", ")}, got ${describeValue(e.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) throw new InputError(`${at}.shape: expected a list of non-negative integers, got ${JSON.stringify(shape)?.slice(0, 60)}`);
    let count = 1;
    for (const d of shape as number[]) count *= d;
    if (count > MAX_ELEMENTS) throw new InputError(`${at}.shape: ${JSON.stringify(shape)} has ${count} elements, more than ${MAX_ELEMENTS}`);
    for (const key of ["offset", "nbytes"]) {
      if (!Number.isSafeInteger(e[key]) || (e[key] as number) < 0) throw new InputError(`${at}.${key}: expected a non-negative integer, got ${describeValue(e[key])}`);
    }
    const expect = count * DTYPE_BYTES[e.dtype];
    if (e.nbytes !== expect) throw new InputError(`${at}.nbytes: ${e.nbytes}, but a ${e.dtype} tensor of shape ${JSON.stringify(shape)} has ${expect} bytes`);
    if (Object.hasOwn(e, "sha256") && (typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256))) throw new InputError(`${at}.sha256: expected 64 hex digits, got ${describeValue(e.sha256)}`);
    entries.set(name, { file: e.file, dtype: e.dtype as Precision, shape: shape as number[], offset: e.offset as number, nbytes: e.nbytes as number, sha256: e.sha256 as string | undefined });
  }
  return { manifest: m as unknown as Manifest, entries };
}

// ---- verified stamps ----------------------------------------------------------------------------

/** What a stamp records of each weight file: a change to any of these means hash again. */
export interface FileIdentity { size: number; mtimeMs: number; ctimeMs: number; ino: number; dev: number }
export const identityOf = (st: Stats): FileIdentity => ({ size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev });

interface Stamp { folder: string; manifest_sha256: string; files: Record<string, FileIdentity> }

/**
 * The record that a folder's tensors matched their sha256s: kept in the cache (never in the model
 * folder), keyed by the folder's real path, valid while manifest.json's bytes and every weight
 * file's size, times and inode are unchanged.
 */
export class VerifiedStamp {
  readonly path: string;
  constructor(readonly realDir: string, readonly manifestSha256: string, readonly files: Map<string, FileIdentity>) {
    const key = createHash("sha256").update(realDir).digest("hex").slice(0, 32);
    this.path = join(cacheDir(), "verified", `${key}.json`);
  }

  private expected(): Stamp {
    return { folder: this.realDir, manifest_sha256: this.manifestSha256, files: Object.fromEntries([...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) };
  }

  /** True when a stamp written for exactly this state of the folder exists. */
  valid(): boolean {
    try {
      const text = readWholeFile(this.path, 1 << 20).toString("utf8");
      return JSON.stringify(JSON.parse(text)) === JSON.stringify(this.expected());
    } catch {
      return false; // no stamp, or an unreadable one: verify
    }
  }

  /** Record the verification (best effort: a read-only cache only means hashing next time too). */
  write(): void {
    try {
      mkdirSync(join(this.path, ".."), { recursive: true });
      writeFileAtomic(this.path, JSON.stringify(this.expected()) + "\n");
    } catch {
      /* the cache is not writable: nothing lost but time */
    }
  }
}
