// Short documentation of the language's words (keywords, types, precisions, memory spaces,
// layouts, activation names), shown by Shift+Tab (engine.inspect) and by %help NAME.

import { ACT_KINDS } from "../compiler/intrinsics.js";

const WORD_DOCS: Record<string, string> = {
  kernel: "kernel NAME(T a, U b) { ... }  defines a kernel; call it at top level as NAME(x, y);",
  type: "type NAME = Tensor<precision, {dims}, Space, Layout>;  names a tensor type",
  const: "const NAME = integer expression;  a compile-time constant",
  batch: "batch(i = start..end step s) { ... }  a loop over i in [start, end)",
  step: "the stride of a batch loop: batch(i = 0..N step 4)",
  target: "target NAME { key = value; }  compilation settings for the Eigen back end",
  Tensor: "Tensor<precision, {d0, d1, ...}, Space, Layout>: precision f32|f16|bf16|int8|int32; Space Global|L1|Shared|TileReg; Layout RowMajor|ColMajor|Tiled(RxC)",
  INF: "+infinity (float)",
};
const PRECISION_DOCS: Record<string, string> = {
  f32: "32-bit IEEE float (4 bytes)", f16: "16-bit IEEE half float (2 bytes); arithmetic in f32", bf16: "bfloat16 (2 bytes); arithmetic in f32",
  int8: "8-bit signed integer (1 byte); arithmetic in int32", int32: "32-bit signed integer (4 bytes)",
};
const SPACE_DOCS: Record<string, string> = {
  Global: "main memory (the default)", L1: "a cache-resident scratch buffer", Shared: "memory shared by a kernel's lanes", TileReg: "tile registers: the operands of MMUL/MADD and LOAD/STORE",
};
const LAYOUT_DOCS: Record<string, string> = {
  RowMajor: "the last axis is stored fastest (the default)",
  ColMajor: "the first axis is stored fastest",
  Tiled: "Tiled(RxC): R×C tiles of the last two axes, each row-major, tiles in row-major order",
};
const ACT_DOCS: Record<string, string> = {
  gelu_tanh: "GELU, tanh approximation (GPT-2's)", gelu_erf: "GELU with the exact erf", silu: "SiLU: x · sigmoid(x)", relu: "ReLU: max(x, 0)",
};

/** "NAME  (kind)\n\ndoc" for a word of the language, or undefined. */
export function languageDoc(name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(WORD_DOCS, name)) return `${name}\n\n${WORD_DOCS[name]}`;
  if (Object.prototype.hasOwnProperty.call(PRECISION_DOCS, name)) return `${name}  (precision)\n\n${PRECISION_DOCS[name]}`;
  if (Object.prototype.hasOwnProperty.call(SPACE_DOCS, name)) return `${name}  (memory space)\n\n${SPACE_DOCS[name]}`;
  if (Object.prototype.hasOwnProperty.call(LAYOUT_DOCS, name)) return `${name}  (layout)\n\n${LAYOUT_DOCS[name]}`;
  if (Object.prototype.hasOwnProperty.call(ACT_KINDS, name)) return `${name}  (activation, for ACT(x, ${name}))\n\n${ACT_DOCS[ACT_KINDS[name]]}`;
  return undefined;
}
