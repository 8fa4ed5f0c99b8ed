/**
 * The secret routes: put, get, delete, undelete, destroy, list and metadata. Each one
 * reads its body (shape errors are 400), is guarded on the path (401),
 * validates the fields (400), then acts. Get and metadata start their read
 * of the path's record while the guard reads the policies (one store round
 * trip for both); it reaches them only when the guard allows. Audit records
 * get the path and version, never a value.
 *
 * @module
 */

import { goTime } from "../../lib/api/json.ts";
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
import type { RouteRequest } from "../../lib/http/dispatch.ts";
import { SYSTEM_PATH } from "../auth/guard.ts";
import type { NexusContext } from "../context.ts";
import { scrubOf } from "../store/snapshot.ts";
import { nexusRoute, policyRule, type RouteGroup } from "./route.ts";

/** Notes the secret path in the audit record once the body is read. */
function noted<T extends { path: string }>(request: RouteRequest<string>, body: T): T {
  request.note("path", body.path);
  return body;
}

/**
 * The metadata read a get starts with, begun while the guard reads the
 * policies, so both reach the store in one round trip (none for a path
 * `act` will refuse).
 */
function earlyMeta(ctx: NexusContext, path: string) {
  try {
    validateSecretPath(path);
  } catch {
    return undefined;
  }
  return ctx.secrets.readMeta(path);
}

/** The one field of a {@link SecretGetResponse}, named through its type so that the two agree. */
const DATA_FIELD: keyof SecretGetResponse = "data";
const GET_HEAD = new TextEncoder().encode(`{"${DATA_FIELD}":`);

/**
 * The {@link SecretGetResponse} of stored values (a JSON object, as
 * `validateSecretValues` wrote it), spliced in as they are: no parse of the
 * values and no strings of them. The pipeline zeroes it once sent.
 */
function getResponse(values: Uint8Array): Uint8Array {
  const out = new Uint8Array(GET_HEAD.length + values.length + 1);
  out.set(GET_HEAD);
  out.set(values, GET_HEAD.length);
  out[out.length - 1] = 0x7d; // "}"
  return out;
}

/** The secret route handlers. */
export function secretHandlers(ctx: NexusContext): RouteGroup<"secret"> {
  return {
    "secret.put": nexusRoute({
      read: async (request) => noted(request, readSecretPut(await request.json())),
      rule: ({ path }) => policyRule(path, "write"),
      act: async ({ path, values, cas }, request) => {
        validateSecretPath(path);
        const json = validateSecretValues(values);
        const version = await ctx.secrets.put(path, json, cas);
        json.fill(0);
        request.note("version", version);
        return { json: {} };
      },
    }),

    "secret.get": nexusRoute({
      read: async (request) => noted(request, readSecretVersion(await request.json())),
      rule: ({ path }) => policyRule(path, "read"),
      early: ({ path }) => earlyMeta(ctx, path),
      act: async ({ path, version }, _request, early) => {
        validateSecretPath(path);
        const values = await ctx.secrets.getJson(path, version, early);
        try {
          return { encoded: getResponse(values) };
        } finally {
          values.fill(0);
        }
      },
    }),

    "secret.delete": nexusRoute({
      read: async (request) => noted(request, readSecretVersions(await request.json())),
      rule: ({ path }) => policyRule(path, "write"),
      act: async ({ path, versions }) => {
        validateSecretPath(path);
        await ctx.secrets.delete(path, versions);
        return { json: {} };
      },
    }),

    "secret.undelete": nexusRoute({
      read: async (request) => noted(request, readSecretVersions(await request.json())),
      rule: ({ path }) => policyRule(path, "write"),
      act: async ({ path, versions }) => {
        validateSecretPath(path);
        await ctx.secrets.undelete(path, versions);
        return { json: {} };
      },
    }),

    "secret.destroy": nexusRoute({
      read: async (request) => noted(request, readSecretVersions(await request.json())),
      // Irreversible, unlike delete: `write` is not enough; `super` on the path (or the superuser).
      rule: ({ path }) => policyRule(path, "super"),
      act: async ({ path, versions }, request) => {
        validateSecretPath(path);
        const destroyed = await ctx.secrets.destroy(path, versions);
        request.note("destroyed", versions.length === 0 ? "all" : destroyed.join(","));
        // The records are gone from the store; now their bytes leave the files (scrubOf).
        const left = await scrubOf(ctx.store);
        if (left) ctx.log.warn("secret destroyed, but " + left, { path });
        return { json: {} };
      },
    }),

    "secret.list": nexusRoute({
      read: (request) => request.json(),
      rule: () => policyRule(SYSTEM_PATH.secretList, "list"),
      act: async () => {
        const response: SecretListResponse = { keys: await ctx.secrets.list() };
        return { json: response };
      },
    }),

    "secret.metadata": nexusRoute({
      read: async (request) => noted(request, readSecretVersion(await request.json())),
      rule: ({ path }) => policyRule(path, "read"),
      early: ({ path }) => earlyMeta(ctx, path),
      act: async ({ path, version }, _request, early) => {
        validateSecretPath(path);
        const meta = await ctx.secrets.metadata(path, version, early);
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
    }),
  };
}
