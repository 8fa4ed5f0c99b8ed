/**
 * `spike cipher encrypt|decrypt`: encryption as a service, so
 * `echo hi | spike cipher encrypt | spike cipher decrypt` works.
 *
 * @module
 */

import type { CommandGroup } from "../../cli.ts";
import { decrypt } from "./decrypt.ts";
import { encrypt } from "./encrypt.ts";

/** `spike cipher`. */
export const cipherCommands: CommandGroup = {
  name: "cipher",
  summary: "Encrypt and decrypt with Nexus (encryption as a service)",
  commands: [encrypt, decrypt],
};
