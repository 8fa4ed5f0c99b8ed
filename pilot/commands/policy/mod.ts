/**
 * `spike policy create|apply|list|get|delete`, with upstream's flags and
 * outputs and non-zero exit codes on every error; one file per command, as
 * upstream's `cmd/policy/`.
 *
 * @module
 */

import type { CommandGroup } from "../../cli.ts";
import { apply } from "./apply.ts";
import { create } from "./create.ts";
import { del } from "./delete.ts";
import { get } from "./get.ts";
import { list } from "./list.ts";

/** `spike policy`. */
export const policyCommands: CommandGroup = {
  name: "policy",
  summary: "Manage access policies",
  commands: [create, apply, list, get, del],
};
