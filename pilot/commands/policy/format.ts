/**
 * The policy commands' output: upstream's human layouts and the API's policy
 * object, keys in the API's order (`spiffiedPattern` is upstream's spelling,
 * which `apply --file` takes back).
 *
 * @module
 */

import type { PolicyResponse } from "../../../lib/api/policies.ts";

/** Go's `time.RFC3339` form of an API time: no fractional seconds. */
function rfc3339(time: string): string {
  return time.replace(/\.\d+(?=(Z|[+-]\d{2}:\d{2})$)/, "");
}

/** True for Go's zero `time.Time` (or no time at all). */
function isZeroTime(time: string | undefined | null): boolean {
  return !time || time.startsWith("0001-01-01");
}

/** The policy object as the API answers it, keys in the API's order. */
export function policyObject(p: PolicyResponse): PolicyResponse {
  return {
    id: p.id ?? "",
    name: p.name,
    spiffiedPattern: p.spiffiedPattern,
    pathPattern: p.pathPattern,
    permissions: p.permissions ?? [],
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** A title underlined to its exact length. */
function title(text: string): string {
  return `${text}\n${"=".repeat(text.length)}\n\n`;
}

/** Upstream's human layout of one policy. */
export function formatPolicy(p: PolicyResponse): string {
  let out = title("POLICY DETAILS") +
    `Name: ${p.name}\n` +
    `SPIFFE ID Pattern: ${p.spiffiedPattern}\n` +
    `Path Pattern: ${p.pathPattern}\n` +
    `Permissions: ${(p.permissions ?? []).join(", ")}\n` +
    `Created At: ${rfc3339(p.createdAt ?? "")}\n`;
  if (!isZeroTime(p.updatedAt)) out += `Updated At: ${rfc3339(p.updatedAt)}\n`;
  return out;
}

/** Upstream's human layout of a policy list (non-empty). */
export function formatPolicyList(policies: { name: string }[]): string {
  return title("POLICIES") + policies.map((p) => `Name: ${p.name}\n--------\n\n`).join("");
}
