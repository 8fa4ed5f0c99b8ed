/**
 * What Nexus routes share: configuration, the root-key state, roles, the
 * Keeper link and the logger. Built once at start by `server.ts`.
 *
 * @module
 */

import type { AuditFile } from "../lib/log/audit.ts";
import type { Logger } from "../lib/log/log.ts";
import type { RoleSet } from "../lib/identity/roles.ts";
import type { NexusConfig } from "./config.ts";
import type { NexusMetrics } from "./metrics/nexus.ts";
import type { KeeperProbe } from "./state/keeper_probe.ts";
import type { KeeperLink } from "./state/keepers.ts";
import type { Policies } from "./state/policies.ts";
import type { RestoreCollector } from "./state/restore.ts";
import type { Rekey } from "./state/rekey.ts";
import type { Rotation } from "./state/rotation.ts";
import type { Secrets } from "./state/secrets.ts";
import type { RootKeyState } from "./state/rootkey.ts";
import type { Store } from "./store/store.ts";

/** Shared by every Nexus route. */
export interface NexusContext {
  readonly config: NexusConfig;
  readonly state: RootKeyState;
  readonly roles: RoleSet;
  /** The store (for the lite backend, only the key-check record is in it). */
  readonly store: Store;
  readonly secrets: Secrets;
  readonly policies: Policies;
  /** The shares an operator restore has handed back so far. */
  readonly restore: RestoreCollector;
  /** Present when the backend works with Keepers (its profile says so). */
  readonly keepers: KeeperLink | undefined;
  /** Root-key rotation (absent without Keepers). */
  readonly rotation?: Rotation;
  /** New shares of the same root key for a new Keeper set (absent without Keepers). */
  readonly rekey?: Rekey;
  /** Asks the Keepers how they are, for status and metrics (absent without Keepers). */
  readonly keeperProbe?: KeeperProbe;
  /** Present when `SPIKE_NEXUS_METRICS_PORT` is set: every answered request is counted. */
  readonly metrics?: NexusMetrics;
  /** The durable audit file (`SPIKE_NEXUS_AUDIT_FILE`): a request it cannot record is refused. */
  readonly auditFile?: AuditFile;
  readonly log: Logger;
}
