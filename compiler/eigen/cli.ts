// `tensorcore compile FILE.ta [MORE.ta ...] [-o out.cpp] [--main] [--kernel NAME]`: write the C++
// for a program (stdout without -o). The file compiles on its own (the runtime is inlined):
//   g++ -std=c++17 -O3 -march=native -fopenmp -ffp-contract=off -I/usr/include/eigen3 out.cpp -o prog
// With --main it has a main() that binds each parameter of the entry kernel (NAME, or the last
// kernel of the last file) from weights/<name>.bin (missing: 0.5) and prints what REDUCE(x) prints.

import { writeFileSync } from "node:fs";
import { CommandSpec, parseCommand, readSources, UsageError } from "../../cli/args.js";
import { checkSources } from "../checker.js";
import { DiagnosticError } from "../diagnostics.js";
import { entryKernel } from "../entry.js";
import { BASE_FLAGS } from "./build.js";
import { emitCpp } from "./emit-cpp.js";
import { targetConfig } from "./target.js";

export const COMPILE = {
  name: "compile",
  summary: "Emit C++/Eigen for a program. The file compiles on its own (the runtime is inlined);\n" +
    "with --main it has a main() that binds the entry kernel's parameters from weights/<name>.bin (missing: 0.5)\n" +
    "and prints what REDUCE(x) prints.",
  usage: "FILE.ta [MORE.ta ...] [options]",
  positionals: { min: 1, max: Infinity, missing: "no input file" },
  options: {
    output: { type: "string", short: "o", value: "FILE", description: "write the C++ here", defaultText: "stdout" },
    main: { type: "boolean", description: "add a main() that runs the entry kernel" },
    kernel: { type: "string", value: "NAME", description: "the entry kernel for --main", defaultText: "the last kernel" },
  },
} as const satisfies CommandSpec;

export async function compileCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(COMPILE, argv);
  if (parsed.help) return 0;
  const { output: out, main, kernel: kernelName } = parsed.values;
  const sources = readSources(parsed.positionals);
  const { program, diagnostics } = checkSources(sources);
  if (diagnostics.hasErrors) throw new DiagnosticError(diagnostics.items, diagnostics.dropped);
  const cfg = targetConfig(program.target);
  for (const w of cfg.warnings) console.error(`warning: ${w.message}`);
  const entry = main ? entryKernel(program, kernelName) : undefined;
  if (main && !entry) throw new UsageError("--main needs a kernel, and the program defines none");
  const unit = emitCpp(program.kernels, { selfContained: true, main: entry });
  const flags = [...BASE_FLAGS.filter((f) => f !== "-fPIC" && f !== "-w"), ...cfg.flags].join(" ");
  const text = `// build: g++ ${flags} -I/usr/include/eigen3 ${main ? "out.cpp -o prog" : "-shared -fPIC out.cpp -o out.so"}\n` + unit.code;
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
  return 0;
}
