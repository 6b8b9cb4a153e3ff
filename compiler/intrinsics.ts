// The catalog of intrinsics: names, forms and one-line documentation. The checker uses it for
// arity, the Jupyter kernel for completion and inspection, docs/language.md mirrors it.
// What each intrinsic computes is defined once, in interpreter/ops.ts.

export interface IntrinsicInfo {
  name: string;
  forms: string[]; // statement and expression forms
  summary: string;
}

export const INTRINSICS: IntrinsicInfo[] = [
  { name: "LOAD", forms: ["LOAD(dst, src);"], summary: "Copy src into dst, a TileReg tensor of the same shape." },
  { name: "STORE", forms: ["STORE(dst, src);"], summary: "Copy the TileReg tensor src out to dst (Global memory), same shape." },
  { name: "MMUL", forms: ["MMUL(acc, A, B);"], summary: "acc += A·B (matrix×matrix, matrix×vector or vector×matrix). acc, A and B must be TileReg. f32/f16/bf16 operands accumulate in f32; int8/int32 operands into an int32 acc." },
  { name: "MADD", forms: ["MADD(acc, A, B, C);"], summary: "acc += A·B + C, with MMUL's rules; C broadcasts to acc's shape." },
  { name: "REDUCE", forms: ["REDUCE(x);", "REDUCE(dst, src);"], summary: "REDUCE(x) prints the sum of all elements of x (%.6g). REDUCE(dst, src) writes that sum into every element of dst." },
  { name: "SUM", forms: ["SUM(dst, src);", "SUM(x)"], summary: "Sum along the last axis. The expression keeps the axis with length 1; dst may drop it." },
  { name: "MAX", forms: ["MAX(dst, src);", "MAX(x)"], summary: "Maximum along the last axis. The expression keeps the axis with length 1; dst may drop it." },
  { name: "MEAN", forms: ["MEAN(dst, src);", "MEAN(x)"], summary: "Mean along the last axis. The expression keeps the axis with length 1; dst may drop it." },
  { name: "SOFTMAX", forms: ["SOFTMAX(x);", "SOFTMAX(dst, src);", "SOFTMAX(x)"], summary: "Softmax along the last axis, numerically stable: exp(x - max) / sum." },
  { name: "LOOKUP", forms: ["LOOKUP(dst, table, idx);"], summary: "Embedding lookup: dst = table[idx] for an int32 idx of shape {} or {1}; for idx {N}, dst {N, D} gets N rows." },
  { name: "EXP", forms: ["EXP(x);", "EXP(dst, src);", "EXP(x)"], summary: "Elementwise e^x (in place as a statement)." },
  { name: "LOG", forms: ["LOG(x);", "LOG(x)"], summary: "Elementwise natural logarithm." },
  { name: "SQRT", forms: ["SQRT(x);", "SQRT(dst, src);", "SQRT(x)"], summary: "Elementwise square root (in place as a statement)." },
  { name: "TANH", forms: ["TANH(x);", "TANH(x)"], summary: "Elementwise hyperbolic tangent." },
  { name: "ABS", forms: ["ABS(x);", "ABS(x)"], summary: "Elementwise absolute value." },
  { name: "MAXIMUM", forms: ["MAXIMUM(a, b)"], summary: "Elementwise maximum of two operands, with broadcasting." },
  { name: "MINIMUM", forms: ["MINIMUM(a, b)"], summary: "Elementwise minimum of two operands, with broadcasting." },
  { name: "TRANSPOSE", forms: ["TRANSPOSE(dst, src);", "TRANSPOSE(x)"], summary: "2-D transpose: dst has src's shape swapped." },
  { name: "ACT", forms: ["ACT(x, kind);", "ACT(x, kind)"], summary: "Activation, in place as a statement. kind: GELU or 1 (tanh form, GPT-2's gelu_new), GELU_ERF or 3 (exact), SILU or 2, RELU or 4." },
  { name: "CAUSAL_MASK", forms: ["CAUSAL_MASK(x, offset);"], summary: "Set x[..., i, j] to -infinity where j - i > offset (for a vector, i = 0): the causal mask of a score tile whose first key is `offset` positions after its first query." },
  { name: "SYNC", forms: ["SYNC(x);"], summary: "A barrier on x. Nothing to do on a CPU." },
];

export const INTRINSIC_NAMES = new Set(INTRINSICS.map((i) => i.name));

export const ACT_KINDS: Record<string, "gelu_tanh" | "gelu_erf" | "silu" | "relu"> = {
  GELU: "gelu_tanh", GELU_TANH: "gelu_tanh", GELU_ERF: "gelu_erf", SILU: "silu", RELU: "relu",
};
export const ACT_CODES: Record<number, "gelu_tanh" | "gelu_erf" | "silu" | "relu"> = { 1: "gelu_tanh", 2: "silu", 3: "gelu_erf", 4: "relu" };

export const KEYWORDS = ["kernel", "type", "const", "target", "batch", "step", "Tensor"];
/** Names every program can use: INF (+infinity) and the activation kinds. */
export const BUILTIN_CONSTS: Record<string, number> = { INF: Infinity };
