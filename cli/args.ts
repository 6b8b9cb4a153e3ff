// Command specs and argument parsing shared by every subcommand, on Node's `util.parseArgs` in
// strict mode. Kept free of side effects, so subcommand modules can import it without re-entering
// the CLI entry point.
//
// A command declares {name, summary, usage, options, positionals}; `parseCommand` gives it
// `-h`/`--help` (printed from the spec, nothing else runs), typed values with defaults, and
// refuses unknown options, missing values and stray positionals before the command does anything.

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { BACKEND_NAMES, DEFAULT_BACKEND } from "../backends/index.js";
import { SourceFile } from "../compiler/source.js";
import { writeFileAtomic } from "../runtime/model-folder.js";

/** A mistake in how a command was called: printed as `tensorcore: error: MESSAGE`, exit code 1. */
export class UsageError extends Error {}

/** Every message the CLI prints for a failure starts with this (diagnostics with a location excepted). */
export const ERROR_PREFIX = "tensorcore: error: ";

export interface OptionSpec {
  /** "number" and "integer" are read as strings and checked here (util.parseArgs knows only string and boolean). */
  type: "string" | "boolean" | "number" | "integer";
  short?: string;
  /** Placeholder shown in help: `--model DIR`. */
  value?: string;
  description: string;
  default?: string | number | boolean;
  /** Help text for a default that is not a plain value (e.g. "weights/ beside FILE"). */
  defaultText?: string;
  choices?: readonly string[];
  /** The command cannot run without it. */
  required?: boolean;
}

export interface CommandSpec {
  /** As typed after `tensorcore`: "run", "hf convert", "kernel install". */
  name: string;
  summary: string;
  /** What follows the name in the usage line: `FILE.ta [MORE.ta ...] [options]`. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** How many positional arguments the command takes (default: none). */
  positionals?: { min?: number; max?: number; /** The message when too few are given. */ missing?: string };
  /** Paragraphs printed after the options. */
  notes?: string;
}

type ValueOf<O extends OptionSpec> = O["type"] extends "boolean" ? boolean : O["type"] extends "string" ? string : number;
type Always = { default: string | number | boolean } | { required: true } | { type: "boolean" };
export type Values<S extends CommandSpec> = {
  [K in keyof S["options"]]: S["options"][K] extends Always ? ValueOf<S["options"][K]> : ValueOf<S["options"][K]> | undefined;
};

/** A parsed command line, or `help` when -h/--help was given (the help is already printed). */
export type Parsed<S extends CommandSpec> = { help: true } | { help: false; values: Values<S>; positionals: string[] };

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", description: "show this help and exit" };

function seeHelp(spec: { name: string }): string {
  return `see \`tensorcore ${spec.name} --help\``;
}

/** The help text of a command, listing every option with its default. */
export function formatHelp(spec: CommandSpec): string {
  const rows: [string, string][] = [];
  for (const [name, o] of Object.entries({ ...spec.options, help: HELP_OPTION })) {
    const flag = (o.short ? `-${o.short}, ` : "    ") + `--${name}` + (o.type === "boolean" ? "" : ` ${o.value ?? (o.type === "string" ? "TEXT" : "N")}`);
    const dflt = o.defaultText ?? (o.default !== undefined && o.type !== "boolean" ? String(o.default) : undefined);
    const choices = o.choices ? ` (${o.choices.join(", ")})` : "";
    rows.push([flag, `${o.description}${choices}${o.required ? " (required)" : ""}${dflt !== undefined ? ` [default: ${dflt}]` : ""}`]);
  }
  const width = Math.min(28, Math.max(...rows.map(([f]) => f.length)) + 2);
  const lines = rows.map(([f, d]) => (f.length + 2 > width ? `  ${f}\n  ${"".padEnd(width)}${d}` : `  ${f.padEnd(width)}${d}`));
  return `usage: ${`tensorcore ${spec.name} ${spec.usage}`.trimEnd()}\n\n${spec.summary}\n\noptions:\n${lines.join("\n")}${spec.notes ? `\n\n${spec.notes}` : ""}\n`;
}

/** Whether -h/--help appears among the options (before a `--`). */
export function wantsHelp(argv: string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "-h" || a === "--help") return true;
  }
  return false;
}

/**
 * Parse a command line against a spec. With -h/--help: prints the help to stdout and returns
 * {help: true}. Every other mistake throws a UsageError that names the option and points at --help.
 */
export function parseCommand<S extends CommandSpec>(spec: S, argv: string[]): Parsed<S> {
  if (wantsHelp(argv)) {
    process.stdout.write(formatHelp(spec));
    return { help: true };
  }
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type === "boolean" ? "boolean" : "string", ...(o.short ? { short: o.short } : {}) };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (e) {
    throw new UsageError(`${describeParseError(e as NodeJS.ErrnoException, spec)} (${seeHelp(spec)})`);
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed.values[name];
    if (raw === undefined && o.required) throw new UsageError(`option '--${name}' is required (${seeHelp(spec)})`);
    if (raw === undefined) { values[name] = o.type === "boolean" ? (o.default ?? false) : o.default; continue; }
    if (o.type === "number" || o.type === "integer") {
      const x = Number(raw);
      if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(x) || (o.type === "integer" && !Number.isSafeInteger(x)))
        throw new UsageError(`option '--${name}' needs ${o.type === "integer" ? "an integer" : "a number"}, got '${raw}' (${seeHelp(spec)})`);
      values[name] = x;
    } else {
      if (o.choices && !o.choices.includes(raw as string)) throw new UsageError(`option '--${name}' must be one of ${o.choices.join(", ")}, got '${raw}' (${seeHelp(spec)})`);
      values[name] = raw;
    }
  }
  const { min = 0, max = 0, missing } = spec.positionals ?? {};
  const n = parsed.positionals.length;
  if (n > max) throw new UsageError(`unexpected argument '${parsed.positionals[max]}' (${seeHelp(spec)})`);
  if (n < min) throw new UsageError(`${missing ?? `missing argument: tensorcore ${spec.name} ${spec.usage}`} (${seeHelp(spec)})`);
  return { help: false, values: values as Values<S>, positionals: parsed.positionals };
}

/** util.parseArgs' errors, reworded to name the option the way the help does. */
function describeParseError(e: NodeJS.ErrnoException, spec: CommandSpec): string {
  const long = /--[A-Za-z0-9][\w-]*/.exec(e.message)?.[0];
  const short = /'-([A-Za-z0-9])[',]/.exec(e.message)?.[1];
  const named = short ? Object.entries(spec.options).find(([, o]) => o.short === short)?.[0] : undefined;
  const flag = long ?? (named ? `--${named}` : short ? `-${short}` : "?");
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option '${flag}'`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take an argument/.test(e.message)) return `option '${flag}' takes no value`;
    if (/ambiguous/.test(e.message)) return `option '${flag}' needs a value (one starting with '-' is written ${flag}=-VALUE)`;
    return `option '${flag}' needs a value`;
  }
  return e.message;
}

/** Which back end runs a program when none is named: said the same way in every command's help. */
export const DEFAULT_BACKEND_TEXT = `${DEFAULT_BACKEND}; interp, with a note, when ${DEFAULT_BACKEND} cannot run here (no C++ compiler or Eigen)`;

/** The --backend option of every command that runs programs. */
export const BACKEND_OPTION = {
  type: "string",
  value: "NAME",
  description: `back end (${BACKEND_NAMES.join(", ")})`,
  defaultText: DEFAULT_BACKEND_TEXT,
} as const satisfies OptionSpec;

/** A group of subcommands (`hf`, `kernel`, and the top level): its help lists them. */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: { name: string; summary: string }[];
  notes?: string;
}

export function formatGroupHelp(g: CommandGroup): string {
  const w = Math.max(...g.commands.map((c) => c.name.length)) + 2;
  const prefix = g.name ? `tensorcore ${g.name}` : "tensorcore";
  return `usage: ${prefix} COMMAND [options]\n\n${g.summary}\n\ncommands:\n${g.commands.map((c) => `  ${c.name.padEnd(w)}${c.summary}`).join("\n")}\n\n` +
    `\`${prefix} COMMAND --help\` lists a command's options.${g.notes ? `\n\n${g.notes}` : ""}\n`;
}

/**
 * The subcommand a group's command line names, or undefined when help was asked for (printed here).
 * No subcommand is a usage error (exit 1) after printing the help to stderr.
 */
export function groupCommand(g: CommandGroup, argv: string[]): string | undefined {
  const [cmd] = argv;
  if (cmd === "help" || (cmd?.startsWith("-") && wantsHelp(argv))) {
    process.stdout.write(formatGroupHelp(g));
    return undefined;
  }
  const prefix = g.name ? `tensorcore ${g.name}` : "tensorcore";
  if (cmd === undefined) {
    process.stderr.write(formatGroupHelp(g) + "\n");
    throw new UsageError(`missing command (see \`${prefix} --help\`)`);
  }
  if (cmd.startsWith("-")) throw new UsageError(`unknown option '${cmd}' (see \`${prefix} --help\`)`);
  if (!g.commands.some((c) => c.name === cmd))
    throw new UsageError(`unknown command '${cmd}'${g.name ? ` for '${prefix}'` : ""} (expected ${g.commands.map((c) => c.name).join(", ")}; see \`${prefix} --help\`)`);
  return cmd;
}

/** The largest .ta source read (as a model folder's model.ta): a program is text, not a weight file. */
const MAX_SOURCE_BYTES = 16 << 20;

export function readSources(paths: string[]): SourceFile[] {
  if (paths.length === 0) throw new UsageError("no input file");
  return paths.map((p) => {
    if (!existsSync(p)) throw new UsageError(`${p}: no such file`);
    let text: string;
    try {
      // /dev/zero or a FIFO would be read without end; a weights file by mistake, into an error per byte
      const st = statSync(p);
      if (!st.isFile()) throw new UsageError(`${p}: not a regular file`);
      if (st.size > MAX_SOURCE_BYTES) throw new UsageError(`${p}: ${st.size} bytes, more than a .ta source may have (${MAX_SOURCE_BYTES})`);
      text = readFileSync(p, "utf8");
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new SourceFile(p, text);
  });
}

/** An output file an option names, checked before any work is done: its folder exists and it is not a folder. */
export function checkOutputFile(path: string, option: string): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${option} ${path}: no folder ${dir}`);
  if (existsSync(path) && !statSync(path).isFile()) throw new UsageError(`${option} ${path}: not a regular file`);
}

/** Write an output file an option names whole or not at all (writeFileAtomic), a failure as a user error. */
export function writeOutputFile(path: string, data: string): void {
  try {
    writeFileAtomic(path, data);
  } catch (e) {
    throw new UsageError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
