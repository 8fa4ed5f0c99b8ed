/**
 * Every route of Nexus and Keeper: exact path plus the `action` query value,
 * always POST. Servers route with this table; clients build URLs from it.
 *
 * @module
 */

/** Nexus API paths. */
export const NexusPath = {
  secrets: "/v1/store/secrets",
  secretsMetadata: "/v1/store/secrets/metadata",
  policy: "/v1/acl/policy",
  cipherEncrypt: "/v1/cipher/encrypt",
  cipherDecrypt: "/v1/cipher/decrypt",
  operatorRecover: "/v1/operator/recover",
  operatorRestore: "/v1/operator/restore",
  bootstrapVerify: "/v1/bootstrap/verify",
  /** Not upstream: lets Bootstrap learn whether Nexus already has a root key and data. */
  bootstrapState: "/v1/bootstrap/state",
} as const;

/** Keeper API paths. */
export const KeeperPath = {
  contribute: "/v1/store/contribute",
  shard: "/v1/store/shard",
} as const;

/** One route: a name, its path and action, and the fields of its error body. */
export interface RouteSpec<Name extends string = string> {
  readonly name: Name;
  readonly path: string;
  readonly action: string;
  /**
   * Zero values of the route's response fields; an error answer is these plus
   * `err` (the Keeper's shard route says `Err`), as the Go servers serialise them.
   */
  readonly errorShape: Readonly<Record<string, unknown>>;
  /** The key that carries the error code. */
  readonly errorKey?: "err" | "Err";
}

function route<Name extends string>(
  name: Name,
  path: string,
  action: string,
  errorShape: Record<string, unknown> = {},
  errorKey: "err" | "Err" = "err",
): RouteSpec<Name> {
  return { name, path, action, errorShape, errorKey };
}

/** Nexus routes. */
export const NEXUS_ROUTES = [
  route("secret.put", NexusPath.secrets, ""),
  route("secret.get", NexusPath.secrets, "get", { data: null }),
  route("secret.delete", NexusPath.secrets, "delete"),
  route("secret.undelete", NexusPath.secrets, "undelete"),
  route("secret.list", NexusPath.secrets, "list", { keys: null }),
  route("secret.metadata", NexusPath.secretsMetadata, "get", {
    metadata: {
      currentVersion: 0,
      oldestVersion: 0,
      createdTime: "0001-01-01T00:00:00Z",
      updatedTime: "0001-01-01T00:00:00Z",
      maxVersions: 0,
    },
  }),
  route("policy.put", NexusPath.policy, ""),
  route("policy.get", NexusPath.policy, "get", {
    id: "",
    name: "",
    spiffiedPattern: "",
    pathPattern: "",
    permissions: null,
    createdAt: "0001-01-01T00:00:00Z",
    updatedAt: "0001-01-01T00:00:00Z",
  }),
  route("policy.delete", NexusPath.policy, "delete"),
  route("policy.list", NexusPath.policy, "list", { policies: null }),
  route("cipher.encrypt", NexusPath.cipherEncrypt, "", {
    version: 0,
    nonce: null,
    ciphertext: null,
  }),
  route("cipher.decrypt", NexusPath.cipherDecrypt, "", { plaintext: null }),
  route("operator.recover", NexusPath.operatorRecover, "", { shards: null }),
  route("operator.restore", NexusPath.operatorRestore, "", {
    collected: 0,
    remaining: 0,
    restored: false,
  }),
  route("bootstrap.verify", NexusPath.bootstrapVerify, "", { hash: "" }),
  route("bootstrap.state", NexusPath.bootstrapState, "", { initialized: false }),
] as const;

/** A Nexus route name. */
export type NexusRouteName = typeof NEXUS_ROUTES[number]["name"];

/** Keeper routes. */
export const KEEPER_ROUTES = [
  route("keeper.contribute", KeeperPath.contribute, ""),
  route("keeper.shard", KeeperPath.shard, "", { shard: null }, "Err"),
] as const;

/** A Keeper route name. */
export type KeeperRouteName = typeof KEEPER_ROUTES[number]["name"];

/** Finds the route for an exact path and action, as upstream's single handler does. */
export function findRoute<R extends RouteSpec>(
  routes: readonly R[],
  path: string,
  action: string,
): R | undefined {
  return routes.find((r) => r.path === path && r.action === action);
}

/** The request target of a route: its path, plus `?action=` when it has one. */
export function routeTarget(spec: RouteSpec): string {
  return spec.action === "" ? spec.path : `${spec.path}?action=${spec.action}`;
}

/** The route spec by name. */
export function nexusRoute(name: NexusRouteName): RouteSpec<NexusRouteName> {
  return NEXUS_ROUTES.find((r) => r.name === name)!;
}

/** The Keeper route spec by name. */
export function keeperRoute(name: KeeperRouteName): RouteSpec<KeeperRouteName> {
  return KEEPER_ROUTES.find((r) => r.name === name)!;
}
