/**
 * Nexus and its Keepers. Until the root key is known, every Keeper is asked
 * for its share, with backoff from 0.5 s growing to 15 s (a request from
 * Bootstrap wakes the loop at once); shares are kept across rounds and handed
 * to the root-key state. Once the key is known, every Keeper gets its share
 * right away and again every update interval, so a restarted Keeper is whole
 * again within one interval.
 *
 * @module
 */

import type { KeeperClient } from "../../lib/client/keeper.ts";
import type { KeeperPeer } from "../../lib/config/peers.ts";
import { SHARE_LENGTH, shareIndex } from "../../lib/crypto/shamir.ts";
import type { Logger } from "../../lib/log/log.ts";
import { errorMessage } from "../../lib/std/errors.ts";
import { type KeeperSet, recoveryPeers } from "./keeper_set.ts";
import type { AdoptResult, RootKeyState } from "./rootkey.ts";

const FIRST_DELAY_MS = 500;
// Bounded low: a replica that Bootstrap does not talk to learns a first key only by looking.
const MAX_DELAY_MS = 15_000;

/** Options for {@link KeeperLink}. */
export interface KeeperLinkOptions {
  state: RootKeyState;
  /** The configured Keepers (`SPIKE_NEXUS_KEEPER_PEERS`); the Keeper set record says which hold shares. */
  keepers: readonly KeeperPeer[];
  client: KeeperClient;
  log: Logger;
  updateIntervalMs: number;
}

/** Recovers the root key from Keepers and keeps them seeded. */
export class KeeperLink {
  readonly #o: KeeperLinkOptions;
  readonly #collected = new Map<number, Uint8Array>();
  /** Keepers named for a wrong share in the current round. */
  readonly #named = new Set<number>();
  #stopped = false;
  #wake: (() => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #offReady: () => void;
  #offLost: () => void;
  #recovering = false;
  /** The Keepers asked in the last round. */
  #peers: readonly KeeperPeer[] = [];

  constructor(options: KeeperLinkOptions) {
    this.#o = options;
    this.#offReady = options.state.onReady(() => this.#seedForever());
    // Another replica rotated the key and retired the one held here: recover the new one.
    this.#offLost = options.state.onLost(() => {
      clearInterval(this.#timer);
      options.log.notice("the root key was rotated by another Nexus; recovering it from keepers");
      this.start();
    });
  }

  /**
   * The set in force, with the configured Keepers' URLs when the state was
   * made without them (it then names Keeper i `#i`).
   */
  #inForce(set: KeeperSet): KeeperSet {
    if (!set.peers.some((p) => p.url.startsWith("#"))) return set;
    return { peers: this.#o.keepers.slice(0, set.peers.length), threshold: set.threshold };
  }

  /** Starts recovering (if the key is not known yet, and no recovery runs). */
  start(): void {
    if (this.#o.state.status === "ready" || this.#recovering || this.#stopped) return;
    this.#recovering = true;
    void this.#recover().finally(() => this.#recovering = false);
  }

  /** Asks the Keepers again now instead of at the end of the current wait. */
  wake(): void {
    this.#wake?.();
  }

  #keeper(index: number): string {
    const all = [...this.#peers, ...this.#o.keepers];
    return all.find((k) => k.index === index)?.url ?? `#${index}`;
  }

  async #recover(): Promise<void> {
    let delay = FIRST_DELAY_MS;
    const ready = () => this.#o.state.status === "ready";
    while (!this.#stopped && !ready()) {
      await this.#pollOnce();
      if (ready()) break;
      const jittered = delay * (0.75 + Math.random() * 0.5);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, jittered);
        this.#wake = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.#wake = undefined;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
    for (const share of this.#collected.values()) share.fill(0);
    this.#collected.clear();
  }

  /**
   * One round of asking every Keeper. Once a key-check record exists, each share is
   * tried as it arrives, so recovery waits for the fastest threshold of honest Keepers,
   * not for one that never answers (its request still runs to its timeout).
   */
  async #pollOnce(): Promise<void> {
    const { client, log, state } = this.#o;
    // Unknown while the store does not answer: then shares wait for the round's end.
    const early = await state.initialized().catch(() => false);
    // The Keeper set record says whom to ask (during a rekey: both sets, either threshold).
    const sets = await state.readKeeperSet().catch(() => ({ set: state.keeperSet, next: null }));
    const keepers = recoveryPeers({ set: this.#inForce(sets.set), next: sets.next });
    const need = Math.min(sets.set.threshold, sets.next?.threshold ?? Infinity);
    if (keepers.some((k) => !this.#peers.some((p) => p.url === k.url && p.index === k.index))) {
      for (const share of this.#collected.values()) share.fill(0);
      this.#collected.clear(); // the set changed: shares are kept by x, which may now differ
    }
    this.#peers = keepers;
    this.#named.clear();
    let attempts = Promise.resolve();
    const attempt = () => {
      attempts = attempts.then(async () => {
        if (state.status === "ready" || this.#collected.size < need) return;
        // A store failure here is tried again, and reported, at the round's end.
        const result = await state.adopt(this.#collected, "keepers").catch(() => undefined);
        if (result?.outcome === "ready") this.#report(result);
      });
    };
    await Promise.all(keepers.map(async (keeper) => {
      let share: Uint8Array | null;
      try {
        share = await client.shard(keeper.url);
      } catch (e) {
        log.warn("keeper unreachable", { keeper: keeper.url, error: errorMessage(e) });
        return;
      }
      if (share === null) {
        log.info("keeper holds no share yet", { keeper: keeper.url });
        return;
      }
      if (shareIndex(share) !== keeper.index) {
        log.error("keeper holds the share of another position", {
          keeper: keeper.url,
          expected: keeper.index,
          found: shareIndex(share),
          hint: "without a rekey, SPIKE_NEXUS_KEEPER_PEERS must list the Keepers in the " +
            "same order as before",
        });
        share.fill(0);
        return;
      }
      if (state.status === "ready") {
        // Came after the fastest Keepers gave the key: still checked, so a liar is named.
        if (!(await state.isShareOfKey(share))) this.#wrongShare(keeper.index);
        share.fill(0);
        return;
      }
      this.#collected.get(keeper.index)?.fill(0);
      this.#collected.set(keeper.index, share);
      if (early) attempt();
    }));
    await attempts;
    if (state.status === "ready") {
      // Shares that came while the key was being put together are checked too.
      for (const [index, share] of this.#collected) {
        if (!(await state.isShareOfKey(share))) this.#wrongShare(index);
      }
      return;
    }
    if (this.#collected.size < need) {
      log.info("waiting for shares", { have: this.#collected.size, need });
      return;
    }
    // All answers are in: one more try with every share, then say what came of it.
    let result: AdoptResult;
    try {
      result = await state.adopt(this.#collected, "keepers");
    } catch (e) {
      // The database (key-check record) did not answer: keep the shares and look again.
      log.warn("cannot check the shares against the store; will retry", {
        error: errorMessage(e),
      });
      return;
    }
    this.#report(result);
  }

  /** Names a Keeper whose share is not of the key in use, once per round. */
  #wrongShare(index: number): void {
    if (this.#named.has(index)) return;
    this.#named.add(index);
    this.#o.log.error("keeper returned a share that does not belong to the root key", {
      keeper: this.#keeper(index),
    });
  }

  #report(result: AdoptResult): void {
    const { log } = this.#o;
    switch (result.outcome) {
      case "ready":
        log.notice("root key recovered from keepers", {
          keepers: [...this.#collected.keys()].map((i) => this.#keeper(i)).join(","),
        });
        for (const index of result.wrongShares) this.#wrongShare(index);
        return;
      case "pending":
        log.notice("first root key assembled from keepers; waiting for Bootstrap to verify it");
        return;
      case "rejected":
        log.error("keeper shares rejected; not using them", {
          reason: result.reason,
          keepers: result.suspectShares.map((i) => this.#keeper(i)).join(","),
        });
        return;
      case "unchanged":
        return;
    }
  }

  #seedForever(): void {
    void this.pushShares();
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.pushShares(), this.#o.updateIntervalMs);
  }

  /** Gives every Keeper of the set in force its share now; failures are retried next interval. */
  async pushShares(): Promise<void> {
    const { client, log, state } = this.#o;
    if (this.#stopped || state.status !== "ready") return;
    // Another replica may have rotated the key: seed the generation the keyring record names.
    await state.refresh().catch((e) =>
      log.warn("could not read the keyring record before seeding", { error: errorMessage(e) })
    );
    let keepers: readonly KeeperPeer[];
    try {
      const sets = await state.readKeeperSet();
      // A rekey hands out the shares itself until it commits (nexus/state/rekey.ts).
      if (sets.next) return;
      keepers = this.#inForce(sets.set).peers;
    } catch (e) {
      log.warn("could not read the Keeper set before seeding; will retry", {
        error: errorMessage(e),
      });
      return;
    }
    if (state.status !== "ready") return;
    const shares = await state.sharesAt(keepers.map((k) => k.index));
    try {
      await Promise.all(keepers.map(async (keeper, i) => {
        try {
          await client.contribute(keeper.url, shares[i]);
          log.debug("keeper seeded", { keeper: keeper.url });
        } catch (e) {
          log.warn("could not seed keeper; will retry", {
            keeper: keeper.url,
            error: errorMessage(e),
          });
        }
      }));
    } finally {
      for (const share of shares) share.fill(0);
    }
  }

  /**
   * Gives every Keeper of the set in force its share of the generation the
   * Keepers must hold, then reads each back: the URLs of the Keepers that do
   * not hold it now (a rotation moves on only when this is empty).
   */
  async handOver(): Promise<string[]> {
    const { state } = this.#o;
    const set = this.#inForce((await state.readKeeperSet()).set);
    const shares = await state.sharesAt(set.peers.map((k) => k.index));
    try {
      return await this.handTo(set.peers, shares);
    } finally {
      for (const share of shares) share.fill(0);
    }
  }

  /**
   * Gives `keepers[i]` `shares[i]` and reads each back: the URLs of the
   * Keepers that do not hold theirs now. The caller zeroes the shares.
   */
  async handTo(keepers: readonly KeeperPeer[], shares: readonly Uint8Array[]): Promise<string[]> {
    const { client } = this.#o;
    const missing: string[] = [];
    await Promise.all(keepers.map(async (keeper, i) => {
      const share = shares[i];
      try {
        await client.contribute(keeper.url, share);
        const held = await client.shard(keeper.url);
        const same = held !== null && held.length === share.length &&
          held.every((b, j) => b === share[j]);
        held?.fill(0);
        if (!same) missing.push(keeper.url);
      } catch {
        missing.push(keeper.url);
      }
    }));
    return missing.sort();
  }

  /**
   * What each of `keepers` holds now: a share, null (none yet), or
   * "unreachable". The caller zeroes the shares.
   */
  async holdings(keepers: readonly KeeperPeer[]): Promise<(Uint8Array | null | "unreachable")[]> {
    const { client } = this.#o;
    return await Promise.all(
      keepers.map((k) => client.shard(k.url).catch(() => "unreachable" as const)),
    );
  }

  /** Overwrites the share `keeper` holds with one of no key (the Keeper API has no delete). */
  async forget(keeper: KeeperPeer): Promise<boolean> {
    const junk = new Uint8Array(SHARE_LENGTH);
    crypto.getRandomValues(junk.subarray(0, SHARE_LENGTH - 1));
    junk[SHARE_LENGTH - 1] = keeper.index;
    try {
      await this.#o.client.contribute(keeper.url, junk);
      return true;
    } catch {
      return false;
    } finally {
      junk.fill(0);
    }
  }

  /** Stops polling and seeding. */
  stop(): void {
    this.#stopped = true;
    this.#offReady();
    this.#offLost();
    clearInterval(this.#timer);
    this.#wake?.();
  }
}
