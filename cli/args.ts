// Command-line argument helpers shared by every subcommand (kept free of side effects, so
// subcommand modules can import them without re-entering the CLI entry point).

import { existsSync, readFileSync } from "node:fs";
import { SourceFile } from "../compiler/source.js";

/** A mistake in how a command was called: printed as one line, exit code 1. */
export class UsageError extends Error {}

/** Parse `--flag value` and `--switch` options; positional arguments are returned in order. */
export function parseArgs(argv: string[], spec: Record<string, "value" | "switch">): { positional: string[]; opts: Record<string, string | boolean> } {
  const positional: string[] = [];
  const opts: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      const [flag, inline] = a.split("=", 2);
      const kind = spec[flag];
      if (!kind) throw new UsageError(`unknown option '${flag}'`);
      if (kind === "switch") opts[flag] = true;
      else {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`option '${flag}' needs a value`);
        opts[flag] = v;
      }
    } else positional.push(a);
  }
  return { positional, opts };
}

export function readSources(paths: string[]): SourceFile[] {
  if (paths.length === 0) throw new UsageError("no input file");
  return paths.map((p) => {
    if (!existsSync(p)) throw new UsageError(`${p}: no such file`);
    let text: string;
    try {
      text = readFileSync(p, "utf8");
    } catch (e) {
      throw new UsageError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new SourceFile(p, text);
  });
}

