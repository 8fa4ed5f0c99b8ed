/**
 * `spike cipher decrypt`: takes back what `encrypt` wrote, in stream mode
 * (the raw bytes) or JSON mode (the JSON `encrypt --json` prints, or its
 * three fields as flags), and writes the plaintext, raw.
 *
 * @module
 */

import type { DecryptResponse, EncryptResponse } from "../../../lib/api/cipher.ts";
import { fromBase64, isBase64 } from "../../../lib/api/json.ts";
import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { Exit } from "../../exit.ts";
import {
  base64Flag,
  checkOut,
  explainCipher,
  IO_HELP,
  IO_NOTE,
  IO_OPTIONS,
  ioChoice,
  readInput,
  writeOutput,
} from "./io.ts";

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

/** `spike cipher decrypt`. */
export const decrypt: Command = {
  name: "decrypt",
  summary: "Decrypt what spike cipher encrypt made",
  usage: "[--file FILE] [-o FILE] [--json | -f json | --version N --nonce BASE64 " +
    "--ciphertext BASE64] " +
    "[--algorithm NAME]",
  help: IO_HELP + "\n" +
    "  --json                JSON mode: the input is the JSON that encrypt --json prints\n" +
    "  --version N           JSON mode with these fields (0-255; Nexus knows only 1);\n" +
    "  --nonce BASE64          the three go together and no input is read\n" +
    "  --ciphertext BASE64\n\n" +
    "Stream mode (default): the input is the raw bytes encrypt writes. The output is the\n" +
    "plaintext, raw.\n\n" + IO_NOTE,
  options: {
    ...IO_OPTIONS,
    version: { type: "string" },
    nonce: { type: "string" },
    ciphertext: { type: "string" },
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const choice = ioChoice(values);
    const file = choice.file;
    const out = values.out as string | undefined;
    const flags = ["version", "nonce", "ciphertext"].some((f) => values[f] !== undefined);
    if (flags && choice.json) {
      throw usageError(
        "give --json (input from stdin or --file) or --version/--nonce/" +
          "--ciphertext, not both",
      );
    }
    if (flags && file !== undefined) {
      throw usageError("give --file or --version/--nonce/--ciphertext, not both");
    }
    const json = flags || choice.json;
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
