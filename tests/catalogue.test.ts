// The intrinsic catalogue is the one place an intrinsic is described: every row has a row in
// docs/language.md's intrinsics table, forms consistent with its arity, an example that uses it,
// and the generator's coverage. (That every back end renders every pure function is checked by
// the type checker: their tables are typed Record<IR.PureFn, ...>.)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { INTRINSIC_LIST, intrinsic, PURE_TYPING } from "../compiler/intrinsics.js";
import { checkSource } from "../compiler/checker.js";
import { INTRINSIC_COVERAGE } from "./gen/random-programs.js";
import { repoRoot } from "./helpers/examples.js";

const docs = readFileSync(join(repoRoot(), "docs", "language.md"), "utf8");
const section = docs.slice(docs.indexOf("## 6. Intrinsics"), docs.indexOf("## 7. Statements"));
const documented = new Set<string>();
for (const line of section.split("\n")) {
  const m = /^\| ([^|]+) \|/.exec(line);
  if (m) for (const name of m[1].matchAll(/`([A-Z_]+)`/g)) documented.add(name[1]);
}

test("docs/language.md's intrinsics table has a row for every intrinsic, and no other", () => {
  const names = INTRINSIC_LIST.map((i) => i.name);
  assert.equal(names.filter((n) => !documented.has(n)), [], "undocumented");
  assert.equal([...documented].filter((n) => !intrinsic(n)), [], "documented but not in the catalogue");
});

test("each row's forms agree with its arity", () => {
  for (const { name, row } of INTRINSIC_LIST) {
    for (const form of row.forms) {
      const m = /^([A-Z_]+)\((.*)\)(;?)$/.exec(form);
      assert.ok(m && m[1] === name, `${name}: form '${form}'`);
      const n = m![2].split(",").length;
      if (m![3]) assert.ok(row.statement?.includes(n), `${name}: statement form '${form}' has ${n} arguments, arity ${row.statement}`);
      else assert.is(n, row.expression?.arity, `${name}: expression form '${form}'`);
    }
    if (row.expression) assert.ok(row.expression.fn in PURE_TYPING, `${name}: no typing rule for ${row.expression.fn}`);
  }
});

test("arity comes from the catalogue: a wrong count is refused with the counts it lists", () => {
  const src = (body: string) => `type V = Tensor<f32, {4}, TileReg>;\nkernel k(V a, V b) { ${body} }\n`;
  const message = (body: string) => checkSource("a.ta", src(body)).diagnostics.items.map((d) => d.message).join("; ");
  assert.match(message("SOFTMAX(a, b, a);"), /SOFTMAX takes 1 or 2 arguments, got 3/);
  assert.match(message("LOOKUP(a, b);"), /LOOKUP takes 3 arguments, got 2/);
  assert.match(message("a = SUM(a, b);"), /SUM\(x\) in an expression takes 1 argument, got 2 \(the two-argument SUM\(dst, src\) is a statement\)/);
  assert.match(message("a = MAXIMUM(a);"), /MAXIMUM takes 2 arguments, got 1/);
});

test("the random-program generator covers every intrinsic that computes something", () => {
  for (const { name } of INTRINSIC_LIST) if (name !== "SYNC") assert.ok(INTRINSIC_COVERAGE[name].length > 0, name);
});

test.run();
