/**
 * What Nexus routes share: configuration, the root-key state, roles, the
 * Keeper link and the logger. Built once at start by `server.ts`.
 *
 * @module
 */

import type { Logger } from "../lib/log.ts";
import type { RoleSet } from "../lib/roles.ts";
import type { NexusConfig } from "./config.ts";
import type { KeeperLink } from "./state/keepers.ts";
import type { PolicyStore } from "./state/policies.ts";
import type { SecretStore } from "./state/secrets.ts";
import type { RootKeyState } from "./state/rootkey.ts";
import type { Store } from "./store/store.ts";

/** Shared by every Nexus route. */
export interface NexusContext {
  readonly config: NexusConfig;
  readonly state: RootKeyState;
  readonly roles: RoleSet;
  /** The store (for the lite backend, only the key-check record is in it). */
  readonly store: Store;
  readonly secrets: SecretStore;
  readonly policies: PolicyStore;
  /** Present when Nexus works with Keepers (kv and lite backends). */
  readonly keepers: KeeperLink | undefined;
  readonly log: Logger;
}
