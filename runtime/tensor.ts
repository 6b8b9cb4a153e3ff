// Tensors at run time: a storage array seen through an offset, a shape and strides.
// A declared tensor is a view of its whole storage; indexing and windows make narrower views.

import { ComputeKind, Precision, elementCount, storageStrides, TensorType } from "../compiler/types.js";
import { allocStorage, ComputeArray, loader, StorageArray } from "./precision.js";

export interface TensorView {
  precision: Precision;
  data: StorageArray;
  offset: number;
  shape: number[];
  strides: number[];
}

export function allocTensor(type: Pick<TensorType, "precision" | "shape" | "layout">, shared = false): TensorView {
  return {
    precision: type.precision,
    data: allocStorage(type.precision, elementCount(type.shape), shared),
    offset: 0,
    shape: [...type.shape],
    strides: storageStrides(type),
  };
}

/** True when the view's elements are consecutive in storage, in row-major order. */
export function isContiguous(v: TensorView): boolean {
  let expect = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== expect) return false;
    expect *= v.shape[i];
  }
  return true;
}

/** Storage offsets of every element of a view, in row-major order. */
export function forEachOffset(v: TensorView, fn: (storageIndex: number, i: number) => void): void {
  const rank = v.shape.length;
  const n = elementCount(v.shape);
  if (n === 0) return;
  if (rank === 0) { fn(v.offset, 0); return; }
  const idx = new Array(rank).fill(0);
  let off = v.offset;
  const last = rank - 1, lastDim = v.shape[last], lastStride = v.strides[last];
  for (let i = 0; i < n; ) {
    for (let j = 0; j < lastDim; j++, i++) fn(off + j * lastStride, i);
    // carry into the outer axes
    let a = last - 1;
    while (a >= 0) {
      idx[a]++;
      off += v.strides[a];
      if (idx[a] < v.shape[a]) break;
      off -= v.strides[a] * v.shape[a];
      idx[a] = 0;
      a--;
    }
  }
}

/** The view's values as plain numbers, row-major (for JSON output and displays). */
export function toNumbers(v: TensorView): number[] {
  const out = new Array<number>(elementCount(v.shape));
  const load = loader(v.precision);
  forEachOffset(v, (s, i) => { out[i] = load(v.data, s); });
  return out;
}

export function computeKindOfView(v: TensorView): ComputeKind {
  return v.precision === "int8" || v.precision === "int32" ? "i32" : "f32";
}

export function allocCompute(kind: ComputeKind, n: number, shared = false): ComputeArray {
  const buf = shared ? new SharedArrayBuffer(4 * n) : new ArrayBuffer(4 * n);
  return kind === "f32" ? new Float32Array(buf) : new Int32Array(buf);
}

/** The same tensor with its storage copied into shared memory (for worker threads and FFI). */
export function toShared(t: TensorView): TensorView {
  if (t.data.buffer instanceof SharedArrayBuffer) return t;
  const Ctor = t.data.constructor as { new (b: SharedArrayBuffer): StorageArray; BYTES_PER_ELEMENT: number };
  const data = new Ctor(new SharedArrayBuffer(t.data.length * Ctor.BYTES_PER_ELEMENT));
  (data as Float32Array).set(t.data as Float32Array);
  return { ...t, data };
}
