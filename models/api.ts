// The public TypeScript API (docs/api.md): what notebooks and other programs import to check and
// run DSL programs, load model folders, generate text and verify against HF exports.
//   const tc = await import("<repo>/dist/models/api.js");

export { checkSource, checkSources } from "../compiler/checker.js";
export { formatDiagnostics, DiagnosticError, RuntimeFault } from "../compiler/diagnostics.js";
export { SourceFile } from "../compiler/source.js";
export { Session } from "../runtime/session.js";
export { Interpreter } from "../interpreter/interpreter.js";
export { toNumbers, allocTensor } from "../runtime/tensor.js";
export type { TensorView } from "../runtime/tensor.js";
export { parseNpy, ManifestSource, DirectorySource, bindParam } from "../runtime/weights.js";
export { CausalLM, EMBEDDED_MODEL, REPO_ROOT, LIBRARIES } from "./causal-lm.js";
export type { BackendName } from "./causal-lm.js";
export { Gpt2Tokenizer, Tokenizer, TokenizerError } from "./tokenizer.js";
export { generate } from "./generate.js";
export { GREEDY, pickToken, seededRandom, argmax, top2Gap } from "./sampling.js";
export { verifyModel, exportReferences, formatTable, cosine, maxAbsDiff, readPrompts, TOLERANCE } from "./verify.js";
export type { VerifyReport, PromptReport } from "./verify.js";
export { renderReport } from "./report.js";
export { ensureModel } from "./zoo.js";
