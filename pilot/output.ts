/**
 * Output: data on stdout, in the format asked for with `-f/--format`
 * (`human` by default, `json` or `yaml`, with upstream's short forms); notes
 * and errors on stderr. JSON and YAML schemas are documented in the README
 * and stay stable.
 *
 * @module
 */

import { stringify as toYaml } from "yaml";
import { usageError } from "./cli.ts";

/** An output format. */
export type Format = "human" | "json" | "yaml";

/** The `-f/--format` option, as upstream spells it. */
export const FORMAT_OPTION = {
  format: { type: "string" as const, short: "f", default: "human" },
};

/** Reads a format name: `human|h|plain|p`, `json|j`, `yaml|y`. */
export function parseFormat(value: unknown): Format {
  switch (String(value ?? "")) {
    case "":
    case "human":
    case "h":
    case "plain":
    case "p":
      return "human";
    case "json":
    case "j":
      return "json";
    case "yaml":
    case "y":
      return "yaml";
    default:
      throw usageError(
        `invalid format '${value}'. Valid formats are: human/h/plain/p, json/j, yaml/y`,
      );
  }
}

const encoder = new TextEncoder();

/** Writes text or bytes to stdout, whole. */
export function writeOut(data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/** A note for people, on stderr. */
export function note(text: string): void {
  console.error(text);
}

/** Prints `value` as JSON or YAML, or as `human()` renders it. */
export function printData(format: Format, value: unknown, human: () => string): void {
  if (format === "json") writeOut(JSON.stringify(value, null, 2) + "\n");
  else if (format === "yaml") writeOut(toYaml(value));
  else writeOut(human());
}
