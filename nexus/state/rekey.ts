/**
 * Rekey: new Shamir shares of the same root key (same generation; no record
 * is re-sealed) for a new Keeper set. It rolls forward only, through the
 * Keeper set record's states (`keeper_set.ts`), and any Nexus holding the
 * key finishes one a crash left:
 *
 * 1. Checks, before anything changes: the set is valid and configured, every
 *    Keeper of the new set answers, and no crash can leave neither set with
 *    a threshold of shares ({@link checkCrashSafe}).
 * 2. `stable` → `rekeying`: one commit adds the new set and a threshold of
 *    points of a new random polynomial through the same key (wrapped under
 *    it), and the digests of the old shares. It also checks the keyring
 *    record, so no rotation runs meanwhile (a rotation checks this record).
 * 3. The Keepers new to the set get their shares and are read back; then the
 *    Keepers of both sets. Until all hold theirs the rekey waits here.
 * 4. `rekeying` → `stable`: one commit makes the new set the one in force and
 *    its polynomial the keyring record's, and moves the old shares' digests
 *    to `replaced`. Keepers dropped from the set then have their share
 *    overwritten with one of no key (the Keeper API has no delete), if they
 *    answer.
 *
 * @module
 */

import type { KeeperPeer } from "../../lib/config/peers.ts";
import { shareAt, splitRootKey } from "../../lib/crypto/shamir.ts";
import type { Logger } from "../../lib/log/log.ts";
import { errorMessage } from "../../lib/std/errors.ts";
import type { Store } from "../store/store.ts";
import {
  checkCrashSafe,
  encodeKeeperSet,
  KEEPER_SET_KEY,
  type KeeperSet,
  KeeperSetError,
  type KeeperSetRead,
  type KeeperSetRecord,
  planSet,
} from "./keeper_set.ts";
import type { KeeperLink } from "./keepers.ts";
import {
  encodeRecord,
  joinPoints,
  KEYRING_KEY,
  shareDigest,
  splitPoints,
  unwrap,
  wrap,
} from "./keyring_record.ts";
import type { RootKeyState } from "./rootkey.ts";

/** What a rekey asks for. */
export interface RekeyPlan {
  shares: number;
  threshold: number;
  /** The new set's Keepers (default: every configured Keeper). */
  keepers?: string[];
}

/** Where a rekey stands, as the rekey route answers it. */
export interface RekeyProgress {
  done: boolean;
  threshold: number;
  keepers: KeeperPeer[];
  /** Keepers dropped from the set whose share could not be overwritten (they did not answer). */
  notForgotten: string[];
}

/** Thrown while a rekey cannot move on (Keepers missing); it is tried again by itself. */
export class RekeyWaiting extends Error {
  override name = "RekeyWaiting";
}

const RETRY_MS = 2000;

/** What a rekey works on. */
export interface RekeyOptions {
  state: RootKeyState;
  store: Store;
  keepers: KeeperLink;
  /** `SPIKE_NEXUS_KEEPER_PEERS`: the only Keepers Nexus may dial. */
  configured: readonly KeeperPeer[];
  log: Logger;
}

/** Starts and resumes rekeys; one per Nexus process. */
export class Rekey {
  readonly #o: RekeyOptions;
  #running: Promise<RekeyProgress> | undefined;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RekeyOptions) {
    this.#o = options;
  }

  /**
   * Checks `plan` and starts it, then drives it to its end. A
   * {@link KeeperSetError} when it cannot be done (nothing changed).
   */
  async begin(plan: RekeyPlan): Promise<RekeyProgress> {
    const { state, store, configured, log } = this.#o;
    const gen = state.generation;
    const ring = state.ring(gen);
    if (!ring) throw new KeeperSetError("Nexus does not hold the root key");
    const keyring = await state.readRecord();
    if (!keyring) throw new KeeperSetError("the store has no root key yet");
    if (keyring.record.state !== "stable") {
      throw new KeeperSetError("a root key rotation is in progress; rekey after it is done");
    }
    const sets = await state.readKeeperSet();
    if (sets.next) throw new KeeperSetError("a rekey is in progress; wait for it to finish");
    const next = planSet(configured, sets.set, plan.keepers, plan.shares, plan.threshold);
    const oldShares = await state.sharesAt(sets.set.peers.map((p) => p.index));
    let oldHolders: number;
    try {
      const [newHeld, oldHeld] = await Promise.all([
        this.#o.keepers.holdings(next.peers),
        this.#o.keepers.holdings(sets.set.peers),
      ]);
      const down = next.peers.filter((_, i) => newHeld[i] === "unreachable").map((p) => p.url);
      const same = (held: Uint8Array | null | "unreachable", i: number) =>
        held instanceof Uint8Array && held.every((b, j) => b === oldShares[i][j]);
      oldHolders = oldHeld.filter(same).length;
      for (const held of [...newHeld, ...oldHeld]) if (held instanceof Uint8Array) held.fill(0);
      if (down.length > 0) {
        throw new KeeperSetError(
          `Keepers ${down.join(", ")} do not answer; every Keeper of the new set must ` +
            "(start them first)",
        );
      }
      checkCrashSafe(sets.set, next, oldHolders);
      const key = ring.rootKey();
      const points = await splitRootKey(key, plan.threshold, plan.threshold);
      key.fill(0);
      const record: KeeperSetRecord = {
        format: 1,
        state: "rekeying",
        set: sets.set,
        next,
        nextPoints: wrap("points", joinPoints(points), gen, { gen, ring }),
        replacing: { gen, shares: oldShares.map(shareDigest) },
        replaced: sets.record?.replaced ?? [],
        at: Date.now(),
      };
      for (const p of points) p.fill(0);
      const { ok } = await store.atomic()
        .check(KEYRING_KEY, keyring.versionstamp)
        .check(KEEPER_SET_KEY, sets.versionstamp)
        .set(KEEPER_SET_KEY, encodeKeeperSet(record))
        .commit();
      if (!ok) throw new KeeperSetError("the root key or Keeper set changed meanwhile; try again");
    } finally {
      for (const s of oldShares) s.fill(0);
    }
    log.notice("rekey started", {
      from: describe(sets.set),
      to: describe(next),
      generation: gen,
    });
    return await this.resume();
  }

  /** Drives the rekey in progress to its end (single-flight: callers share one run). */
  resume(): Promise<RekeyProgress> {
    this.#running ??= this.#drive().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** After the key becomes ready: finish a rekey a crash left, trying again every 2 s. */
  resumeInBackground(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    void this.resume().catch((e) => {
      this.#o.log.warn("rekey not finished yet; will retry", { error: errorMessage(e) });
      this.#timer = setTimeout(() => this.resumeInBackground(), RETRY_MS);
    });
  }

  /** Stops background retries. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #drive(): Promise<RekeyProgress> {
    const { state, keepers } = this.#o;
    const sets = await state.readKeeperSet();
    if (!sets.record || !sets.next) {
      return {
        done: true,
        threshold: sets.set.threshold,
        keepers: sets.set.peers,
        notForgotten: [],
      };
    }
    const ring = state.ring(sets.record.nextPoints!.under);
    if (!ring) throw new Error("Nexus does not hold the root key the rekey was started under");
    const points = splitPoints(unwrap("points", sets.record.nextPoints!, ring));
    try {
      const isOld = (p: KeeperPeer) => sets.set.peers.some((q) => q.url === p.url);
      // New Keepers first: only then may a Keeper holding an old share get its new one.
      for (const group of [sets.next.peers.filter((p) => !isOld(p)), sets.next.peers]) {
        const shares = await Promise.all(group.map((p) => shareAt(points, p.index)));
        const missing = await keepers.handTo(group, shares).finally(() => {
          for (const s of shares) s.fill(0);
        });
        if (missing.length > 0) {
          throw new RekeyWaiting(
            `Keepers ${missing.join(", ")} do not hold their new share yet; ` +
              "the rekey goes on when they answer",
          );
        }
      }
      await this.#commit(sets, points);
    } finally {
      for (const p of points) p.fill(0);
    }
    return await this.#finish(sets.set, sets.next);
  }

  /** Step 4: the new set and its polynomial in force, in one commit with the keyring record. */
  async #commit(sets: KeeperSetRead, points: Uint8Array[]): Promise<void> {
    const { state, store, log } = this.#o;
    const keyring = await state.readRecord();
    const record = sets.record!;
    if (!keyring) throw new Error("the store has no root key");
    const gen = keyring.record.current;
    const ring = state.ring(gen);
    if (!ring || keyring.record.state !== "stable" || record.nextPoints!.gen !== gen) {
      throw new Error("the keyring record changed during the rekey");
    }
    const stable: KeeperSetRecord = {
      format: 1,
      state: "stable",
      set: sets.next!,
      next: null,
      nextPoints: null,
      replacing: null,
      replaced: [...record.replaced, ...(record.replacing ? [record.replacing] : [])],
      at: Date.now(),
    };
    const keyringNext = {
      ...keyring.record,
      points: [
        ...keyring.record.points.filter((p) => p.gen !== gen),
        wrap("points", joinPoints(points.slice(0, sets.next!.threshold)), gen, { gen, ring }),
      ],
    };
    const { ok } = await store.atomic()
      .check(KEYRING_KEY, keyring.versionstamp)
      .check(KEEPER_SET_KEY, sets.versionstamp)
      .set(KEYRING_KEY, encodeRecord(keyringNext))
      .set(KEEPER_SET_KEY, encodeKeeperSet(stable))
      .commit();
    await state.refresh();
    await state.readKeeperSet();
    if (ok) {
      log.notice("rekey done", {
        keepers: describe(sets.next!),
        generation: gen,
        hint: "recovery files made before the rekey no longer restore; " +
          "run spike operator recover again",
      });
    }
  }

  /** Dropped Keepers forget their share; the new set is seeded once more (a stale replica's seed). */
  async #finish(from: KeeperSet, to: KeeperSet): Promise<RekeyProgress> {
    const { keepers, log } = this.#o;
    const dropped = from.peers.filter((p) => !to.peers.some((q) => q.url === p.url));
    const notForgotten: string[] = [];
    for (const peer of dropped) {
      if (!(await keepers.forget(peer))) notForgotten.push(peer.url);
    }
    if (notForgotten.length > 0) {
      log.warn("Keepers dropped from the set did not answer; they keep their old share", {
        keepers: notForgotten.join(","),
        hint: "a Keeper holds its share in memory only: restart or retire it",
      });
    }
    await keepers.pushShares();
    return { done: true, threshold: to.threshold, keepers: to.peers, notForgotten };
  }
}

/** `2 of https://a,https://b,...` for logs. */
function describe(set: KeeperSet): string {
  return `${set.threshold} of ${set.peers.map((p) => `${p.url}#${p.index}`).join(",")}`;
}
