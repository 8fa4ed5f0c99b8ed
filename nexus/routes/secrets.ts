/**
 * The secret routes: put, get, delete, undelete, list and metadata. Each one
 * reads its body (shape errors are 400), guards (401), validates the fields
 * (400), then acts. Audit records get the path and version, never a value.
 *
 * @module
 */

import { goTime } from "../../lib/api/json.ts";
import type { NexusRouteName } from "../../lib/api/routes.ts";
import {
  readSecretPut,
  readSecretVersion,
  readSecretVersions,
  type SecretGetResponse,
  type SecretListResponse,
  type SecretMetadataResponse,
  validateSecretPath,
  validateSecretValues,
} from "../../lib/api/secrets.ts";
import type { RouteHandler } from "../../lib/http/dispatch.ts";
import { guard, SYSTEM_PATH } from "../auth/guard.ts";
import type { NexusContext } from "../context.ts";

type SecretRoute =
  | "secret.put"
  | "secret.get"
  | "secret.delete"
  | "secret.undelete"
  | "secret.list"
  | "secret.metadata";

/** The secret route handlers. */
export function secretHandlers(
  ctx: NexusContext,
): Record<SecretRoute, RouteHandler<NexusRouteName>> {
  return {
    "secret.put": async (request) => {
      const { path, values, cas } = readSecretPut(await request.json());
      request.note("path", path);
      await guard(ctx, request.peer, { path, wanted: ["write"], lite: "deny" });
      validateSecretPath(path);
      const json = validateSecretValues(values);
      const version = await ctx.secrets.put(path, json, cas);
      json.fill(0);
      request.note("version", version);
      return { json: {} };
    },

    "secret.get": async (request) => {
      const { path, version } = readSecretVersion(await request.json());
      request.note("path", path);
      await guard(ctx, request.peer, { path, wanted: ["read"], lite: "deny" });
      validateSecretPath(path);
      const response: SecretGetResponse = { data: await ctx.secrets.get(path, version) };
      return { json: response };
    },

    "secret.delete": async (request) => {
      const { path, versions } = readSecretVersions(await request.json());
      request.note("path", path);
      await guard(ctx, request.peer, { path, wanted: ["write"], lite: "deny" });
      validateSecretPath(path);
      await ctx.secrets.delete(path, versions);
      return { json: {} };
    },

    "secret.undelete": async (request) => {
      const { path, versions } = readSecretVersions(await request.json());
      request.note("path", path);
      await guard(ctx, request.peer, { path, wanted: ["write"], lite: "deny" });
      validateSecretPath(path);
      await ctx.secrets.undelete(path, versions);
      return { json: {} };
    },

    "secret.list": async (request) => {
      await request.json();
      await guard(ctx, request.peer, {
        path: SYSTEM_PATH.secretList,
        wanted: ["list"],
        lite: "deny",
      });
      const response: SecretListResponse = { keys: await ctx.secrets.list() };
      return { json: response };
    },

    "secret.metadata": async (request) => {
      const { path, version } = readSecretVersion(await request.json());
      request.note("path", path);
      await guard(ctx, request.peer, { path, wanted: ["read"], lite: "deny" });
      validateSecretPath(path);
      const meta = await ctx.secrets.metadata(path, version);
      const response: SecretMetadataResponse = {
        versions: Object.fromEntries(
          Object.entries(meta.versions).map(([n, v]) => [n, {
            createdTime: goTime(v.created),
            version: Number(n),
            deletedTime: v.deleted === null ? null : goTime(v.deleted),
          }]),
        ),
        metadata: {
          currentVersion: meta.current,
          oldestVersion: meta.oldest,
          createdTime: goTime(meta.created),
          updatedTime: goTime(meta.updated),
          maxVersions: meta.maxVersions,
        },
      };
      return { json: response };
    },
  };
}
