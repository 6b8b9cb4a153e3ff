// Binding kernel parameters to data: raw `.bin` files (the prototype's weights/*.bin), `.npy`
// files, and model folders described by a manifest.json (python-ref writes them).

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { RuntimeFault } from "../compiler/diagnostics.js";
import { Span } from "../compiler/source.js";
import { bytesPerElement, elementCount, Precision, shapeToString, TensorType } from "../compiler/types.js";
import { encoder, f16BitsToF32, bf16BitsToF32, storageFromBytes, StorageArray } from "./precision.js";
import { allocTensor, TensorView } from "./tensor.js";

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

export function parseNpy(buf: Uint8Array, source: string): RawTensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (buf.length < 10 || magic.some((m, i) => buf[i] !== m)) throw new Error(`${source}: not a .npy file (bad magic bytes)`);
  const major = buf[6];
  const hlen = major === 1 ? buf[8] | (buf[9] << 8) : buf[8] | (buf[9] << 8) | (buf[10] << 16) | (buf[11] << 24);
  const hstart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw new Error(`${source}: malformed .npy header`);
  if (fortran) throw new Error(`${source}: Fortran-ordered .npy arrays are not supported; save with np.ascontiguousarray`);
  const precision = NPY_DTYPES[descr];
  if (!precision) throw new Error(`${source}: unsupported .npy dtype '${descr}' (use float32, float16, int32 or int8)`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length).map(Number);
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
  find(name: string): RawTensor | undefined;
}

export class DirectorySource implements WeightSource {
  constructor(readonly dir: string) {}
  describe(): string { return this.dir; }
  find(name: string): RawTensor | undefined {
    const npy = join(this.dir, `${name}.npy`), bin = join(this.dir, `${name}.bin`);
    if (existsSync(npy)) return parseNpy(readFileSync(npy), npy);
    if (existsSync(bin)) {
      const bytes = readFileSync(bin);
      return { precision: "raw" as never, shape: undefined, bytes, source: bin };
    }
    return undefined;
  }
}

export interface ManifestEntry { file: string; dtype: Precision; shape: number[]; offset: number; nbytes: number; sha256?: string }
export interface Manifest { format?: string; architecture?: string; dtype?: string; tensors: Record<string, ManifestEntry> }

/** A model folder: manifest.json maps names to byte ranges of weight files (read once, shared). */
export class ManifestSource implements WeightSource {
  readonly manifest: Manifest;
  private readonly files = new Map<string, Uint8Array>();
  constructor(readonly dir: string, private readonly verify = false) {
    const path = join(dir, "manifest.json");
    if (!existsSync(path)) throw new Error(`${dir}: not a model folder (no manifest.json)`);
    try {
      this.manifest = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
    }
    if (!this.manifest || typeof this.manifest.tensors !== "object") throw new Error(`${path}: no "tensors" table`);
  }
  describe(): string { return join(this.dir, "manifest.json"); }
  find(name: string): RawTensor | undefined {
    const e = this.manifest.tensors[name];
    if (!e) return undefined;
    let file = this.files.get(e.file);
    if (!file) {
      const p = join(this.dir, e.file);
      if (!existsSync(p)) throw new Error(`${this.describe()}: weight file '${e.file}' is missing`);
      file = readFileSync(p);
      this.files.set(e.file, file);
    }
    if (e.offset + e.nbytes > file.byteLength) throw new Error(`${join(this.dir, e.file)}: truncated (tensor '${name}' needs bytes ${e.offset}..${e.offset + e.nbytes}, the file has ${file.byteLength})`);
    const bytes = file.subarray(e.offset, e.offset + e.nbytes);
    if (this.verify && e.sha256) {
      const h = createHash("sha256").update(bytes).digest("hex");
      if (h !== e.sha256) throw new Error(`${join(this.dir, e.file)}: tensor '${name}' is corrupted (sha256 ${h.slice(0, 12)}…, the manifest says ${e.sha256.slice(0, 12)}…)`);
    }
    return { precision: e.dtype, shape: e.shape, bytes, source: `${join(this.dir, e.file)}[${name}]` };
  }
}

/**
 * Bind one parameter: from the source when it has the name, otherwise filled with `fill`
 * (the prototype filled unbound parameters with 0.5). Raw .bin files hold the parameter's own precision.
 */
export function bindParam(name: string, type: TensorType, source: WeightSource | undefined, fill: number | undefined, span?: Span): TensorView {
  let raw: RawTensor | undefined;
  try {
    raw = source?.find(name);
  } catch (e) {
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

export type { StorageArray };
