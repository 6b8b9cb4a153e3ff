// Tensor types: precision, static shape, memory space and layout.

export type Precision = "f32" | "f16" | "bf16" | "int8" | "int32";
export type Space = "Global" | "L1" | "Shared" | "TileReg";
export type Layout = { kind: "RowMajor" } | { kind: "ColMajor" } | { kind: "Tiled"; rows: number; cols: number };

export const PRECISIONS: readonly Precision[] = ["f32", "f16", "bf16", "int8", "int32"];
export const SPACES: readonly Space[] = ["Global", "L1", "Shared", "TileReg"];
export const LAYOUTS = ["RowMajor", "ColMajor", "Tiled"] as const;

export const MAX_RANK = 4;

export interface TensorType {
  /** The type's declared name, for messages ("" for a type written inline). */
  name: string;
  precision: Precision;
  shape: number[];
  space: Space;
  layout: Layout;
}

/** What arithmetic an expression is computed in: f32 for any float operand, i32 otherwise. */
export type ComputeKind = "f32" | "i32";

export const isFloat = (p: Precision): boolean => p === "f32" || p === "f16" || p === "bf16";
export const computeKindOf = (p: Precision): ComputeKind => (isFloat(p) ? "f32" : "i32");
export const bytesPerElement = (p: Precision): number => (p === "f32" || p === "int32" ? 4 : p === "int8" ? 1 : 2);

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function shapeToString(shape: readonly number[]): string {
  return `{${shape.join(", ")}}`;
}

export function layoutToString(l: Layout): string {
  return l.kind === "Tiled" ? `Tiled(${l.rows}x${l.cols})` : l.kind;
}

export function typeToString(t: TensorType): string {
  return `Tensor<${t.precision}, ${shapeToString(t.shape)}, ${t.space}, ${layoutToString(t.layout)}>`;
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** numpy broadcasting of two shapes, or undefined when they are incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Row-major strides (in elements) of a shape. */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/**
 * Strides of a tensor's storage. Row-major and Tiled store elements in logical row-major order
 * (a Tiled layout changes how compiled code blocks its loops and packs weights, not what an
 * index means); ColMajor reverses the axis order.
 */
export function storageStrides(type: { shape: readonly number[]; layout: Layout }): number[] {
  if (type.layout.kind !== "ColMajor") return rowMajorStrides(type.shape);
  const s = new Array(type.shape.length);
  let acc = 1;
  for (let i = 0; i < type.shape.length; i++) { s[i] = acc; acc *= type.shape[i]; }
  return s;
}
