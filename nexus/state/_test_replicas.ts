/**
 * Test support: Nexus processes' state objects on one store, with Keepers in
 * memory, as the rotation and route tests build them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KeeperClient } from "../../lib/client/keeper.ts";
import { shareIndex, splitRootKey } from "../../lib/crypto/shamir.ts";
import { createLogger } from "../../lib/log/log.ts";
import type { Store } from "../store/store.ts";
import { KeeperLink } from "./keepers.ts";
import { Policies } from "./policies.ts";
import { RootKeyState } from "./rootkey.ts";
import { Rotation } from "./rotation.ts";
import { Secrets } from "./secrets.ts";

/** Three Keepers, by index and URL. */
export const KEEPERS = [1, 2, 3].map((index) => ({ index, url: `https://keeper-${index}` }));
/** Shares as `RootKeyState.adopt` takes them: copies, by share index. */
export const sharesByIndex = (shares: Uint8Array[]) =>
  new Map(shares.map((s) => [shareIndex(s), s.slice()]));
/** Secret values as a put takes them. */
export const json = (values: Record<string, string>) =>
  new TextEncoder().encode(JSON.stringify(values));

/** Keepers in memory; `down` ones refuse every call. */
export function fakeKeepers(initial: Uint8Array[]) {
  const held = new Map(initial.map((s) => [shareIndex(s), s.slice()]));
  const down = new Set<number>();
  const index = (url: string) => Number(url.at(-1));
  const client = {
    contribute: (url: string, share: Uint8Array) => {
      if (down.has(index(url))) return Promise.reject(new Error("down"));
      held.set(index(url), share.slice());
      return Promise.resolve();
    },
    shard: (url: string) => {
      if (down.has(index(url))) return Promise.reject(new Error("down"));
      return Promise.resolve(held.get(index(url))?.slice() ?? null);
    },
  } as unknown as KeeperClient;
  return { held, down, client };
}

/** One Nexus process's objects on `store` (its Rotation not watching). */
export function nexus(store: Store, client: KeeperClient) {
  const state = new RootKeyState(2, 3, store);
  const secrets = new Secrets(store, () => state.sealing("secrets"), () => 10, state);
  const policies = new Policies(store, () => state.sealing("policies"), state);
  const log = createLogger("test", "ERROR", () => {});
  const keepers = new KeeperLink({
    state,
    keepers: KEEPERS,
    client,
    log,
    updateIntervalMs: 60_000,
  });
  const rotation = new Rotation({ state, store, secrets, policies, keepers, log });
  return { state, secrets, policies, keepers, rotation };
}

/** A new root key's shares, Keepers holding them, and a first Nexus on `store` that adopted it. */
export async function firstReplica(store: Store) {
  const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
  const keepers = fakeKeepers(shares);
  const a = nexus(store, keepers.client);
  await a.state.adopt(sharesByIndex(shares.slice(0, 2)), "restore");
  return { shares, keepers, a };
}

/** Waits (up to 2 s) until `n`'s key is ready. */
export async function untilReady(n: { state: RootKeyState }): Promise<void> {
  for (let i = 0; i < 200 && n.state.status !== "ready"; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(n.state.status, "ready");
}
