// Binding kernel parameters to data: raw `.bin` files (the prototype's weights/*.bin), `.npy`
// files, and model folders described by a manifest.json (python-ref writes them).

import { createHash } from "node:crypto";
import { existsSync, lstatSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { RuntimeFault } from "../compiler/diagnostics.js";
import { Span } from "../compiler/source.js";
import { bytesPerElement, elementCount, Precision, shapeToString, TensorType } from "../compiler/types.js";
import { encoder, f16BitsToF32, bf16BitsToF32, storageFromBytes, StorageArray } from "./precision.js";
import { allocTensor, TensorView } from "./tensor.js";
import {
  checkManifest, confinedFile, FileIdentity, hashRange, identityOf, InputError, Manifest, MANIFEST_MAX_BYTES, ManifestEntry,
  parseJson, readRange, readWholeFile, realFolder, VerifiedStamp,
} from "./model-folder.js";

export { InputError };

/** A tensor read from a file, before it is bound to a parameter of a given type. */
export interface RawTensor {
  precision: Precision | "f64" | "int64" | "uint8";
  shape: number[] | undefined; // undefined for raw .bin (shape comes from the parameter)
  bytes: Uint8Array;
  source: string;
}

const NPY_DTYPES: Record<string, RawTensor["precision"]> = {
  "<f4": "f32", "<f2": "f16", "<i4": "int32", "|i1": "int8", "<i1": "int8", "<f8": "f64", "<i8": "int64", "|u1": "uint8",
};

/**
 * The three fields of a .npy header, a Python dict literal as numpy writes it ({'descr': '<f4',
 * 'fortran_order': False, 'shape': (2, 3), }), read exactly: each key once, fortran_order a
 * boolean, the shape integers; anything else (a 'yes', a 2.0, a fourth key) is undefined.
 */
function npyHeaderFields(header: string): { descr: string; fortran: boolean; shapeText: string } | undefined {
  const body = /^\{([^]*)\}\s*$/.exec(header)?.[1];
  if (body === undefined) return undefined;
  // one `'key': value` entry at a time, each followed by a comma or the end of the dict
  const entry = /\s*'(\w+)'\s*:\s*('[^'\\]*'|True|False|\((?:\s*\d+\s*,)*(?:\s*\d+\s*)?\))\s*(?:,|$)/y;
  const fields = new Map<string, string>();
  while (body.slice(entry.lastIndex).trim() !== "") {
    const m = entry.exec(body);
    if (!m || fields.has(m[1])) return undefined;
    fields.set(m[1], m[2]);
  }
  const descr = fields.get("descr"), fortran = fields.get("fortran_order"), shape = fields.get("shape");
  if (fields.size !== 3 || !descr?.startsWith("'") || (fortran !== "True" && fortran !== "False") || !shape?.startsWith("(")) return undefined;
  return { descr: descr.slice(1, -1), fortran: fortran === "True", shapeText: shape.slice(1, -1) };
}

export function parseNpy(buf: Uint8Array, source: string): RawTensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (buf.length < 12 || magic.some((m, i) => buf[i] !== m)) throw new InputError(`${source}: not a .npy file (bad magic bytes)`);
  const major = buf[6];
  const hlen = major === 1 ? buf[8] | (buf[9] << 8) : (buf[8] | (buf[9] << 8) | (buf[10] << 16)) + buf[11] * 2 ** 24;
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > buf.length) throw new InputError(`${source}: truncated .npy header (${hlen} bytes declared, the file has ${buf.length})`);
  const header = new TextDecoder().decode(buf.subarray(hstart, hstart + hlen));
  const fields = npyHeaderFields(header);
  if (!fields) throw new InputError(`${source}: malformed .npy header (expected numpy's {'descr': ..., 'fortran_order': True|False, 'shape': (...)})`);
  const { descr, fortran, shapeText } = fields;
  if (fortran) throw new InputError(`${source}: Fortran-ordered .npy arrays are not supported; save with np.ascontiguousarray`);
  const precision = Object.hasOwn(NPY_DTYPES, descr) ? NPY_DTYPES[descr] : undefined;
  if (!precision) throw new InputError(`${source}: unsupported .npy dtype '${descr}' (use float32, float16, int32 or int8)`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new InputError(`${source}: malformed .npy shape (${shapeText})`);
  return { precision, shape, bytes: buf.subarray(hstart + hlen), source };
}

/** Convert a file's tensor into a tensor of the parameter's type (values converted with the store rules). */
export function bindRaw(raw: RawTensor, type: TensorType, name: string, span?: Span): TensorView {
  const count = elementCount(type.shape);
  if (raw.shape && (raw.shape.length !== type.shape.length || raw.shape.some((d, i) => d !== type.shape[i]))) {
    // A flat file of the right size also binds: the prototype's .bin files had no shape.
    if (elementCount(raw.shape) !== count) throw new RuntimeFault(span, `${raw.source}: '${name}' has shape ${shapeToString(raw.shape)}, but the parameter is ${shapeToString(type.shape)}`);
  }
  const elemBytes = raw.precision === "f64" || raw.precision === "int64" ? 8 : raw.precision === "uint8" ? 1 : bytesPerElement(raw.precision);
  if (raw.bytes.byteLength !== count * elemBytes) {
    throw new RuntimeFault(span, `${raw.source}: '${name}' holds ${raw.bytes.byteLength} bytes, but a ${type.precision} tensor of shape ${shapeToString(type.shape)} needs ${count * bytesPerElement(type.precision)} bytes`);
  }
  if (raw.precision === type.precision && type.layout.kind !== "ColMajor") {
    const t = allocTensor(type);
    t.data = storageFromBytes(type.precision, raw.bytes);
    return t;
  }
  // Convert element by element.
  const t = allocTensor(type);
  const read = rawReader(raw);
  const enc = encoder(type.precision);
  const strides = t.strides;
  const shape = type.shape;
  for (let i = 0; i < count; i++) {
    // raw files are row-major; map the row-major index to this layout's storage index
    let rem = i, off = 0;
    for (let a = shape.length - 1; a >= 0; a--) { off += (rem % shape[a]) * strides[a]; rem = Math.floor(rem / shape[a]); }
    t.data[off] = enc(read(i));
  }
  return t;
}

function rawReader(raw: RawTensor): (i: number) => number {
  const b = raw.bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (raw.precision) {
    case "f32": return (i) => dv.getFloat32(i * 4, true);
    case "f64": return (i) => dv.getFloat64(i * 8, true);
    case "f16": return (i) => f16BitsToF32(dv.getUint16(i * 2, true));
    case "bf16": return (i) => bf16BitsToF32(dv.getUint16(i * 2, true));
    case "int8": return (i) => dv.getInt8(i);
    case "uint8": return (i) => dv.getUint8(i);
    case "int32": return (i) => dv.getInt32(i * 4, true);
    case "int64": return (i) => Number(dv.getBigInt64(i * 8, true));
  }
}

/** Where parameters come from: a directory of NAME.bin / NAME.npy files, or a model manifest. */
export interface WeightSource {
  describe(): string;
  /** The tensor named `name`; `type`, when given, is checked against the file's sizes before reading. */
  find(name: string, type?: TensorType): RawTensor | undefined;
}

/** The largest file read whole (.npy, .bin): typed arrays and Buffers stop at 2 GiB. */
const MAX_FILE_BYTES = 2 ** 31 - 1;

const exists = (p: string): boolean => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/** A folder of NAME.npy / NAME.bin files (`run --inputs`, `%load`): each confined to the folder, regular files only. */
export class DirectorySource implements WeightSource {
  private realDir?: string;
  constructor(readonly dir: string) {}
  describe(): string { return this.dir; }
  /** The real path of DIR/file, refused when it leaves the folder or is not a regular file. */
  path(file: string): string {
    this.realDir ??= realFolder(this.dir, "inputs folder");
    return confinedFile(this.realDir, file, join(this.dir, file), "the inputs folder");
  }
  find(name: string, type?: TensorType): RawTensor | undefined {
    const npy = join(this.dir, `${name}.npy`), bin = join(this.dir, `${name}.bin`);
    if (exists(npy)) {
      // a .npy header is small: a file much larger than the parameter's data is refused unread
      const max = type ? elementCount(type.shape) * 8 + (1 << 20) : MAX_FILE_BYTES;
      return parseNpy(readWholeFile(this.path(`${name}.npy`), Math.min(max, MAX_FILE_BYTES), npy), npy);
    }
    if (exists(bin)) {
      const path = this.path(`${name}.bin`);
      if (type) {
        const need = elementCount(type.shape) * bytesPerElement(type.precision), size = statSync(path).size;
        if (size !== need) throw new InputError(`${bin}: '${name}' holds ${size} bytes, but a ${type.precision} tensor of shape ${shapeToString(type.shape)} needs ${need} bytes`);
      }
      return { precision: "raw" as never, shape: undefined, bytes: readWholeFile(path, MAX_FILE_BYTES, bin), source: bin };
    }
    return undefined;
  }
}

export type { Manifest, ManifestEntry };

/**
 * A model folder: manifest.json maps names to byte ranges of weight files. The constructor checks
 * the manifest's structure, confines every file to the folder and checks every range against its
 * file; `find` reads one tensor's range and (by default) checks its sha256. A stamp in the cache
 * records a folder whose tensors all matched, so loading it again unchanged hashes nothing.
 */
export class ManifestSource implements WeightSource {
  readonly manifest: Manifest;
  /** The tensors by name (a Map: names such as `__proto__` are plain data). */
  readonly entries: Map<string, ManifestEntry>;
  readonly realDir: string;
  readonly verify: boolean;
  /** Bytes hashed by this source so far: 0 after a load that a verified stamp made free. */
  hashedBytes = 0;
  private readonly paths = new Map<string, string>();
  private readonly verified = new Set<string>();
  private readonly stamp?: VerifiedStamp;
  private readonly stampValid: boolean = false;

  constructor(readonly dir: string, opts: { verify?: boolean } = {}) {
    this.verify = opts.verify ?? true;
    this.realDir = realFolder(dir, "model folder");
    const shown = this.describe();
    if (!exists(join(this.realDir, "manifest.json"))) throw new InputError(`${dir}: not a model folder (no manifest.json)`);
    const bytes = readWholeFile(confinedFile(this.realDir, "manifest.json", shown), MANIFEST_MAX_BYTES, shown);
    ({ manifest: this.manifest, entries: this.entries } = checkManifest(parseJson(bytes.toString("utf8"), shown), shown));
    const identities = new Map<string, FileIdentity>();
    for (const [name, e] of this.entries) {
      let real = this.paths.get(e.file);
      if (!real) {
        real = confinedFile(this.realDir, e.file, `${shown}: tensors.${name}.file`);
        this.paths.set(e.file, real);
        identities.set(relative(this.realDir, real), identityOf(statSync(real)));
      }
      const size = identities.get(relative(this.realDir, real))!.size;
      if (e.offset + e.nbytes > size) throw new InputError(`${join(dir, e.file)}: truncated: tensor '${name}' needs bytes ${e.offset}..${e.offset + e.nbytes}, the file has ${size}`);
      if (this.verify && e.sha256 === undefined) throw new InputError(`${shown}: tensors.${name}.sha256 is missing, so the tensor cannot be verified (--no-verify loads it unchecked)`);
    }
    if (this.verify) {
      this.stamp = new VerifiedStamp(this.realDir, createHash("sha256").update(bytes).digest("hex"), identities);
      this.stampValid = this.stamp.valid();
      if (this.stampValid) for (const name of this.entries.keys()) this.verified.add(name);
    }
  }

  describe(): string { return join(this.dir, "manifest.json"); }

  has(name: string): boolean { return this.entries.has(name); }

  find(name: string, type?: TensorType): RawTensor | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (type && elementCount(e.shape) !== elementCount(type.shape)) {
      throw new InputError(`${this.describe()}: tensors.${name}.shape is ${shapeToString(e.shape)}, but the model declares ${shapeToString(type.shape)}`);
    }
    const shownFile = join(this.dir, e.file);
    const bytes = readRange(this.paths.get(e.file)!, e.offset, e.nbytes, shownFile, `tensor '${name}'`);
    if (this.verify && !this.verified.has(name)) {
      this.hashedBytes += bytes.byteLength;
      this.check(name, e, createHash("sha256").update(bytes).digest("hex"));
    }
    return { precision: e.dtype, shape: e.shape, bytes, source: `${shownFile}[${name}]` };
  }

  /**
   * Check the tensors `find` has not read (streamed, 1 MiB at a time) and record the folder as
   * verified, so that the next load of it unchanged hashes nothing.
   */
  finishVerification(): void {
    if (!this.verify || this.stampValid) return;
    for (const [name, e] of this.entries) {
      if (this.verified.has(name)) continue;
      this.hashedBytes += e.nbytes;
      this.check(name, e, hashRange(this.paths.get(e.file)!, e.offset, e.nbytes, join(this.dir, e.file), `tensor '${name}'`));
    }
    this.stamp!.write();
  }

  private check(name: string, e: ManifestEntry, hash: string): void {
    if (hash !== e.sha256) {
      throw new InputError(`${join(this.dir, e.file)}: tensor '${name}' does not match its sha256 in manifest.json (${hash.slice(0, 12)}…, expected ${e.sha256!.slice(0, 12)}…): the file is corrupted or was modified (--no-verify loads it anyway)`);
    }
    this.verified.add(name);
  }
}

/**
 * Bind one parameter: from the source when it has the name, otherwise filled with `fill`
 * (the prototype filled unbound parameters with 0.5). Raw .bin files hold the parameter's own precision.
 */
export function bindParam(name: string, type: TensorType, source: WeightSource | undefined, fill: number | undefined, span?: Span): TensorView {
  let raw: RawTensor | undefined;
  try {
    raw = source?.find(name, type);
  } catch (e) {
    // located at the parameter when there is one (`run`); a bare InputError names the file and field
    if (e instanceof InputError && !span) throw e;
    throw new RuntimeFault(span, (e as Error).message);
  }
  if (raw) {
    if ((raw.precision as string) === "raw") raw = { ...raw, precision: type.precision };
    return bindRaw(raw, type, name, span);
  }
  if (fill === undefined) throw new RuntimeFault(span, `no weight named '${name}' in ${source?.describe() ?? "the inputs"}`);
  const t = allocTensor(type);
  const v = encoder(type.precision)(fill);
  t.data.fill(v as never);
  return t;
}

export function defaultInputsDir(file: string): string {
  return join(dirname(file), "weights");
}

/**
 * Where `run` and `profile` read a program's parameters: the folder given with --inputs, which must
 * be one, or else weights/ beside the last source file when it exists (without it, every parameter
 * is the fill value). A folder with a manifest.json is a model folder.
 */
export function inputsSource(inputs: string | undefined, lastFile: string, verify = true): WeightSource | undefined {
  const dir = inputs ?? defaultInputsDir(lastFile);
  if (inputs !== undefined && !(existsSync(dir) && statSync(dir).isDirectory()))
    throw new InputError(`--inputs ${dir}: ${existsSync(dir) ? "not a folder" : "no such folder"}`);
  if (!existsSync(dir)) return undefined;
  return existsSync(join(dir, "manifest.json")) ? new ManifestSource(dir, { verify }) : new DirectorySource(dir);
}

export type { StorageArray };
