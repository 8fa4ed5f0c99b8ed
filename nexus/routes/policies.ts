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
import type { RouteRequest } from "../../lib/http/dispatch.ts";
import type { StoredPolicy } from "../auth/policy.ts";
import { SYSTEM_PATH } from "../auth/guard.ts";
import type { NexusContext } from "../context.ts";
import { nexusRoute, policyRule, type RouteGroup } from "./route.ts";

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

/** Notes the policy named in the audit record once the body is read. */
function noted<T>(request: RouteRequest<string>, name: string, body: T): T {
  request.note("policy", name);
  return body;
}

/** The policy route handlers. */
export function policyHandlers(ctx: NexusContext): RouteGroup<"policy"> {
  return {
    "policy.put": nexusRoute({
      read: async (request) => {
        const body = readPolicyPut(await request.json());
        return noted(request, body.name, body);
      },
      rule: () => policyRule(SYSTEM_PATH.acl, "write"),
      act: async (body) => {
        await ctx.policies.put(validatePolicyPut(body));
        return { json: {} };
      },
    }),

    "policy.get": nexusRoute({
      read: async (request) => {
        const body = readPolicyId(await request.json());
        return noted(request, body.id, body);
      },
      rule: () => policyRule(SYSTEM_PATH.acl, "read"),
      act: async (body) => {
        const policy = await ctx.policies.get(validatePolicyId(body));
        return { json: policyResponse(policy) };
      },
    }),

    "policy.delete": nexusRoute({
      read: async (request) => {
        const body = readPolicyId(await request.json());
        return noted(request, body.id, body);
      },
      rule: () => policyRule(SYSTEM_PATH.acl, "write"),
      act: async (body) => {
        await ctx.policies.delete(validatePolicyId(body));
        return { json: {} };
      },
    }),

    "policy.list": nexusRoute({
      read: async (request) => parsePolicyList(await request.json()),
      rule: () => policyRule(SYSTEM_PATH.acl, "list"),
      act: async (filter) => {
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
    }),
  };
}
