// `tensorcore compile FILE.ta [MORE.ta ...] [-o out.cpp] [--main] [--kernel NAME]`: write the C++
// for a program (stdout without -o). The file compiles on its own (the runtime is inlined):
//   g++ -std=c++17 -O3 -march=native -fopenmp -ffp-contract=off -I/usr/include/eigen3 out.cpp -o prog
// With --main it has a main() that binds each parameter of the entry kernel (NAME, or the last
// kernel of the last file) from weights/<name>.bin (missing: 0.5) and prints what REDUCE(x) prints.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { checkSources } from "../checker.js";
import { DiagnosticError } from "../diagnostics.js";
import { entryKernel } from "../entry.js";
import { SourceFile } from "../source.js";
import { BASE_FLAGS } from "./build.js";
import { emitCpp } from "./emit-cpp.js";
import { targetConfig } from "./target.js";

const usage = (message: string): DiagnosticError => new DiagnosticError([{ severity: "error", message }]);

export async function compileCommand(argv: string[]): Promise<number> {
  const files: string[] = [];
  let out: string | undefined, kernelName: string | undefined, main = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-o" || a === "--output") { out = argv[++i]; if (out === undefined) throw usage(`option '${a}' needs a value`); }
    else if (a === "--kernel") { kernelName = argv[++i]; if (kernelName === undefined) throw usage("option '--kernel' needs a value"); }
    else if (a === "--main") main = true;
    else if (a.startsWith("-") && a !== "-") throw usage(`unknown option '${a}' (compile FILE.ta [-o out.cpp] [--main] [--kernel NAME])`);
    else files.push(a);
  }
  if (!files.length) throw usage("no input file (compile FILE.ta [-o out.cpp] [--main])");
  const sources = files.map((p) => {
    if (!existsSync(p)) throw usage(`${p}: no such file`);
    return new SourceFile(p, readFileSync(p, "utf8"));
  });
  const { program, diagnostics } = checkSources(sources);
  if (diagnostics.hasErrors) throw new DiagnosticError(diagnostics.items);
  const cfg = targetConfig(program.target);
  for (const w of cfg.warnings) console.error(`warning: ${w.message}`);
  const entry = main ? entryKernel(program, kernelName) : undefined;
  if (main && !entry) throw usage("--main needs a kernel, and the program defines none");
  const unit = emitCpp(program.kernels, { selfContained: true, main: entry });
  const flags = [...BASE_FLAGS.filter((f) => f !== "-fPIC" && f !== "-w"), ...cfg.flags].join(" ");
  const text = `// build: g++ ${flags} -I/usr/include/eigen3 ${main ? "out.cpp -o prog" : "-shared -fPIC out.cpp -o out.so"}\n` + unit.code;
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
  return 0;
}
