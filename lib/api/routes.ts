/**
 * Every route of Nexus and Keeper: exact path plus the `action` query value,
 * always POST, and the facts about each route that servers and clients act
 * on (served by the lite backend? needs the root key? safe to retry?). This
 * is the one place those facts are stated: servers route and gate with this
 * table; clients build URLs and decide retries from it.
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
  /** Not upstream: readiness, key generation, backend, Keepers, version (lib/api/status.ts). */
  status: "/v1/status",
  // Root-key rotation (ours; lib/api/rotation.ts).
  operatorRotate: "/v1/operator/rotate",
  /** Ours: new shares of the same root key for a new Keeper set (lib/api/rotation.ts). */
  operatorRekey: "/v1/operator/rekey",
} as const;

/** Keeper API paths. */
export const KeeperPath = {
  contribute: "/v1/store/contribute",
  shard: "/v1/store/shard",
} as const;

/**
 * The root-key state a route needs before it runs: `ready` (the usual case),
 * `pending` (a candidate key Bootstrap has yet to confirm will do), or `none`
 * (the routes that bring the key back, or ask whether there is one).
 */
export type KeyNeed = "ready" | "pending" | "none";

/** One route: a name, its path and action, the fields of its error body, and its facts. */
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
  /** Served by the lite backend, which stores nothing but the key check (as upstream). */
  readonly lite: boolean;
  /** What the server's root key must be before the route runs (Nexus; Keeper routes: `none`). */
  readonly needsKey: KeyNeed;
  /** Changes nothing, so a client may send it again after a failure. */
  readonly retrySafe: boolean;
  /** A larger request body than the server's default limit (the backup restore). */
  readonly maxBodyBytes?: number;
}

interface RouteFacts {
  errorShape?: Record<string, unknown>;
  errorKey?: "err" | "Err";
  lite?: boolean;
  needsKey?: KeyNeed;
  retrySafe?: boolean;
  maxBodyBytes?: number;
}

function route<Name extends string>(
  name: Name,
  path: string,
  action: string,
  facts: RouteFacts = {},
): RouteSpec<Name> {
  return {
    name,
    path,
    action,
    errorShape: facts.errorShape ?? {},
    errorKey: facts.errorKey ?? "err",
    lite: facts.lite ?? false,
    needsKey: facts.needsKey ?? "ready",
    retrySafe: facts.retrySafe ?? false,
    ...(facts.maxBodyBytes ? { maxBodyBytes: facts.maxBodyBytes } : {}),
  };
}

// Issue 15, data lifecycle: destroy and backup (their own block, for merging).

/** Not upstream: the backup routes (`nexus/routes/backup.ts`, `lib/api/backup.ts`). */
export const BackupPath = {
  /** `""`: take a backup (answers the file); `restore`: load one (the file is the body). */
  backup: "/v1/operator/backup",
} as const;

/** The largest backup a restore takes, and a backup answer a client reads: 512 MiB. */
export const BACKUP_MAX_BYTES = 512 * 1024 * 1024;

/**
 * `secret.destroy` (upstream #257 asks for it as `purge`): versions, or the
 * whole path, removed from storage; `backup.take` and `backup.restore`: the
 * superuser's consistent, still-sealed snapshot of the store, and loading one
 * into a Nexus that holds the same root key (pending or ready).
 */
const LIFECYCLE_ROUTES = [
  route("secret.destroy", NexusPath.secrets, "destroy"),
  route("backup.take", BackupPath.backup, "", { retrySafe: true }),
  route("backup.restore", BackupPath.backup, "restore", {
    errorShape: { records: 0 },
    needsKey: "pending",
    maxBodyBytes: BACKUP_MAX_BYTES,
  }),
] as const;

/** Nexus routes. */
export const NEXUS_ROUTES = [
  route("secret.put", NexusPath.secrets, ""),
  route("secret.get", NexusPath.secrets, "get", { errorShape: { data: null }, retrySafe: true }),
  route("secret.delete", NexusPath.secrets, "delete"),
  route("secret.undelete", NexusPath.secrets, "undelete"),
  route("secret.list", NexusPath.secrets, "list", { errorShape: { keys: null }, retrySafe: true }),
  route("secret.metadata", NexusPath.secretsMetadata, "get", {
    errorShape: {
      metadata: {
        currentVersion: 0,
        oldestVersion: 0,
        createdTime: "0001-01-01T00:00:00Z",
        updatedTime: "0001-01-01T00:00:00Z",
        maxVersions: 0,
      },
    },
    retrySafe: true,
  }),
  route("policy.put", NexusPath.policy, ""),
  route("policy.get", NexusPath.policy, "get", {
    errorShape: {
      id: "",
      name: "",
      spiffiedPattern: "",
      pathPattern: "",
      permissions: null,
      createdAt: "0001-01-01T00:00:00Z",
      updatedAt: "0001-01-01T00:00:00Z",
    },
    retrySafe: true,
  }),
  route("policy.delete", NexusPath.policy, "delete"),
  route("policy.list", NexusPath.policy, "list", {
    errorShape: { policies: null },
    retrySafe: true,
  }),
  route("cipher.encrypt", NexusPath.cipherEncrypt, "", {
    errorShape: { version: 0, nonce: null, ciphertext: null },
    lite: true,
  }),
  route("cipher.decrypt", NexusPath.cipherDecrypt, "", {
    errorShape: { plaintext: null },
    lite: true,
    retrySafe: true,
  }),
  route("operator.recover", NexusPath.operatorRecover, "", {
    errorShape: { shards: null },
    lite: true,
    needsKey: "none",
  }),
  route("operator.restore", NexusPath.operatorRestore, "", {
    errorShape: { collected: 0, remaining: 0, restored: false },
    lite: true,
    needsKey: "none",
  }),
  route("bootstrap.verify", NexusPath.bootstrapVerify, "", {
    errorShape: { hash: "" },
    lite: true,
    needsKey: "pending",
  }),
  route("bootstrap.state", NexusPath.bootstrapState, "", {
    errorShape: { initialized: false },
    lite: true,
    needsKey: "none",
    retrySafe: true,
  }),
  route("status.get", NexusPath.status, "", {
    errorShape: {
      ready: false,
      keyState: "",
      keyGeneration: 0,
      backend: "",
      keepers: null,
      threshold: 0,
      version: "",
    },
    lite: true,
    needsKey: "none",
    retrySafe: true,
  }),
  // Root-key rotation (ours; lib/api/rotation.ts): the superuser only.
  route("rootkey.rotate", NexusPath.operatorRotate, "", {
    errorShape: { from: 0, to: 0, state: "", done: false, resealed: 0 },
    lite: true,
  }),
  route("rootkey.rekey", NexusPath.operatorRekey, "", {
    errorShape: { done: false, threshold: 0, keepers: null, notForgotten: null },
    lite: true,
  }),
  ...LIFECYCLE_ROUTES,
] as const;

/** A Nexus route name. */
export type NexusRouteName = typeof NEXUS_ROUTES[number]["name"];

/** Keeper routes. */
export const KEEPER_ROUTES = [
  route("keeper.contribute", KeeperPath.contribute, "", { needsKey: "none" }),
  route("keeper.shard", KeeperPath.shard, "", {
    errorShape: { shard: null },
    errorKey: "Err",
    needsKey: "none",
  }),
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
