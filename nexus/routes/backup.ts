/**
 * The backup routes (ours; upstream has none): `backup.take` answers a
 * consistent, still-sealed snapshot of the store as a backup file;
 * `backup.restore` loads one (the file is the body) into a Nexus holding the
 * same root key, ready or pending. Both are the Pilot superuser's only: a
 * backup is every record of the store, which no path policy describes. The
 * restore's body is read only after the guard, so a caller without the role
 * cannot make Nexus read a large body.
 *
 * @module
 */

import { BACKUP_CONTENT_TYPE, RESTORE_FORCE_HEADER } from "../../lib/api/backup.ts";
import type { NexusContext } from "../context.ts";
import { restoreBackup, takeBackup } from "../state/backup.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

/** The backup route handlers. */
export function backupHandlers(ctx: NexusContext): RouteGroup<"backup"> {
  return {
    "backup.take": nexusRoute({
      read: (request) => request.json(),
      rule: () => ({ role: "pilot-superuser" }),
      act: async (_, request) => {
        const bytes = await takeBackup(ctx.store, ctx.config.backend);
        request.note("bytes", bytes.length);
        ctx.log.notice("backup taken", { caller: request.peer.toString(), bytes: bytes.length });
        return { bytes, contentType: BACKUP_CONTENT_TYPE };
      },
    }),

    "backup.restore": nexusRoute({
      read: () => Promise.resolve({}),
      rule: () => ({ role: "pilot-superuser" }),
      act: async (_, request) => {
        const force = request.headers[RESTORE_FORCE_HEADER] === "true";
        const bytes = await request.body();
        const result = await restoreBackup(ctx, bytes, force);
        request.note("records", result.records);
        request.note("replaced", result.replaced);
        return { json: result };
      },
    }),
  };
}
