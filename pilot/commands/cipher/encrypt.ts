/**
 * `spike cipher encrypt`: stream mode (the default) turns bytes into
 * `0x01 ‖ nonce ‖ ciphertext`; JSON mode prints the whole
 * `{"version","nonce","ciphertext"}` answer (upstream loses the nonce, issue
 * #256), which `decrypt --json` takes back.
 *
 * @module
 */

import type { EncryptResponse } from "../../../lib/api/cipher.ts";
import { fromBase64, toBase64 } from "../../../lib/api/json.ts";
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

/** `spike cipher encrypt`. */
export const encrypt: Command = {
  name: "encrypt",
  summary: "Encrypt bytes with Nexus's cipher key",
  usage: "[--file FILE] [-o FILE] [--json | -f json | --plaintext BASE64] [--algorithm NAME]",
  help: IO_HELP + "\n" +
    '  --json                JSON mode: print {"version":1,"nonce":B64,"ciphertext":B64}\n' +
    "  --plaintext BASE64    JSON mode with this plaintext (no input is read)\n\n" +
    "Stream mode (default): writes the raw bytes 0x01 ‖ nonce(12) ‖ ciphertext.\n" +
    "Both forms decrypt with spike cipher decrypt (add --json for the JSON form).\n\n" +
    "Example: echo hi | spike cipher encrypt | spike cipher decrypt\n\n" + IO_NOTE,
  options: { ...IO_OPTIONS, plaintext: { type: "string" } },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    const choice = ioChoice(values);
    const file = choice.file;
    const out = values.out as string | undefined;
    const given = values.plaintext !== undefined;
    if (given && file !== undefined) throw usageError("give --plaintext or --file, not both");
    const json = given || choice.json;
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
