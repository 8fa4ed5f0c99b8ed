/**
 * The policy routes: put (create or replace by name), get, delete and list.
 * Reading policies needs `read`, changing them `write`, listing `list`, all on
 * the reserved path `spike/system/acl` (or the superuser). A missing policy is
 * a 404 (upstream answers 500).
 *
 * @module
 */

import {
  parsePolicyList,
  type PolicyListResponse,
  type PolicyResponse,
  readPolicyId,
  readPolicyPut,
  validatePolicyId,
  validatePolicyPut,
} from "../../lib/api/policies.ts";
import { goTime } from "../../lib/api/json.ts";
import type { NexusRouteName } from "../../lib/api/routes.ts";
import type { RouteHandler } from "../../lib/http/dispatch.ts";
import type { StoredPolicy } from "../auth/policy.ts";
import { guard, SYSTEM_PATH } from "../auth/guard.ts";
import type { NexusContext } from "../context.ts";

type PolicyRoute = "policy.put" | "policy.get" | "policy.delete" | "policy.list";

/** A stored policy as the API shows it (`spiffiedPattern` is upstream's spelling). */
export function policyResponse(p: StoredPolicy): PolicyResponse {
  return {
    id: "",
    name: p.name,
    spiffiedPattern: p.spiffeIdPattern,
    pathPattern: p.pathPattern,
    permissions: [...p.permissions],
    createdAt: goTime(p.createdAt.getTime()),
    updatedAt: goTime(p.updatedAt.getTime()),
  };
}

/** The policy route handlers. */
export function policyHandlers(
  ctx: NexusContext,
): Record<PolicyRoute, RouteHandler<NexusRouteName>> {
  const acl = (wanted: "read" | "write" | "list") => ({
    path: SYSTEM_PATH.acl,
    wanted: [wanted],
    lite: "deny" as const,
  });
  return {
    "policy.put": async (request) => {
      const body = readPolicyPut(await request.json());
      request.note("policy", body.name);
      await guard(ctx, request.peer, acl("write"));
      const policy = validatePolicyPut(body);
      await ctx.policies.put(policy);
      return { json: {} };
    },

    "policy.get": async (request) => {
      const body = readPolicyId(await request.json());
      request.note("policy", body.id);
      await guard(ctx, request.peer, acl("read"));
      const policy = await ctx.policies.get(validatePolicyId(body));
      return { json: policyResponse(policy) };
    },

    "policy.delete": async (request) => {
      const body = readPolicyId(await request.json());
      request.note("policy", body.id);
      await guard(ctx, request.peer, acl("write"));
      await ctx.policies.delete(validatePolicyId(body));
      return { json: {} };
    },

    "policy.list": async (request) => {
      const filter = parsePolicyList(await request.json());
      await guard(ctx, request.peer, acl("list"));
      const all = await ctx.policies.all();
      const matching = filter.spiffeidPattern
        ? all.filter((p) => p.spiffeIdPattern === filter.spiffeidPattern)
        : filter.pathPattern
        ? all.filter((p) => p.pathPattern === filter.pathPattern)
        : all;
      const response: PolicyListResponse = {
        policies: matching.map((p) => ({ id: "", name: p.name })),
      };
      return { json: response };
    },
  };
}
