/**
 * `spike secret put|patch|get|list|delete|undelete|destroy|metadata get|export`.
 *
 * @module
 */

import type { CommandGroup } from "../../cli.ts";
import { destroy, purge } from "./destroy.ts";
import { exportCommand } from "./export.ts";
import { get } from "./get.ts";
import { list } from "./list.ts";
import { metadataGet } from "./metadata.ts";
import { patch } from "./patch.ts";
import { put } from "./put.ts";
import { versionsCommand } from "./versions.ts";

/** `spike secret`. */
export const secretCommands: CommandGroup = {
  name: "secret",
  summary: "Store and read secrets",
  commands: [
    put,
    patch,
    get,
    list,
    versionsCommand("delete"),
    versionsCommand("undelete"),
    destroy,
    purge,
    { name: "metadata", summary: "Secret metadata", commands: [metadataGet] },
    exportCommand,
  ],
};
