// A generator of random, well-typed .ta programs for differential testing (interpreter vs eigen).
// Each program has one entry kernel `main_<n>` with a fixed family of parameters (every precision,
// TileReg operands for MMUL/MADD, LOOKUP tables, index scalars) and a random body built from
// statement templates filled with random expressions: every intrinsic, broadcasting, windows with
// static and dynamic starts, batch loops with static and dynamic bounds, kernel calls by view.
// Programs are fault-free by construction (indices in range, integer divisors never zero).

import type { IntrinsicName } from "../../compiler/intrinsics.js";

export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0 || 1; }
  next(): number { // mulberry32
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]; }
  chance(p: number): boolean { return this.next() < p; }
}

export type ParamInit = { kind: "float"; scale: number } | { kind: "int"; lo: number; hi: number };

export interface GenProgram {
  name: string;
  source: string;
  entry: string;
  init: Record<string, ParamInit>;
  features: Set<string>;
}

type Shape = "RC" | "CR" | "C" | "R" | "R1" | "S" | "BRC";
const FP = ["f32", "f16", "bf16"] as const;

interface Tensor { name: string; shape: Shape; float: boolean; writable: boolean }

export function generateProgram(n: number, rng: Rng): GenProgram {
  const R = rng.int(1, 5), C = rng.int(1, 6), B = rng.int(2, 3), K = rng.int(1, 5), V = rng.int(3, 6), N = rng.int(1, 3), W = rng.int(1, R);
  const features = new Set<string>();
  const f = (x: string) => features.add(x);
  const dims: Record<Shape, string> = { RC: `${R}, ${C}`, CR: `${C}, ${R}`, C: `${C}`, R: `${R}`, R1: `${R}, 1`, S: "", BRC: `${B}, ${R}, ${C}` };
  const prec = () => { const p = rng.pick(FP); f(p); return p; };
  const precOf: Record<string, string> = {};
  const types: string[] = [];
  const params: string[] = [];
  const init: Record<string, ParamInit> = {};
  const pool: Tensor[] = [];
  const addParam = (name: string, p: string, shape: string, space = "Global", ini: ParamInit = { kind: "float", scale: 2 }, t?: Tensor) => {
    types.push(`type T_${name} = Tensor<${p}, {${shape}}, ${space}>;`);
    params.push(`T_${name} ${name}`);
    init[name] = ini;
    if (t) pool.push(t);
  };
  // float tensors of every shape
  for (const [name, shape] of [["x", "RC"], ["y", "RC"], ["xt", "CR"], ["v", "C"], ["u", "R"], ["r1", "R1"], ["sc", "S"]] as const) {
    precOf[name] = prec();
    addParam(name, precOf[name], dims[shape], "Global", { kind: "float", scale: 2 }, { name, shape, float: true, writable: true });
  }
  addParam("z", "int32", dims.RC, "Global", { kind: "int", lo: -60, hi: 60 }, { name: "z", shape: "RC", float: false, writable: true });
  addParam("w8", "int8", dims.RC, "Global", { kind: "int", lo: -100, hi: 100 }, { name: "w8", shape: "RC", float: false, writable: true });
  addParam("zc", "int32", dims.C, "Global", { kind: "int", lo: -9, hi: 9 }, { name: "zc", shape: "C", float: false, writable: true });
  addParam("zs", "int32", "", "Global", { kind: "int", lo: -5, hi: 5 }, { name: "zs", shape: "S", float: false, writable: true });
  f("int32"); f("int8");
  const b3p = prec(), o3p = prec();
  addParam("b3", b3p, dims.BRC, "Global", { kind: "float", scale: 2 });
  addParam("o3", o3p, dims.BRC);
  const tabFloat = rng.chance(0.7);
  const tabP = tabFloat ? prec() : rng.pick(["int32", "int8"] as const);
  const embP = tabFloat ? prec() : rng.pick(["int32", "int8"] as const);
  addParam("tab", tabP, `${V}, ${C}`, "Global", tabFloat ? { kind: "float", scale: 2 } : { kind: "int", lo: -100, hi: 100 });
  addParam("emb", embP, `${N}, ${C}`, "Global", tabFloat ? { kind: "float", scale: 2 } : { kind: "int", lo: -5, hi: 5 });
  addParam("ids", "int32", `${N}`, "Global", { kind: "int", lo: 0, hi: V - 1 });
  const accP = prec(), taP = prec(), tbP = prec(), tvP = prec();
  addParam("ta", taP, `${R}, ${K}`, "TileReg");
  addParam("tb", tbP, `${K}, ${C}`, "TileReg");
  addParam("tv", tvP, `${K}`, "TileReg");
  addParam("acc", accP, dims.RC, "TileReg");
  addParam("accr", prec(), dims.R, "TileReg");
  addParam("accc", prec(), dims.C, "TileReg");
  addParam("ia", rng.pick(["int8", "int32"]), `${R}, ${K}`, "TileReg", { kind: "int", lo: -100, hi: 100 });
  addParam("ib", rng.pick(["int8", "int32"]), `${K}, ${C}`, "TileReg", { kind: "int", lo: -100, hi: 100 });
  addParam("iacc", "int32", dims.RC, "TileReg", { kind: "int", lo: -1000, hi: 1000 });
  // operands stored the other way round, for MMUL(…, TRANSPOSE(x)) (read transposed in place)
  addParam("tbt", prec(), `${C}, ${K}`, "TileReg");
  addParam("tat", prec(), `${K}, ${R}`, "TileReg");
  addParam("ibt", rng.pick(["int8", "int32"]), `${C}, ${K}`, "TileReg", { kind: "int", lo: -100, hi: 100 });
  addParam("ks", "int32", "", "Global", { kind: "int", lo: 0, hi: R - 1 });
  addParam("nb", "int32", "", "Global", { kind: "int", lo: 0, hi: B });
  addParam("st", "int32", "", "Global", { kind: "int", lo: 1, hi: 2 });
  // a local of the x shape, a helper kernel over RC tensors of b3/o3 precision
  types.push(`type T_loc = Tensor<${prec()}, {${dims.RC}}, Global>;`);
  types.push(`type T_h3a = Tensor<${b3p}, {${dims.RC}}, Global>;`, `type T_h3b = Tensor<${o3p}, {${dims.RC}}, Global>;`);

  const floats = (s: Shape) => pool.filter((t) => t.float && t.shape === s);
  const ints = (s: Shape) => pool.filter((t) => !t.float && t.shape === s);
  const fconst = (): string => {
    if (rng.chance(0.06)) { f("special-literal"); return rng.pick(["1e39", "1e-40", "0.0", "INF", "3.4028235e38", "1.0e-45"]); }
    return (rng.next() * 6 - 3).toFixed(rng.int(1, 3));
  };
  const iconst = (): string => (rng.chance(0.08) ? rng.pick(["2147483647", "100000", "65536"]) : String(rng.int(-9, 9))).replace(/^-(.*)$/, "(-$1)");

  /** An expression of compute kind float/int whose shape broadcasts to `target`. `lv` are loop vars in scope by dimension. */
  const expr = (target: Shape, float: boolean, depth: number, lv: Record<string, string>): string => {
    const leaf = (): string => {
      const opts: (() => string)[] = [];
      const tens = (s: Shape) => (float ? [...floats(s), ...(rng.chance(0.2) ? ints(s) : [])] : ints(s));
      const addT = (s: Shape, wrap: (n: string) => string = (n) => n) => { for (const t of tens(s)) opts.push(() => wrap(t.name)); };
      if (target === "RC") { addT("RC"); addT("C"); addT("R1"); addT("S"); if (float) opts.push(() => { f("view-index"); return `b3[${lv.B ?? rng.int(0, B - 1)}]`; }); }
      if (target === "CR") { addT("CR"); addT("S"); }
      if (target === "C") { addT("C"); addT("S"); for (const t of tens("RC")) opts.push(() => `${t.name}[${lv.R ?? (rng.chance(0.5) ? "ks" : rng.int(0, R - 1))}]`); }
      if (target === "R") { addT("R"); addT("S"); for (const t of tens("CR")) opts.push(() => `${t.name}[${rng.int(0, C - 1)}]`); }
      if (target === "R1") { addT("R1"); addT("S"); }
      if (target === "S") { addT("S"); for (const t of tens("RC")) opts.push(() => `${t.name}[${rng.int(0, R - 1)}, ${rng.int(0, C - 1)}]`); }
      if (!float && lv.R && rng.chance(0.3)) opts.push(() => { f("loopvar-value"); return lv.R; });
      opts.push(() => (float ? fconst() : iconst()));
      return rng.pick(opts)();
    };
    if (depth <= 0 || rng.chance(0.25)) return leaf();
    const sub = (t: Shape = target, fl = float) => expr(t, fl, depth - 1, lv);
    // operands of reductions, SOFTMAX and TRANSPOSE must have the full shape, not a broadcast one
    const full = (t: Shape, fl = float) => `(${rng.pick(fl ? floats(t) : ints(t)).name} + ${sub(t, fl)})`;
    const choices: (() => string)[] = [
      () => { const op = rng.pick(["+", "-", "*"]); f(`op${op}`); return `(${sub()} ${op} ${sub()})`; },
      () => `(-${sub()})`,
    ];
    if (float) {
      choices.push(
        () => { f("op/"); return `(${sub()} / ${sub()})`; },
        () => { f("op%f"); return `(${sub()} % ${sub()})`; },
        () => { const fn = rng.pick(["EXP", "LOG", "SQRT", "TANH", "ABS"]); f(fn); return fn === "EXP" ? `EXP(TANH(${sub()}))` : `${fn}(${sub()})`; },
        () => { const k = rng.pick(["GELU", "GELU_ERF", "SILU", "RELU", "1", "2", "3", "4"]); f(`ACT-${k}`); return `ACT(${sub()}, ${k})`; },
        () => { const fn = rng.pick(["MAXIMUM", "MINIMUM"]); f(fn); return `${fn}(${sub()}, ${sub()})`; },
        () => { f("int-in-float"); return `(${sub(target, false)} * ${fconst()})`; },
      );
      if (target === "RC" || target === "R1") choices.push(() => { const fn = rng.pick(["SUM", "MAX", "MEAN"]); f(fn); return `${fn}(${full("RC")})`; });
      if (target === "RC" || target === "C") choices.push(() => { f("SOFTMAX-expr"); return `SOFTMAX(${full(target)})`; });
      if (target === "RC") choices.push(() => { f("TRANSPOSE-expr"); return `TRANSPOSE(${full("CR")})`; });
      if (target === "CR") choices.push(() => { f("TRANSPOSE-expr"); return `TRANSPOSE(${full("RC")})`; });
    } else {
      choices.push(
        () => { const op = rng.pick(["/", "%"]); f(`int${op}`); return `(${sub()} ${op} (ABS(${sub()}) + 1))`; },
        () => { f("ABS-int"); return `ABS(${sub()})`; },
        () => { const fn = rng.pick(["MAXIMUM", "MINIMUM"]); f(`${fn}-int`); return `${fn}(${sub()}, ${sub()})`; },
      );
      if (target === "RC" || target === "R1") choices.push(() => { const fn = rng.pick(["SUM", "MAX"]); f(`${fn}-int`); return `${fn}(${full("RC")})`; });
    }
    return rng.pick(choices)();
  };

  const fdst = (s: Shape) => rng.pick(floats(s)).name;
  const stmts: string[] = [];
  const S = (depth = 2, lv: Record<string, string> = {}): string => {
    const t = rng.int(0, 27);
    switch (t) {
      case 0: case 1: f("assign"); return `${rng.pick(["x", "y", "y"])} = ${expr("RC", true, depth, lv)};`;
      case 2: f("assign-int"); return `${rng.pick(["z", "w8"])} = ${expr("RC", false, depth, lv)};`;
      case 3: f("float-to-int"); return `${rng.pick(["z", "w8"])} = ${expr("RC", true, depth, lv)} * ${rng.pick(["1.0", "40.5", "3e9", "0.5"])};`;
      case 4: { f("assign-vector"); const [d, sh] = rng.pick([["v", "C"], ["u", "R"], ["r1", "R1"], ["sc", "S"]] as const); return `${d} = ${expr(sh, true, depth, lv)};`; }
      case 5: { const fn = rng.pick(["SUM", "MAX", "MEAN"]); f(`${fn}-stmt`); return `${fn}(u, (x + ${expr("RC", true, depth, lv)}));`; }
      case 6: f("SOFTMAX-stmt"); return rng.chance(0.5) ? `SOFTMAX(y);` : `SOFTMAX(y, (y + ${expr("RC", true, depth, lv)}));`;
      case 7: { const fn = rng.pick(["EXP", "TANH", "ABS", "SQRT", "LOG"]); f(`${fn}-stmt`); return fn === "EXP" ? `TANH(y); EXP(y);` : `${fn}(${rng.pick(["x", "y"])});`; }
      case 8: { const k = rng.pick(["GELU", "GELU_ERF", "SILU", "RELU"]); f(`ACT-stmt-${k}`); return `ACT(${rng.pick(["x", "y"])}, ${k});`; }
      case 9: f("TRANSPOSE-stmt"); return rng.chance(0.5) ? `TRANSPOSE(xt, (x + ${expr("RC", true, depth, lv)}));` : `xt = TRANSPOSE(y) * ${fconst()};`;
      case 10: { f("CAUSAL_MASK"); const tgt = rng.pick(["y", "o3", "v", "x"]); return `CAUSAL_MASK(${tgt}, ${lv.R ?? rng.int(-2, 2)});`; }
      case 11: f("REDUCE-print"); return `REDUCE(${rng.pick(["y", "z", "w8", "x", "b3[1]", "o3", "acc", "iacc", "emb"])});`;
      case 12: f("REDUCE-assign"); return rng.chance(0.5) ? `REDUCE(${fdst(rng.pick(["S", "RC", "C"]))}, ${rng.pick(["x", "y", "b3", "z"])});` : `REDUCE(zs, ${rng.pick(["z", "w8"])});`;
      case 13: {
        f("MMUL"); f(`MMUL-${accP}`);
        const form = rng.int(0, 2);
        if (form === 1) f("MMUL-T"); else if (form === 2) f("MMUL-TA");
        return [`MMUL(acc, ta, tb);`, `MMUL(acc, ta, TRANSPOSE(tbt));`, `MMUL(acc, TRANSPOSE(tat), tb);`][form];
      }
      case 14: f("MADD"); return `MADD(acc, ${rng.chance(0.3) ? "TRANSPOSE(tat)" : "ta"}, tb, ${rng.pick(["v", "x", "sc", "r1"])});`;
      case 15: f("MMUL-mv"); return `MMUL(accr, ta, tv);`;
      case 16: f("MMUL-vm"); return `MMUL(accc, tv, tb);`;
      case 17: f("MMUL-int"); if (rng.chance(0.3)) { f("MMUL-int-T"); return `MMUL(iacc, ia, TRANSPOSE(ibt));`; } return rng.chance(0.5) ? `MMUL(iacc, ia, ib);` : `MADD(iacc, ia, ib, zc);`;
      case 18: f("LOAD-STORE"); return rng.chance(0.5) ? `STORE(y, acc);` : `LOAD(acc, ${rng.pick(["x", "y"])});`;
      case 19: f("LOOKUP"); return rng.chance(0.5) ? `LOOKUP(emb, tab, ids);` : `LOOKUP(emb[${rng.int(0, N - 1)}], tab, ids[${rng.pick(["0", `${rng.int(0, N - 1)} +: 1`])}]);`;
      case 20: { // batch over rows, static bounds
        f("batch-static");
        const body = [`y[i] = ${expr("C", true, depth, { R: "i" })};`];
        if (rng.chance(0.5)) body.push(`z[i] = ${expr("C", false, depth, { R: "i" })};`);
        if (rng.chance(0.3)) { f("batch-print"); body.push("REDUCE(y[i]);"); }
        return `batch(i = 0..${R}) { ${body.join(" ")} }`;
      }
      case 21: { // batch over B: disjoint slices, a local declared inside, maybe a call
        f("batch-B");
        const body = [`T_loc t = b3[b] * ${fconst()};`, `o3[b] = ${expr("RC", true, depth, { B: "b" })} + t;`];
        if (rng.chance(0.4)) { f("call-in-loop"); body.push("h3(b3[b], o3[b]);"); }
        if (rng.chance(0.3)) body.push("SOFTMAX(o3[b]);");
        if (rng.chance(0.3)) body.push("CAUSAL_MASK(o3[b], b);");
        return `batch(b = 0..${B}) { ${body.join(" ")} }`;
      }
      case 22: f("batch-dynamic"); return `batch(b = ${rng.pick(["0", "zs * 0"])}..nb step ${rng.pick(["1", "st"])}) { o3[b] = o3[b] * ${fconst()} + b3[b]; REDUCE(o3[b]); }`;
      case 23: f("window-dynamic"); return `batch(i = 0..${R - W + 1}) { y[i +: ${W}] = x[i +: ${W}] * ${fconst()} + ${expr("C", true, 1, {})}; }`;
      case 24: f("window-static"); return C >= 2 ? `y[:, 1 +: ${C - 1}] = x[:, 0 +: ${C - 1}] + y[:, 0 +: ${C - 1}];` : `y[0 +: 1] = x[${R - 1} +: 1];`;
      case 25: f("call"); return rng.chance(0.5) ? `h3(b3[ks % ${B}], o3[${rng.int(0, B - 1)}]);` : `hv(v, x[ks]);`;
      case 26: { f("local-init"); const l = `l${stmts.length}`; return `T_loc ${l} = ${expr("RC", true, depth, lv)}; y = ${l} * ${l} - x;`; }
      default: f("int-scalar"); return `zs = zs * ${iconst()} + ${expr("S", false, 1, lv)}; zc = zc / (ABS(zs) + 1) + SUM(z)[${rng.int(0, R - 1)}, 0];`.replace(/SUM\(z\)\[(\d+), 0\]/, "z[$1]");
    }
  };
  const count = rng.int(3, 9);
  for (let i = 0; i < count; i++) stmts.push(S());
  // make sure the outputs depend on something: a final print
  stmts.push(`REDUCE(${rng.pick(["y", "o3", "z"])});`);
  types.push(`type T_xrow = Tensor<${precOf.x}, {${C}}, Global>;`);
  const helperBody = rng.chance(0.5) ? "b = a * 0.5 + b; SOFTMAX(b);" : "b = MAXIMUM(a, b) - MEAN(a); REDUCE(b);";
  const src = [
    `// random program ${n}: R=${R} C=${C} B=${B} K=${K} V=${V} N=${N} W=${W}`,
    ...types,
    `kernel h3(T_h3a a, T_h3b b) { ${helperBody} }`,
    `kernel hv(T_v q, T_xrow r) { q = q + r * 2.0; }`,
    `kernel main_${n}(${params.join(", ")}) {`,
    ...stmts.map((s) => "  " + s),
    "}",
    "",
  ].join("\n");
  return { name: `gen${n}.ta`, source: src, entry: `main_${n}`, init, features };
}

export function generatePrograms(seed: number, count: number): GenProgram[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => generateProgram(i, rng));
}

/**
 * What the generator does with each intrinsic: the features of generated programs that exercise
 * it. Typed by the catalogue, so an intrinsic added there is a compile error here until the
 * generator covers it (tests/eigen-random.test.ts checks that every listed feature appears).
 */
export const INTRINSIC_COVERAGE: Record<IntrinsicName, string[]> = {
  LOAD: ["LOAD-STORE"], STORE: ["LOAD-STORE"],
  MMUL: ["MMUL", "MMUL-mv", "MMUL-vm", "MMUL-int", "MMUL-T", "MMUL-TA", "MMUL-int-T"], MADD: ["MADD"],
  REDUCE: ["REDUCE-print", "REDUCE-assign"],
  SUM: ["SUM", "SUM-stmt"], MAX: ["MAX"], MEAN: ["MEAN"],
  SOFTMAX: ["SOFTMAX-expr", "SOFTMAX-stmt"],
  LOOKUP: ["LOOKUP"],
  EXP: ["EXP"], LOG: ["LOG"], SQRT: ["SQRT"], TANH: ["TANH"], ABS: ["ABS"],
  MAXIMUM: ["MAXIMUM"], MINIMUM: ["MINIMUM"],
  TRANSPOSE: ["TRANSPOSE-expr", "TRANSPOSE-stmt"],
  ACT: ["ACT-GELU", "ACT-GELU_ERF", "ACT-SILU", "ACT-RELU"],
  CAUSAL_MASK: ["CAUSAL_MASK"],
  SYNC: [], // a barrier with nothing to compute on a CPU: not generated
};
