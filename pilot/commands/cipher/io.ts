/**
 * What `spike cipher encrypt` and `decrypt` share: where the input comes from
 * and the output goes, the `-f` flag (a format, or upstream's `-f FILE`), and
 * Nexus's refusals worded as sentences about the input.
 *
 * @module
 */

import { isBase64 } from "../../../lib/api/json.ts";
import { ApiResponseError } from "../../../lib/client/errors.ts";
import { CliError, usageError } from "../../cli.ts";
import { Exit } from "../../exit.ts";
import { checkUserOutput, readStream, readUserFile, writeUserFile } from "../../input.ts";
import { note, writeOut } from "../../output.ts";

/** Nexus refuses request bodies above 1 MiB, so no larger input can succeed. */
const MAX_INPUT = 1024 * 1024;
/** Nexus's default plaintext limit: 65536 bytes of ciphertext minus the 16-byte tag. */
export const DEFAULT_MAX_PLAINTEXT = 65536 - 16;

function tooLarge(what: string): CliError {
  return new CliError(
    `${what} is larger than ${MAX_INPUT} bytes, more than Nexus accepts (by default at ` +
      `most ${DEFAULT_MAX_PLAINTEXT} bytes of plaintext)`,
    Exit.badRequest,
  );
}

/** The input: the `--file` or stdin. */
export async function readInput(file: string | undefined, hint: string): Promise<Uint8Array> {
  if (file === undefined) {
    if (Deno.stdin.isTerminal()) note(`reading ${hint} from the terminal; end it with Ctrl-D`);
    return await readStream(Deno.stdin.readable, MAX_INPUT, () => tooLarge("standard input"));
  }
  return await readUserFile(file, {
    setting: "--file",
    max: MAX_INPUT,
    tooLarge,
    missing: (shown) => `Input file does not exist: ${shown}`,
  });
}

/** Writes the result to `--out` (created or replaced, mode 0600) or to stdout. */
export async function writeOutput(out: string | undefined, data: Uint8Array): Promise<void> {
  if (out === undefined) writeOut(data);
  else await writeUserFile(out, "--out", data);
}

/** Checks `--out` before anything is sent, so a result is never computed for nothing. */
export function checkOut(out: string | undefined): void {
  if (out !== undefined) checkUserOutput(out, "--out");
}

/** A base64 flag's value, checked. */
export function base64Flag(values: Record<string, unknown>, flag: string): string {
  const text = String(values[flag]).trim();
  if (!isBase64(text)) throw usageError(`Invalid --${flag} base64.`);
  return text;
}

/** The options both commands share. */
export const IO_OPTIONS = {
  file: { type: "string" },
  out: { type: "string", short: "o" },
  format: { type: "string", short: "f" },
  json: { type: "boolean" },
  algorithm: { type: "string" },
} as const;

/** Help lines of {@link IO_OPTIONS}. */
export const IO_HELP = "  --file FILE           read the input from FILE (default: stdin)\n" +
  "  -o, --out FILE        write the output to FILE, mode 0600 (default: stdout)\n" +
  "  -f, --format FORMAT   raw (default: the stream form) or json (the same as --json);\n" +
  "                        as upstream, -f with any other value is the input FILE\n" +
  "                        (for a file named json or raw, use --file)\n" +
  "  --algorithm NAME      sent in JSON mode; accepted and ignored by Nexus, as upstream";

/** The last help line of both commands. */
export const IO_NOTE = "A relative FILE is read from, or written to, the folder you are in.";

/**
 * The input file and JSON mode from `--file`, `-f` and `--json`. `-f` means
 * the output format everywhere in spike; a value that is no format name is
 * taken as upstream's `-f FILE`, so upstream's scripts keep working.
 */
export function ioChoice(values: Record<string, unknown>): { file?: string; json: boolean } {
  let file = values.file as string | undefined;
  let json = values.json === true;
  const format = values.format as string | undefined;
  if (format !== undefined) {
    switch (format) {
      case "json":
      case "j":
        json = true;
        break;
      case "raw":
      case "human":
      case "h":
      case "plain":
      case "p":
        if (json) throw usageError(`--json and -f ${format} contradict each other; give one`);
        break;
      case "yaml":
      case "y":
        throw usageError("the cipher writes raw bytes or JSON: use -f raw or -f json");
      default:
        if (file !== undefined) {
          throw usageError(`two input files given (--file ${file} and -f ${format}); give one`);
        }
        file = format;
    }
  }
  return { file, json };
}

/** Turns Nexus's refusals into sentences about the input. */
export function explainCipher(e: unknown, op: "encrypt" | "decrypt", json: boolean): never {
  if (e instanceof ApiResponseError) {
    if (e.code === "api_bad_request") {
      throw new CliError(
        op === "encrypt"
          ? "Nexus refused the plaintext: it is larger than Nexus accepts (by default at most " +
            `${DEFAULT_MAX_PLAINTEXT} bytes)`
          : "Nexus refused the input: it is not a ciphertext this Nexus can open (altered, " +
            "truncated, too large, of an unknown version, or made with another key)",
        Exit.badRequest,
      );
    }
    // In JSON mode Nexus answers a ciphertext that fails to open with 500, as upstream;
    // it is the same problem as the stream form's 400, so it gets the same exit code.
    if (op === "decrypt" && json && e.status === 500) {
      throw new CliError(
        "Nexus could not decrypt it: the ciphertext or nonce was altered or made with " +
          "another key (if neither, Nexus failed: see its logs)",
        Exit.badRequest,
      );
    }
  }
  throw e;
}
