/**
 * `spike cipher encrypt|decrypt`: encryption as a service. Stream mode (the
 * default) turns bytes into `0x01 ‖ nonce ‖ ciphertext` and back, so
 * `echo hi | spike cipher encrypt | spike cipher decrypt` works. JSON mode
 * prints the whole `{"version","nonce","ciphertext"}` answer (upstream loses
 * the nonce, issue #256), which `decrypt --json` or the three flags take back.
 *
 * @module
 */

import type { DecryptResponse, EncryptResponse } from "../../lib/api/cipher.ts";
import { fromBase64, isBase64, toBase64 } from "../../lib/api/json.ts";
import { ApiResponseError } from "../../lib/client/errors.ts";
import { requireAccess } from "../../lib/config/permissions.ts";
import { CliError, type Command, type CommandGroup, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { Exit } from "../exit.ts";
import { note, writeOut } from "../output.ts";
import { readStream } from "../input.ts";

/** Nexus refuses request bodies above 1 MiB, so no larger input can succeed. */
const MAX_INPUT = 1024 * 1024;
/** Nexus's default plaintext limit: 65536 bytes of ciphertext minus the 16-byte tag. */
const DEFAULT_MAX_PLAINTEXT = 65536 - 16;

/** Reads a stream to its end, refusing more than {@link MAX_INPUT} bytes. */
function readAll(stream: ReadableStream<Uint8Array>, what: string): Promise<Uint8Array> {
  return readStream(stream, MAX_INPUT, () =>
    new CliError(
      `${what} is larger than ${MAX_INPUT} bytes, more than Nexus accepts (by default at ` +
        `most ${DEFAULT_MAX_PLAINTEXT} bytes of plaintext)`,
      Exit.badRequest,
    ));
}

/** The input: the `--file` or stdin. */
async function readInput(file: string | undefined, hint: string): Promise<Uint8Array> {
  if (file === undefined) {
    if (Deno.stdin.isTerminal()) note(`reading ${hint} from the terminal; end it with Ctrl-D`);
    return await readAll(Deno.stdin.readable, "standard input");
  }
  if (file === "") throw usageError("--file needs a file name");
  try {
    requireAccess("--file", { kind: "read", path: file });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  let handle: Deno.FsFile;
  try {
    if ((await Deno.stat(file)).isDirectory) throw usageError(`${file} is a directory`);
    handle = await Deno.open(file, { read: true });
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (e instanceof Deno.errors.NotFound) throw usageError(`Input file does not exist: ${file}`);
    throw usageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return await readAll(handle.readable, file); // the stream closes the file at its end
}

/** Writes the result to `--out` (created or replaced, mode 0600) or to stdout. */
async function writeOutput(out: string | undefined, data: Uint8Array): Promise<void> {
  if (out === undefined) {
    writeOut(data);
    return;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(out, { write: true, create: true, mode: 0o600 });
  } catch (e) {
    throw new CliError(`cannot write ${out}: ${(e as Error).message}`, Exit.failure);
  }
  try {
    // An existing file keeps its mode on open: narrow it before anything is written.
    await Deno.chmod(out, 0o600);
    await file.truncate(0);
    let written = 0;
    while (written < data.length) written += await file.write(data.subarray(written));
  } catch (e) {
    throw new CliError(`cannot write ${out}: ${(e as Error).message}`, Exit.failure);
  } finally {
    file.close();
  }
}

/** Checks `--out` before anything is sent, so a result is never computed for nothing. */
function checkOut(out: string | undefined): void {
  if (out === undefined) return;
  if (out === "") throw usageError("--out needs a file name");
  try {
    requireAccess("--out", { kind: "write", path: out });
  } catch (e) {
    throw usageError((e as Error).message);
  }
}

function base64Flag(values: Record<string, unknown>, flag: string): string {
  const text = String(values[flag]).trim();
  if (!isBase64(text)) throw usageError(`Invalid --${flag} base64.`);
  return text;
}

/** Turns Nexus's refusals into sentences about the input. */
function explainCipher(e: unknown, op: "encrypt" | "decrypt", json: boolean): never {
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
    if (op === "decrypt" && json && e.status === 500) {
      throw new CliError(
        "Nexus could not decrypt it (HTTP 500): the ciphertext or nonce was altered or made " +
          "with another key, or Nexus failed (see its logs)",
        Exit.failure,
      );
    }
  }
  throw e;
}

const COMMON_HELP = "  -f, --file FILE       read the input from FILE (default: stdin)\n" +
  "  -o, --out FILE        write the output to FILE, mode 0600 (default: stdout)\n" +
  "  --algorithm NAME      sent in JSON mode; accepted and ignored by Nexus, as upstream";

/** The options both commands share: input, output, JSON mode, and the ignored algorithm. */
const IO_OPTIONS = {
  file: { type: "string", short: "f" },
  out: { type: "string", short: "o" },
  json: { type: "boolean" },
  algorithm: { type: "string" },
} as const;

const encrypt: Command = {
  name: "encrypt",
  summary: "Encrypt bytes with Nexus's cipher key",
  usage: "[-f FILE] [-o FILE] [--json | --plaintext BASE64] [--algorithm NAME]",
  help: COMMON_HELP + "\n" +
    '  --json                JSON mode: print {"version":1,"nonce":B64,"ciphertext":B64}\n' +
    "  --plaintext BASE64    JSON mode with this plaintext (no input is read)\n\n" +
    "Stream mode (default): writes the raw bytes 0x01 ‖ nonce(12) ‖ ciphertext.\n" +
    "Both forms decrypt with spike cipher decrypt (add --json for the JSON form).\n\n" +
    "Example: echo hi | spike cipher encrypt | spike cipher decrypt",
  options: { ...IO_OPTIONS, plaintext: { type: "string" } },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const file = values.file as string | undefined;
    const out = values.out as string | undefined;
    const given = values.plaintext !== undefined;
    if (given && file !== undefined) throw usageError("give --plaintext or --file, not both");
    const json = given || values.json === true;
    const fromFlag = given ? fromBase64(base64Flag(values, "plaintext")) : undefined;
    checkOut(out);
    const plaintext = fromFlag ?? await readInput(file, "the plaintext");
    let result: Uint8Array;
    try {
      result = await withNexus("pilot-superuser", async (nexus) => {
        try {
          if (!json) return await nexus.encryptStream(plaintext);
          const body: Record<string, unknown> = { plaintext: toBase64(plaintext) };
          if (values.algorithm !== undefined) body.algorithm = values.algorithm;
          const sealed = await nexus.call<EncryptResponse>("cipher.encrypt", body);
          const answer = {
            version: sealed.version,
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
          };
          return new TextEncoder().encode(JSON.stringify(answer) + "\n");
        } catch (e) {
          explainCipher(e, "encrypt", json);
        }
      });
    } finally {
      plaintext.fill(0);
    }
    await writeOutput(out, result);
    return Exit.ok;
  },
};

/** The three JSON-mode fields, from flags. */
function sealedFromFlags(values: Record<string, unknown>): EncryptResponse {
  const missing = ["version", "nonce", "ciphertext"].filter((f) => values[f] === undefined);
  if (missing.length > 0) {
    throw usageError(
      `--version, --nonce and --ciphertext go together; missing: ${
        missing.map((f) => `--${f}`).join(", ")
      }`,
    );
  }
  const versionText = String(values.version).trim();
  if (!/^\d{1,3}$/.test(versionText) || Number(versionText) > 255) {
    throw usageError("Invalid --version, must be 0-255.");
  }
  return {
    version: Number(versionText),
    nonce: base64Flag(values, "nonce"),
    ciphertext: base64Flag(values, "ciphertext"),
  };
}

/** The JSON that `encrypt --json` prints, read back from the input. */
function sealedFromJson(input: Uint8Array, where: string): EncryptResponse {
  const shape = `${where} is not the JSON that spike cipher encrypt --json prints ` +
    '({"version":1,"nonce":"<base64>","ciphertext":"<base64>"})';
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(input));
  } catch {
    throw usageError(shape);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw usageError(shape);
  const { version, nonce, ciphertext } = value as Record<string, unknown>;
  if (
    typeof version !== "number" || !Number.isInteger(version) || version < 0 || version > 255 ||
    typeof nonce !== "string" || typeof ciphertext !== "string"
  ) {
    throw usageError(shape);
  }
  if (!isBase64(nonce)) throw usageError(`Invalid nonce base64 in ${where}.`);
  if (!isBase64(ciphertext)) throw usageError(`Invalid ciphertext base64 in ${where}.`);
  return { version, nonce, ciphertext };
}

const decrypt: Command = {
  name: "decrypt",
  summary: "Decrypt what spike cipher encrypt made",
  usage: "[-f FILE] [-o FILE] [--json | --version N --nonce BASE64 --ciphertext BASE64] " +
    "[--algorithm NAME]",
  help: COMMON_HELP + "\n" +
    "  --json                JSON mode: the input is the JSON that encrypt --json prints\n" +
    "  --version N           JSON mode with these fields (0-255; Nexus knows only 1);\n" +
    "  --nonce BASE64          the three go together and no input is read\n" +
    "  --ciphertext BASE64\n\n" +
    "Stream mode (default): the input is the raw bytes encrypt writes. The output is the\n" +
    "plaintext, raw.",
  options: {
    ...IO_OPTIONS,
    version: { type: "string" },
    nonce: { type: "string" },
    ciphertext: { type: "string" },
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const file = values.file as string | undefined;
    const out = values.out as string | undefined;
    const flags = ["version", "nonce", "ciphertext"].some((f) => values[f] !== undefined);
    if (flags && values.json === true) {
      throw usageError(
        "give --json (input from stdin or --file) or --version/--nonce/" +
          "--ciphertext, not both",
      );
    }
    if (flags && file !== undefined) {
      throw usageError("give --file or --version/--nonce/--ciphertext, not both");
    }
    const json = flags || values.json === true;
    let sealed: EncryptResponse | undefined;
    let input: Uint8Array | undefined;
    if (flags) {
      sealed = sealedFromFlags(values);
      checkOut(out);
    } else {
      checkOut(out);
      input = await readInput(file, "the ciphertext");
      if (json) sealed = sealedFromJson(input, file ?? "standard input");
    }
    const plaintext = await withNexus("pilot-superuser", async (nexus) => {
      try {
        if (!json) return await nexus.decryptStream(input!);
        const body: Record<string, unknown> = { ...sealed };
        if (values.algorithm !== undefined) body.algorithm = values.algorithm;
        const res = await nexus.call<DecryptResponse>("cipher.decrypt", body);
        return fromBase64(res.plaintext ?? "");
      } catch (e) {
        explainCipher(e, "decrypt", json);
      }
    });
    try {
      await writeOutput(out, plaintext);
    } finally {
      plaintext.fill(0);
    }
    return Exit.ok;
  },
};

/** `spike cipher`. */
export const cipherCommands: CommandGroup = {
  name: "cipher",
  summary: "Encrypt and decrypt with Nexus (encryption as a service)",
  commands: [encrypt, decrypt],
};
