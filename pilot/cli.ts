/**
 * The command framework: a tree of commands with help text, flags parsed by
 * `node:util` `parseArgs`, and failures turned into one sentence on stderr
 * plus an exit code. Data goes to stdout, everything else to stderr.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { ValidationError } from "../lib/api/errors.ts";
import { errorMessage } from "../lib/std/errors.ts";
import { describeValidation } from "./errors.ts";
import { Exit } from "./exit.ts";

/** A failure to report as one sentence with an exit code. */
export class CliError extends Error {
  override name = "CliError";
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** A usage error (exit 2): what was typed is wrong. */
export function usageError(message: string): CliError {
  return new CliError(message, Exit.usage);
}

/** A configuration problem (exit 7): a setting, a permission or a local file. */
export function configError(message: string): CliError {
  return new CliError(message, Exit.config);
}

/** A leaf command. */
export interface Command {
  name: string;
  summary: string;
  /** Usage line after the command path, e.g. `PATH [KEY] [--version N]`. */
  usage: string;
  /** Longer help: flags and examples. */
  help?: string;
  options?: ParseArgsConfig["options"];
  /** Runs with parsed flags and positionals; returns the exit code. */
  run(args: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}

/** A group of commands, e.g. `secret`. */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: (Command | CommandGroup)[];
  /** Printed by `--version` on this group (the root). */
  version?: string;
  /** Text after the command list in this group's help (e.g. the environment). */
  footer?: string;
}

function isGroup(c: Command | CommandGroup): c is CommandGroup {
  return "commands" in c;
}

function groupHelp(path: string, group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => c.name.length));
  const lines = group.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `${group.summary}\n\nUsage: ${path} <command>\n\nCommands:\n${lines.join("\n")}\n\n` +
    `Run "${path} <command> --help" for more.` + (group.footer ? `\n\n${group.footer}` : "");
}

function commandHelp(path: string, command: Command): string {
  return `${command.summary}\n\nUsage: ${path} ${command.usage}`.trimEnd() +
    (command.help ? `\n\n${command.help}` : "");
}

/**
 * `parseArgs`'s complaint in one sentence. Its unknown-option text ends in
 * unbalanced quotes (`as in '-- "--bogus"`), so that one is worded here.
 */
function parseProblem(e: unknown): string {
  const error = e as Error & { code?: string };
  const unknown = /^Unknown option '([^']*)'/.exec(error.message ?? "");
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) {
    return `unknown option ${unknown[1]} (a value that starts with - goes after --, ` +
      `as in: -- ${unknown[1]})`;
  }
  return (error.message ?? String(e)).split("\n")[0];
}

/** Finds the command for `argv` and runs it; returns the exit code. */
export async function runCli(program: string, root: CommandGroup, argv: string[]): Promise<number> {
  let group = root;
  let path = program;
  let rest = argv;
  for (;;) {
    const [name, ...tail] = rest;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      const text = groupHelp(path, group);
      if (name === undefined) {
        console.error(text);
        return Exit.usage;
      }
      console.log(text);
      return Exit.ok;
    }
    if (name === "--version" && group.version !== undefined) {
      console.log(`${path} ${group.version}`);
      return Exit.ok;
    }
    const next = group.commands.find((c) => c.name === name);
    if (!next) {
      console.error(`${path}: unknown command "${name}"; run "${path} --help" for the list`);
      return Exit.usage;
    }
    path = `${path} ${name}`;
    rest = tail;
    if (isGroup(next)) {
      group = next;
      continue;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(commandHelp(path, next));
      return Exit.ok;
    }
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: next.options ?? {},
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      console.error(`${path}: ${parseProblem(e)}\nUsage: ${path} ${next.usage}`);
      return Exit.usage;
    }
    try {
      return await next.run(parsed as { values: Record<string, unknown>; positionals: string[] });
    } catch (caught) {
      const e = caught instanceof ValidationError
        ? new CliError(describeValidation(caught), Exit.usage)
        : caught;
      if (e instanceof CliError) {
        console.error(`${path}: ${e.message}`);
        if (e.exitCode === Exit.usage) console.error(`Usage: ${path} ${next.usage}`);
        return e.exitCode;
      }
      console.error(`${path}: ${errorMessage(e)}`);
      return Exit.failure;
    }
  }
}
