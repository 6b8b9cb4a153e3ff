// Storage rules of the five precisions. This is the single definition of rounding and
// saturation; the C++ back end emits the same rules (see docs/language.md, "Precisions").
//   f32          IEEE binary32.
//   f16, bf16    16-bit storage, rounded to nearest-even on every store; arithmetic in f32.
//   int8, int32  integer storage; stores of floats round to nearest-even, then saturate
//                (NaN stores 0); int8 also saturates stores of integers.

import { Precision } from "../compiler/types.js";

export type StorageArray = Float32Array | Uint16Array | Int8Array | Int32Array;
export type ComputeArray = Float32Array | Int32Array;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 value → bf16 bits, round to nearest-even; NaN stays a quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** f32 value → IEEE binary16 bits, round to nearest-even, overflow to infinity. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: still correct
  return sign | h;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 0x1f) v = mant ? NaN : Infinity;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    t[h] = sign * v;
  }
  return t;
})();

export const f16BitsToF32 = (h: number): number => F16_TABLE[h];

/** Round half to even, as C's nearbyint in the default rounding mode. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function toInt32(x: number): number {
  if (Number.isNaN(x)) return 0;
  const r = roundHalfEven(x);
  return r > 2147483647 ? 2147483647 : r < -2147483648 ? -2147483648 : r;
}

export function toInt8(x: number): number {
  if (Number.isNaN(x)) return 0;
  const r = roundHalfEven(x);
  return r > 127 ? 127 : r < -128 ? -128 : r;
}

export function allocStorage(p: Precision, count: number, shared = false): StorageArray {
  const bytes = count * (p === "f32" || p === "int32" ? 4 : p === "int8" ? 1 : 2);
  const buf = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  switch (p) {
    case "f32": return new Float32Array(buf);
    case "f16": case "bf16": return new Uint16Array(buf);
    case "int8": return new Int8Array(buf);
    case "int32": return new Int32Array(buf);
  }
}

/** A view of raw little-endian bytes as a storage array of precision p (copies if misaligned). */
export function storageFromBytes(p: Precision, bytes: Uint8Array): StorageArray {
  const size = p === "f32" || p === "int32" ? 4 : p === "int8" ? 1 : 2;
  let b = bytes;
  if (b.byteOffset % size !== 0) b = new Uint8Array(b);
  const n = b.byteLength / size;
  switch (p) {
    case "f32": return new Float32Array(b.buffer, b.byteOffset, n);
    case "f16": case "bf16": return new Uint16Array(b.buffer, b.byteOffset, n);
    case "int8": return new Int8Array(b.buffer, b.byteOffset, n);
    case "int32": return new Int32Array(b.buffer, b.byteOffset, n);
  }
}

/** Reads element i of a storage array as a number (f16/bf16 decoded). */
export function loader(p: Precision): (a: StorageArray, i: number) => number {
  switch (p) {
    case "f16": return (a, i) => F16_TABLE[a[i]];
    case "bf16": return (a, i) => bf16BitsToF32(a[i]);
    default: return (a, i) => a[i];
  }
}

/** Converts a computed value to what element storage of precision p holds (bits for f16/bf16). */
export function encoder(p: Precision): (x: number) => number {
  switch (p) {
    case "f32": return (x) => x; // the Float32Array store rounds to nearest-even
    case "f16": return f32ToF16Bits;
    case "bf16": return f32ToBf16Bits;
    case "int8": return toInt8;
    case "int32": return toInt32;
  }
}

/** The value a store of x into precision p keeps, as a number (for tests and the docs). */
export function roundTo(p: Precision, x: number): number {
  switch (p) {
    case "f32": return Math.fround(x);
    case "f16": return F16_TABLE[f32ToF16Bits(Math.fround(x))];
    case "bf16": return bf16BitsToF32(f32ToBf16Bits(Math.fround(x)));
    case "int8": return toInt8(x);
    case "int32": return toInt32(x);
  }
}
