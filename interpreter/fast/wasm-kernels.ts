// The interpreter's large f32 products in WebAssembly SIMD (interpreter/fast/wasm/kernels.wat,
// assembled by scripts/build-assets.mjs). The kernels compute exactly what matvecF32 and matmulF64Rows
// in products.ts compute, in the same order, so results are bit-identical to matmulF32 in ops.ts; they are
// about five times faster (two f64 lanes, no bounds checks). WebAssembly reaches only its own memory,
// so the operand that is large and long-lived (a weight) lives in one shared WebAssembly.Memory, the
// heap; the small operand is copied into per-thread scratch in the same memory for each product.

import { existsSync, readFileSync } from "node:fs";
import { TensorView, toShared } from "../../runtime/tensor.js";

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB, the most a 32-bit memory can address

let compiled: WebAssembly.Module | null | undefined;
/** The compiled kernels, or null when the build step has not produced them (the caller uses TypeScript). */
function kernelModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  const file = new URL("./wasm/kernels.wasm", import.meta.url);
  compiled = existsSync(file) ? new WebAssembly.Module(readFileSync(file)) : null;
  return compiled;
}

/** One shared memory holding weights and scratch; a bump allocator (weights live as long as the process). */
export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private top = 64;
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor() {
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    this.buffers.add(this.memory.buffer);
  }

  /** Byte offset of `bytes` fresh zeroed bytes, 64-aligned, or -1 when the memory is full. */
  alloc(bytes: number): number {
    const at = Math.ceil(this.top / 64) * 64, end = at + bytes;
    if (end > MAX_PAGES * PAGE) return -1;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return at;
  }

  /** The memory's current buffer (after a grow it is a new SharedArrayBuffer over the same memory). */
  get buffer(): SharedArrayBuffer {
    const b = this.memory.buffer as unknown as SharedArrayBuffer;
    this.buffers.add(b);
    return b;
  }

  holds(b: ArrayBufferLike): boolean {
    return this.buffers.has(b);
  }
}

let heap: WasmHeap | null | undefined;
/** The process's heap, or null when the kernels are not built. */
export function wasmHeap(): WasmHeap | null {
  if (heap === undefined) heap = kernelModule() ? new WasmHeap() : null;
  return heap;
}

const byKey = new Map<string, TensorView>();

/**
 * The same tensor with its storage copied into the heap, where the interpreter's products run in
 * WebAssembly; into ordinary shared memory when there is no heap or no room left in it. The heap
 * never frees, so a `key` naming the contents (a weight file, its version and the tensor) makes a
 * second load of the same weight reuse the first copy instead of growing the heap.
 */
export function toWasmHeap(t: TensorView, key?: string): TensorView {
  const h = wasmHeap();
  if (!h || h.holds(t.data.buffer)) return h ? t : toShared(t);
  const known = key === undefined ? undefined : byKey.get(key);
  if (known && known.data.byteLength === t.data.byteLength && known.precision === t.precision) return { ...t, data: known.data };
  const at = h.alloc(t.data.byteLength);
  if (at < 0) return toShared(t);
  const Ctor = t.data.constructor as { new (b: ArrayBufferLike, offset: number, length: number): TensorView["data"] };
  const data = new Ctor(h.buffer, at, t.data.length);
  data.set(t.data as never);
  const v = { ...t, data };
  if (key !== undefined) byKey.set(key, v);
  return v;
}

interface Exports {
  row_quads(a: number, b: number, K: number, N: number, t: number, j0: number, j1: number): void;
  rows4(a: number, b: number, K: number, N: number, t: number, j0: number, j1: number): void;
  dot4(A: number, x: number, K: number, i0: number, i1: number, r: number): void;
}

/**
 * One thread's scratch for a share of a product: the copied small operand (f32), then, 64-aligned,
 * the f64 results (kind 0: one per row of A; kind 1: four rows of N column sums).
 */
function scratchLayout(kind: number, M: number, K: number, N: number): { results: number; bytes: number } {
  const results = Math.ceil((4 * (kind === 0 ? K : M * K)) / 64) * 64;
  return { results, bytes: results + (kind === 0 ? 8 * M : 32 * N) };
}

/** Scratch bytes one thread needs for a share of a product. */
export function scratchBytes(kind: number, M: number, K: number, N: number): number {
  return scratchLayout(kind, M, K, N).bytes;
}

/** The kernels instantiated on one thread over the heap's memory. */
export class WasmKernels {
  private readonly k: Exports;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.k = new WebAssembly.Instance(kernelModule()!, { env: { memory } }).exports as unknown as Exports;
  }

  /**
   * One thread's share, as runShare in parallel.ts: kind 0 (matvecF32, A in the heap) rows [lo, hi),
   * kind 1 (matmulF64Rows, B in the heap) columns [lo, hi). `scratch`: scratchBytes(...) bytes.
   */
  share(kind: number, A: Float32Array, B: Float32Array, out: Float32Array, M: number, K: number, N: number, lo: number, hi: number, scratch: number): void {
    this.stage(kind, A, B, M, K, scratch);
    this.range(kind, A, B, out, M, K, N, lo, hi, scratch);
  }

  /** Copies the small operand of a product (kind 0: the vector B; kind 1: A) into the thread's scratch. */
  stage(kind: number, A: Float32Array, B: Float32Array, M: number, K: number, scratch: number): void {
    const f32 = new Float32Array(this.memory.buffer);
    if (kind === 0) f32.set(B.subarray(0, K), scratch / 4);
    else f32.set(A.subarray(0, M * K), scratch / 4);
  }

  /** Rows (kind 0) or columns (kind 1) [lo, hi) of a product whose small operand is staged in `scratch`. */
  range(kind: number, A: Float32Array, B: Float32Array, out: Float32Array, M: number, K: number, N: number, lo: number, hi: number, scratch: number): void {
    const f64 = new Float64Array(this.memory.buffer);
    if (kind === 0) {
      const r = scratch + scratchLayout(0, M, K, N).results;
      this.k.dot4(A.byteOffset, scratch, K, lo, hi, r);
      for (let i = lo; i < hi; i++) out[i] += f64[r / 8 + i - lo];
      return;
    }
    const t = scratch + scratchLayout(1, M, K, N).results, t8 = t / 8;
    for (let i0 = 0; i0 < M; i0 += 4) {
      const rows = Math.min(4, M - i0);
      for (let r = 0; r < rows; r++) f64.fill(0, t8 + r * N + lo, t8 + r * N + hi);
      if (rows === 4) this.k.rows4(scratch + 4 * i0 * K, B.byteOffset, K, N, t, lo, hi);
      else for (let r = 0; r < rows; r++) this.k.row_quads(scratch + 4 * (i0 + r) * K, B.byteOffset, K, N, t + 8 * r * N, lo, hi);
      for (let r = 0; r < rows; r++) {
        const oo = (i0 + r) * N, to = t8 + r * N;
        for (let j = lo; j < hi; j++) out[oo + j] += f64[to + j];
      }
    }
  }
}
