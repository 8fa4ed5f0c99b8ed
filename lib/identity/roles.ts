/**
 * SPIKE's identities. Each role has a fixed path; its trust domains come from
 * a comma-separated `SPIKE_TRUST_ROOT_*` variable (default `spike.ist`). An ID
 * has a role when it equals `spiffe://<td><path>` for one of those trust
 * domains, or lies below it (see {@link matchIdOrBelow}).
 *
 * @module
 */

import { envList } from "../config/env.ts";
import { parseTrustDomain, type SpiffeId, spiffeIdFromPath } from "../spiffe/id.ts";
import { type Matcher, matchIdOrBelow } from "../spiffe/match.ts";

/** The roles SPIKE knows. The three Pilot roles are disjoint. */
export type Role =
  | "nexus"
  | "keeper"
  | "bootstrap"
  | "pilot-superuser"
  | "pilot-recover"
  | "pilot-restore"
  | "lite-workload";

/** The trust domain every role defaults to. */
export const DEFAULT_TRUST_ROOT = "spike.ist";

/** Each role's path and the variable that lists its trust domains. */
export const ROLES: Readonly<Record<Role, { readonly path: string; readonly env: string }>> = {
  "nexus": { path: "/spike/nexus", env: "SPIKE_TRUST_ROOT_NEXUS" },
  "keeper": { path: "/spike/keeper", env: "SPIKE_TRUST_ROOT_KEEPER" },
  "bootstrap": { path: "/spike/bootstrap", env: "SPIKE_TRUST_ROOT_BOOTSTRAP" },
  "pilot-superuser": { path: "/spike/pilot/role/superuser", env: "SPIKE_TRUST_ROOT_PILOT" },
  "pilot-recover": { path: "/spike/pilot/role/recover", env: "SPIKE_TRUST_ROOT_PILOT" },
  "pilot-restore": { path: "/spike/pilot/role/restore", env: "SPIKE_TRUST_ROOT_PILOT" },
  "lite-workload": { path: "/spike/workload/role/lite", env: "SPIKE_TRUST_ROOT_LITE_WORKLOAD" },
};

/** The trust domains a role accepts, from its `SPIKE_TRUST_ROOT_*` variable. */
export function trustRootsFor(role: Role): string[] {
  const { env } = ROLES[role];
  const roots = envList(env, [DEFAULT_TRUST_ROOT]);
  for (const root of roots) {
    try {
      parseTrustDomain(root);
    } catch (e) {
      throw new Error(
        `${env} lists "${root}", which is not a trust domain: ${(e as Error).message}`,
      );
    }
  }
  return roots;
}

/** The role's base IDs, one per trust root. */
export function roleIds(role: Role, trustRoots: string[] = trustRootsFor(role)): SpiffeId[] {
  return trustRoots.map((root) => spiffeIdFromPath(parseTrustDomain(root), ROLES[role].path));
}

/** A matcher for the role, with trust roots from the environment unless given. */
export function roleMatcher(role: Role, trustRoots?: string[]): Matcher {
  return matchIdOrBelow(...roleIds(role, trustRoots));
}

/** True when `id` has `role` (trust roots from the environment). */
export function hasRole(id: SpiffeId, role: Role): boolean {
  return roleMatcher(role)(id);
}

/** Every role's matcher, built once (reading and checking the environment at start). */
export class RoleSet {
  readonly #matchers: Map<Role, Matcher>;
  readonly #trustDomains: ReadonlySet<string>;

  private constructor(matchers: Map<Role, Matcher>, trustDomains: Iterable<string>) {
    this.#matchers = matchers;
    this.#trustDomains = new Set(trustDomains);
  }

  /** Reads every `SPIKE_TRUST_ROOT_*` variable now; a bad value throws, naming it. */
  static fromEnv(): RoleSet {
    const roles = Object.keys(ROLES) as Role[];
    const domains = roles.flatMap((r) => trustRootsFor(r));
    return new RoleSet(new Map(roles.map((r) => [r, roleMatcher(r)])), domains);
  }

  /**
   * True when `id` belongs to a trust domain that some role's
   * `SPIKE_TRUST_ROOT_*` names: a member of SPIKE's trust domains, whatever
   * its role (a federated stranger is not).
   */
  isMember(id: SpiffeId): boolean {
    return this.#trustDomains.has(id.trustDomain.name);
  }

  /** True when `id` has `role`. */
  has(id: SpiffeId, role: Role): boolean {
    return this.#matchers.get(role)!(id);
  }

  /** True when `id` has any of `roles`. */
  hasAny(id: SpiffeId, ...roles: Role[]): boolean {
    return roles.some((r) => this.has(id, r));
  }
}
