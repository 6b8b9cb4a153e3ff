// The storage rules (runtime/precision.ts) against numpy: f16/bf16 encoders, int8/int32
// saturation and float→int rounding, on ~800 float32 values including ties, subnormals,
// overflow, NaN and ±0 (tests/fixtures/examples/precision-cases.json, from
// python-ref/tools/precision_cases.py).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundHalfEven, roundTo, toInt32, toInt8 } from "../runtime/precision.js";
import { fixturesDir } from "./helpers/examples.js";

const cases = JSON.parse(readFileSync(join(fixturesDir(), "precision-cases.json"), "utf8")) as Record<string, number[]>;
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const values = cases.f32_bits.map((b) => { u32[0] = b; return f32[0]; });
const hex = (b: number) => "0x" + b.toString(16).padStart(4, "0");

function mismatches(fn: (x: number) => number, expected: number[], isNaN16?: (b: number) => boolean): string[] {
  const bad: string[] = [];
  values.forEach((x, i) => {
    const got = fn(x), want = expected[i];
    // NaN payloads may differ; any NaN is a NaN
    if (isNaN16 && isNaN16(want) && isNaN16(got)) return;
    if (!Object.is(got, want)) bad.push(`${x} (bits 0x${cases.f32_bits[i].toString(16)}): ${hex(got)} vs ${hex(want)}`);
  });
  return bad;
}

test("fixture has the interesting values", () => {
  assert.ok(values.length > 700);
  assert.ok(values.some((x) => Number.isNaN(x)) && values.some((x) => Object.is(x, -0)) && values.includes(Infinity));
});

test("f16 encoder matches numpy's float32 -> float16 cast bit for bit", () => {
  const bad = mismatches(f32ToF16Bits, cases.f16_bits, (b) => (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0);
  assert.equal(bad, [], bad.slice(0, 10).join("\n"));
});

test("bf16 encoder matches nearest-even rounding of the float32 bits", () => {
  const bad = mismatches(f32ToBf16Bits, cases.bf16_bits, (b) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0);
  assert.equal(bad, [], bad.slice(0, 10).join("\n"));
});

test("int8 and int32 stores round half to even and saturate; NaN stores 0", () => {
  const bad8 = values.map((x, i) => [x, toInt8(x), cases.int8[i]]).filter(([, a, b]) => a !== b);
  assert.equal(bad8, []);
  const bad32 = values.map((x, i) => [x, toInt32(x), cases.int32[i]]).filter(([, a, b]) => a !== b);
  assert.equal(bad32, []);
});

test("f16 and bf16 decoders invert the encoders on every finite value", () => {
  for (let h = 0; h < 65536; h++) {
    const x = f16BitsToF32(h);
    if (Number.isNaN(x)) continue;
    assert.is(f32ToF16Bits(x), h === 0x8000 ? 0x8000 : h, `f16 ${hex(h)}`);
    const y = bf16BitsToF32(h);
    if (!Number.isNaN(y)) assert.is(f32ToBf16Bits(y), h, `bf16 ${hex(h)}`);
  }
});

test("hand-checked values", () => {
  assert.is(roundTo("f16", 65504), 65504);
  assert.is(roundTo("f16", 65520), Infinity);
  assert.is(roundTo("f16", 2049), 2048);
  assert.is(roundTo("f16", 2051), 2052);
  assert.is(roundTo("f16", 2 ** -25), 0); // a tie with 0 rounds to even (0)
  assert.is(roundTo("f16", 1.5 * 2 ** -25), 2 ** -24);
  assert.is(roundTo("bf16", 257), 256);
  assert.is(roundTo("bf16", 259), 260);
  assert.is(roundTo("bf16", 1 / 3), 0.333984375);
  assert.ok(Object.is(roundTo("bf16", -0), -0) && Object.is(roundTo("f16", -0), -0));
  assert.equal([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, 1000, -1000, NaN].map(toInt8), [0, 2, 2, -0, -2, -2, 126, 127, 127, -128, 0]);
  assert.equal([2147483647.5, 3e9, -3e9, -2147483648.5, NaN, Infinity, -Infinity].map(toInt32), [2147483647, 2147483647, -2147483648, -2147483648, 0, 2147483647, -2147483648]);
  assert.equal([0.5, 1.5, 2.5, -0.5, -2.5, 3.4999].map(roundHalfEven), [0, 2, 2, -0, -2, 3]);
});

test.run();
