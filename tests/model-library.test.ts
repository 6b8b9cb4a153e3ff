// The model libraries (family file + precision kernels + models/common/) against their weight tables
// (models/<arch>/weights.json): every weight parameter of `forward` has exactly one row, every row
// names a parameter, with the row's type and rank; int8 scale parameters belong to int8 rows. The
// libraries are checked with a model.ta written from the table itself (both architectures, every
// dtype the host instantiates, prefill and decode ROWS) and, for GPT-2, with the committed
// models/embedded folder that convert wrote, whose manifest shapes must equal the table's dims.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { Session } from "../runtime/session.js";
import { CausalLM, EMBEDDED_MODEL, FAMILY_LIBRARY, libraryConsts, libraryFiles, librarySources, STATE_PARAMS, weightTable, WeightRow } from "../models/causal-lm.js";
import { BACKENDS } from "../backends/index.js";
import { buildReport, RawProfile } from "../runtime/profile.js";

const CONSTS: Record<string, Record<string, number>> = {
  gpt2: { VOCAB: 40, N_CTX: 32, D_MODEL: 24, N_HEAD: 2, HEAD_DIM: 12, N_LAYER: 2, D_FF: 48, LN_EPS: 1e-5, GELU_TANH: 1 },
  // HEAD_DIM * N_HEAD != D_MODEL (as Gemma's head_dim allows), a sliding window shorter than N_CTX
  llama: { VOCAB: 40, N_CTX: 32, D_MODEL: 32, N_HEAD: 4, N_KV_HEAD: 2, HEAD_DIM: 12, N_LAYER: 2, D_FF: 48, RMS_EPS: 1e-6,
           GATE_ACT: 2, RMS_OFFSET: 0, EMB_SCALE: 1, ROT_DIM: 12, QK_NORM: 1,
           N_ROPE: 2, SANDWICH: 1, ATTN_SCALAR: 10, ATTN_SOFTCAP_ON: 1, ATTN_SOFTCAP: 50, FINAL_SOFTCAP_ON: 1, FINAL_SOFTCAP: 30,
           RESID_SCALE: 0.5, LOGITS_SCALING_ON: 1, LOGITS_SCALING: 4, ROPE_SETS: 2, ROPE_LONG_AFTER: 16 },
  // partial rotary: ROT_DIM < HEAD_DIM
  gpt_neox: { VOCAB: 40, N_CTX: 32, D_MODEL: 24, N_HEAD: 2, HEAD_DIM: 12, N_LAYER: 2, D_FF: 48, LN_EPS: 1e-5, ROT_DIM: 4, MLP_ACT: 3, PARALLEL: 1 },
};

/**
 * A model.ta for these consts as docs/model-folder.md specifies it: one type per table type; for
 * int8, the int8 rows are int8, a row with a dtype (the int32 windows) has it, everything else f32, and each scale type is f32 {N_LAYER, OUT} for
 * a stacked matrix or {ROWS_OF_TABLE} for an embedding.
 */
function modelTa(table: WeightRow[], consts: Record<string, number>, dtype: "f32" | "int8"): string {
  const lines = Object.entries(consts).map(([k, v]) => `const ${k} = ${Number.isInteger(v) && !k.endsWith("EPS") ? v : v.toExponential()};`);
  const seen = new Set<string>();
  const type = (name: string, prec: string, dims: string[], space: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    lines.push(`type ${name} = Tensor<${prec}, {${dims.join(", ")}}, ${space}, RowMajor>;`);
  };
  for (const r of table) type(r.type, r.dtype ?? (dtype === "int8" && r.int8_scale ? "int8" : "f32"), r.dims, r.space);
  for (const r of table) if (r.slice_type) type(r.slice_type, r.dtype ?? "f32", r.dims.slice(1), r.space);
  if (dtype === "int8") {
    for (const r of table) if (r.int8_scale) type(r.int8_scale, "f32", r.dims.length === 3 ? [r.dims[0], r.dims[2]] : [r.dims[0]], "Global");
  }
  return lines.join("\n") + "\n";
}

function check(arch: string, modelSource: SourceFile, rows: number, dtype: string): IR.Program {
  const files = libraryFiles(arch, dtype).map((f) => new SourceFile(f, readFileSync(f, "utf8")));
  return new Session().check([modelSource, new SourceFile("rows", `const ROWS = ${rows};\n`), ...files]);
}

/** What is wrong between a checked library and a weight table (empty: they agree). */
function tableProblems(program: IR.Program, table: WeightRow[]): string[] {
  const problems: string[] = [];
  const forward = program.kernelByName.get("forward");
  if (!forward) return ["the library has no kernel 'forward'"];
  const params = new Map(forward.params.map((p) => [p.name, p]));
  const scaleOf = new Map(table.filter((r) => r.int8_scale).map((r) => [`${r.name}_scale`, r]));
  for (const p of forward.params) {
    if (STATE_PARAMS.has(p.name)) continue;
    const rows = table.filter((r) => r.name === p.name);
    const scaled = scaleOf.get(p.name);
    if (scaled) {
      if (p.type.name !== scaled.int8_scale) problems.push(`${p.name}: type ${p.type.name}, the table's int8_scale is ${scaled.int8_scale}`);
      continue;
    }
    if (rows.length !== 1) { problems.push(`${p.name}: ${rows.length} rows in the table`); continue; }
    const r = rows[0];
    if (p.type.name !== r.type) problems.push(`${p.name}: type ${p.type.name}, the table says ${r.type}`);
    if (p.type.shape.length !== r.dims.length) problems.push(`${p.name}: rank ${p.type.shape.length}, the table's dims have ${r.dims.length}`);
  }
  for (const r of table) if (!params.has(r.name)) problems.push(`row ${r.name}: not a parameter of forward`);
  // the other entry the host runs takes weights only from forward's
  for (const p of program.kernelByName.get("attention_probs")?.params ?? []) {
    if (!STATE_PARAMS.has(p.name) && !params.has(p.name)) problems.push(`attention_probs: ${p.name} is not a parameter of forward`);
  }
  return problems;
}

// one architecture per library: the others instantiate the same files with the same table
const LIBRARY_ARCHS = [...new Set(Object.values(FAMILY_LIBRARY))];

test("every architecture's library has a weight table that lists it", () => {
  for (const [arch, lib] of Object.entries(FAMILY_LIBRARY)) {
    const json = JSON.parse(readFileSync(join(EMBEDDED_MODEL, "..", lib, "weights.json"), "utf8"));
    assert.ok(arch in json.model_types, `${lib}/weights.json: model_types lacks ${arch}`);
    assert.equal(weightTable(arch), json.weights);
  }
});

test("each library's weights.json lists the consts its files read from model.ta, and each is needed", () => {
  for (const arch of LIBRARY_ARCHS) {
    const listed = libraryConsts(arch);
    assert.equal([...listed].sort(), Object.keys(CONSTS[arch]).sort(), arch);
    const table = weightTable(arch);
    for (const name of listed) {  // a model.ta without it does not check
      const { [name]: _, ...rest } = CONSTS[arch];
      let error = "";
      try {
        check(arch, new SourceFile("model.ta", modelTa(table, rest, "f32")), 1, "f32");
      } catch (e) {
        error = String((e as Error).message);
      }
      assert.ok(error.includes(name), `${arch}: model.ta without ${name}: ${error || "still checks"}`);
    }
  }
});

for (const arch of LIBRARY_ARCHS) {
  for (const dtype of ["f32", "int8"] as const) {
    test(`${arch} (${dtype}): the library's forward and the weight table agree, prefill and decode`, () => {
      const table = weightTable(arch);
      const src = new SourceFile("model.ta", modelTa(table, CONSTS[arch], dtype));
      for (const rows of [1, 16]) assert.equal(tableProblems(check(arch, src, rows, dtype), table), [], `ROWS = ${rows}`);
    });
  }
  test(`${arch}: rows are well formed`, () => {
    const table = weightTable(arch);
    assert.is(new Set(table.map((r) => r.name)).size, table.length, "one row per name");
    for (const r of table) {
      assert.ok((r.hf === undefined) !== (r.computed === undefined), `${r.name}: an HF name or computed`);
      const stacked = r.hf?.includes("{layer}") ?? false;
      if (!r.computed) assert.is(stacked, r.dims[0] === "N_LAYER", `${r.name}: {layer} in the HF name exactly when stacked on N_LAYER`);
      if (r.transpose) assert.ok(stacked && r.dims.length === 3, `${r.name}: only stacked matrices are transposed`);
      // convert copies the tied row's tensor, so that row comes first
      if (r.tied_to) {
        const j = table.findIndex((t) => t.name === r.tied_to);
        assert.ok(j >= 0 && j < table.indexOf(r), `${r.name}: tied_to names an earlier row`);
      }
      if (r.rows) assert.is(r.rows, r.dims[0], `${r.name}: rows caps the first axis`);
      if (r.per_head) assert.ok(r.fused && stacked, `${r.name}: per_head reorders a stacked fused projection`);
      if (r.absent) {
        assert.ok(stacked && r.dims.length === 2, `${r.name}: only per-layer vectors may be absent`);
        assert.ok(r.absent === "zeros" || (r.absent === "ones" && r.name.endsWith("_norm")), `${r.name}: biases are absent as zeros, norms as ones`);
      }
      if (r.only) assert.ok(r.absent && r.only.every((t) => FAMILY_LIBRARY[t] === arch), `${r.name}: "only" names model types of this library, and the others get the absent fill`);
      for (const [t, name] of Object.entries(r.hf_for ?? {})) {
        assert.ok(FAMILY_LIBRARY[t] === arch && name.includes("{layer}") === stacked, `${r.name}: hf_for ${t} is a model type of this library, stacked alike`);
      }
    }
  });
}

test("gpt2: the committed embedded folder (written by convert) checks with the library, and its shapes are the table's", () => {
  const table = weightTable("gpt2");
  const manifest = JSON.parse(readFileSync(join(EMBEDDED_MODEL, "manifest.json"), "utf8"));
  const program = new Session().check(librarySources(EMBEDDED_MODEL, 16, "gpt2", manifest.dtype));
  assert.equal(tableProblems(program, table), []);
  const forward = program.kernelByName.get("forward")!;
  const consts = program.consts;
  const evalDims = (d: string) => Function(`return Math.trunc(${d.replace(/[A-Z_][A-Z0-9_]*/g, (n) => String(consts.get(n)))})`)() as number;
  for (const r of table) {
    const p = forward.params.find((q) => q.name === r.name)!;
    assert.equal(p.type.shape, r.dims.map(evalDims), r.name);
    assert.equal(manifest.tensors[r.name].shape, p.type.shape, r.name);
  }
});

test("tableProblems catches a missing row, an unknown row, a wrong type and a wrong rank", () => {
  const table = weightTable("llama");
  const program = check("llama", new SourceFile("model.ta", modelTa(table, CONSTS.llama, "f32")), 1, "f32");
  const edited = table
    .filter((r) => r.name !== "w_v")
    .map((r) => (r.name === "w_q" ? { ...r, type: "KVWeight" } : r.name === "rmsf_g" ? { ...r, dims: ["N_LAYER", "D_MODEL"] } : r));
  edited.push({ name: "w_extra", hf: "model.extra.weight", type: "ModelVec", dims: ["D_MODEL"], space: "Global" });
  assert.equal(tableProblems(program, edited), [
    "w_q: type QWeight, the table says KVWeight",
    "w_v: 0 rows in the table",
    "w_v_scale: 0 rows in the table",
    "rmsf_g: rank 1, the table's dims have 2",
    "row w_extra: not a parameter of forward",
  ]);
});

test("a prompt's whole chunks run in the prefill instantiation and a short last chunk as decode steps, on both back ends", async () => {
  const forwardCalls = (raw: RawProfile | undefined) => buildReport(raw!).kernels.find((k) => k.kernel === "forward")?.calls ?? 0;
  for (const backend of ["interp", "eigen"] as const) {
    const m = await CausalLM.load(EMBEDDED_MODEL, { backend, profile: true });
    const { prefillRows: rows, decodeTail } = BACKENDS[backend];
    // [prompt length, chunked, prefill forward calls, decode steps]
    const cases: [number, boolean, number, number][] = [
      [1, false, 0, 1], [decodeTail, false, 0, decodeTail], [decodeTail + 1, false, 1, 0],
      [rows, false, 1, 0], [rows + 2, false, 1, 2], [3, true, 1, 0],
      [m.nCtx - 1, false, 1, 0], // its padded chunk would fit exactly: one call of forward for every chunk
    ];
    for (const [n, chunked, prefills, decodes] of cases) {
      m.resetProfiles();
      const logits = m.prefill(Array.from({ length: n }, (_, i) => 100 + i), { chunked });
      const p = m.profiles();
      const what = `${backend}, ${n} tokens${chunked ? ", chunked" : ""}`;
      assert.is(forwardCalls(p.prefill), prefills, `${what}: prefill calls`);
      assert.is(forwardCalls(p.decode), decodes, `${what}: decode steps`);
      assert.is(m.length, n, what);
      assert.ok(logits.every(Number.isFinite), what);
    }
  }
});

test.run();
