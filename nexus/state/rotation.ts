/**
 * Root-key rotation, online, resumable after a crash at any point, by any
 * replica. It rolls forward only, through the keyring record's states
 * (`keyring_record.ts`):
 *
 * 1. `stable` → `handover`: one commit adds the new generation: its key-check,
 *    the new key wrapped under the old and the old under the new, the new
 *    Keeper polynomial, every old cipher key re-wrapped, and digests of the
 *    old generation's shares. Records are still sealed under the old key.
 * 2. Every Keeper is given its new share and read back. Until all hold it the
 *    rotation waits here; whichever generation a threshold of Keepers gives
 *    after a crash, the other comes from the record.
 * 3. `handover` → `resealing`: new records are sealed under the new
 *    generation (writes check the keyring record in their commit, so none
 *    commits under the old one after this). A sweep re-seals every secret and
 *    policy record under the old one, each in a compare-and-set commit, and
 *    lists the store again until a pass finds none left.
 * 4. `resealing` → `stable`: after the Keepers are checked once more, one
 *    commit forgets the old key (its key-check, its wrapped key) and keeps the
 *    digests of its shares, so a restore with them is refused by name.
 *
 * @module
 */

import { toBase64 } from "../../lib/api/json.ts";
import { sealedGeneration } from "../../lib/crypto/aead.ts";
import { Keyring } from "../../lib/crypto/keyring.ts";
import { ROOT_KEY_LENGTH, splitRootKey } from "../../lib/crypto/shamir.ts";
import type { Logger } from "../../lib/log/log.ts";
import { errorMessage } from "../../lib/std/errors.ts";
import type { Store, StoreKey } from "../store/store.ts";
import { KEEPER_SET_KEY, KeeperSetError } from "./keeper_set.ts";
import type { KeeperLink } from "./keepers.ts";
import {
  joinPoints,
  KEYRING_KEY,
  type KeyringRecord,
  type RotationState,
  shareDigest,
  unwrap,
  wrap,
} from "./keyring_record.ts";
import { type Policies, resealPolicy } from "./policies.ts";
import { KEY_CHECK_KEY, type RecordRead, type RootKeyState } from "./rootkey.ts";
import { decodeMetaRecord } from "./secret_record.ts";
import type { Secrets } from "./secrets.ts";

/** Where a rotation stands, as the rotate route answers it. */
export interface RotationProgress {
  from: number;
  to: number;
  state: RotationState;
  /** True once the old generation is retired. */
  done: boolean;
  /** Records re-sealed by this process's sweeps of this rotation. */
  resealed: number;
}

/** Thrown while a rotation cannot move on (Keepers missing); it is tried again by itself. */
export class RotationWaiting extends Error {
  override name = "RotationWaiting";
}

/** Paths re-sealed at once by a sweep. */
const SWEEP_CONCURRENCY = 8;
/** Sweeps before giving up (each lists the store again; the last one finds nothing left). */
const MAX_PASSES = 10;
const RETRY_MS = 2000;

/** What a rotation works on. */
export interface RotationOptions {
  state: RootKeyState;
  store: Store;
  secrets: Secrets;
  policies: Policies;
  keepers: KeeperLink;
  log: Logger;
}

/** Starts, joins and resumes rotations; one per Nexus process. */
export class Rotation {
  readonly #o: RotationOptions;
  #running: Promise<RotationProgress> | undefined;
  #resealed = 0;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watcher: ReturnType<typeof setInterval> | undefined;

  constructor(options: RotationOptions) {
    this.#o = options;
  }

  /**
   * Starts a rotation from the current generation, or joins the one in
   * progress. With `generation`, only joins: never starts a new rotation
   * once the store is at that generation (what a client polling uses).
   */
  async begin(generation?: number): Promise<RotationProgress> {
    const read = await this.#read();
    const { record } = read;
    if (generation !== undefined || record.state !== "stable") {
      if (record.state === "stable") {
        return this.#progress(record, true);
      }
      return await this.resume();
    }
    await this.#prepare(read);
    return await this.resume();
  }

  /** Drives the rotation in progress to its end (single-flight: callers share one run). */
  resume(): Promise<RotationProgress> {
    this.#running ??= this.#drive().finally(() => this.#running = undefined);
    return this.#running;
  }

  /**
   * After the key becomes ready: if the store shows an unfinished rotation
   * (a crash, another replica's), finish it, trying again every 2 s.
   */
  resumeInBackground(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    void this.resume().then((p) => {
      if (p.done && p.to > p.from) {
        this.#o.log.notice("root key rotation finished", this.#fields(p));
      }
    }, (e) => {
      this.#o.log.warn("root key rotation not finished yet; will retry", {
        error: errorMessage(e),
      });
      this.#timer = setTimeout(() => this.resumeInBackground(), RETRY_MS);
    });
  }

  /**
   * Every `intervalMs`, while the key is ready and this process drives no
   * rotation: if the keyring record shows one unfinished (the replica that
   * started it was killed, or is slower than the interval), this process
   * drives it too. Two processes driving one rotation are safe: every step
   * and every re-seal is a compare-and-set commit. Without this, a replica
   * that stays up would leave a dead replica's rotation unfinished until some
   * Nexus (re)started.
   */
  watch(intervalMs: number): void {
    clearInterval(this.#watcher);
    this.#watcher = setInterval(() => void this.#takeOver(), intervalMs);
  }

  async #takeOver(): Promise<void> {
    const { state, log } = this.#o;
    if (this.#stopped || this.#running || state.status !== "ready") return;
    let read: RecordRead | null;
    try {
      read = await state.readRecord();
    } catch (e) {
      log.debug("could not read the keyring record to look for a rotation", {
        error: errorMessage(e),
      });
      return;
    }
    if (!read || read.record.state === "stable" || this.#running || this.#stopped) return;
    log.notice("joining an unfinished root key rotation", {
      from: read.record.retiring?.gen ?? read.record.current,
      to: read.record.next ?? read.record.current,
      state: read.record.state,
    });
    this.resumeInBackground();
  }

  /** Stops background retries and the watch. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watcher);
  }

  #fields(p: RotationProgress) {
    return { from: p.from, to: p.to, resealed: p.resealed };
  }

  async #read(): Promise<RecordRead> {
    const read = await this.#o.state.readRecord();
    if (!read) throw new Error("the store has no root key yet");
    return read;
  }

  #progress(record: KeyringRecord, done: boolean): RotationProgress {
    const to = record.next ?? record.current;
    const from = record.retiring?.gen ?? record.retired.at(-1)?.gen ?? record.current;
    return { from, to, state: record.state, done, resealed: this.#resealed };
  }

  /** Commits `record` over `read` (false when another process changed it first). */
  async #commit(
    read: RecordRead,
    record: KeyringRecord,
    deleteKeyCheck = false,
    keeperSet?: string | null,
  ): Promise<boolean> {
    const { store, state } = this.#o;
    const tx = store.atomic().check(KEYRING_KEY, read.versionstamp)
      .set(KEYRING_KEY, new TextEncoder().encode(JSON.stringify(record)));
    // A rotation starts only on the Keeper set it read (a rekey checks the keyring record too).
    if (keeperSet !== undefined) tx.check(KEEPER_SET_KEY, keeperSet);
    if (deleteKeyCheck) {
      const check = await store.get(KEY_CHECK_KEY);
      if (check) tx.check(KEY_CHECK_KEY, check.versionstamp).delete(KEY_CHECK_KEY);
    }
    const { ok } = await tx.commit();
    await state.refresh();
    return ok;
  }

  /** Step 1: the new generation, its Keeper polynomial and wrapped keys, in one commit. */
  async #prepare(read: RecordRead): Promise<void> {
    const { state, log } = this.#o;
    const { record } = read;
    const from = record.current;
    const old = state.ring(from);
    const oldPoints = state.points();
    const sets = await state.readKeeperSet();
    if (sets.next) throw new KeeperSetError("a rekey is in progress; rotate after it is done");
    const { threshold, peers } = sets.set;
    if (!old || oldPoints.length < 2) {
      throw new Error("Nexus does not hold the current root key's shares; it cannot rotate");
    }
    const to = Math.max(from, ...record.retired.map((r) => r.gen)) + 1;
    const key = crypto.getRandomValues(new Uint8Array(ROOT_KEY_LENGTH));
    const fresh = new Keyring(key);
    const points = await splitRootKey(key, threshold, threshold);
    const oldRoot = old.rootKey();
    const oldCipher = old.subKey("cipher");
    const oldShares = await state.sharesAt(peers.map((p) => p.index));
    try {
      const next: KeyringRecord = {
        ...record,
        state: "handover",
        next: to,
        checks: { ...record.checks, [String(to)]: toBase64(fresh.makeKeyCheck()) },
        roots: [
          wrap("root", key, to, { gen: from, ring: old }),
          wrap("root", oldRoot, from, { gen: to, ring: fresh }),
        ],
        cipher: [
          ...record.cipher.map((w) => {
            const raw = unwrap("cipher", w, state.ring(w.under)!);
            const rewrapped = wrap("cipher", raw, w.gen, { gen: to, ring: fresh });
            raw.fill(0);
            return rewrapped;
          }),
          wrap("cipher", oldCipher, from, { gen: to, ring: fresh }),
        ],
        points: [wrap("points", joinPoints(points), to, { gen: to, ring: fresh })],
        retiring: { gen: from, shares: oldShares.map(shareDigest) },
      };
      if (await this.#commit(read, next, false, sets.versionstamp)) {
        log.notice("root key rotation started", { from, to });
      }
    } finally {
      for (const b of [key, oldRoot, oldCipher, ...points, ...oldShares, ...oldPoints]) b.fill(0);
      fresh.destroy();
    }
  }

  async #drive(): Promise<RotationProgress> {
    for (;;) {
      const read = await this.#read();
      const { record } = read;
      switch (record.state) {
        case "stable":
          return this.#progress(record, true);
        case "handover":
          await this.#handOver();
          await this.#commit(read, { ...record, state: "resealing", current: record.next! });
          continue;
        case "resealing":
          await this.#sweep(record.current);
          await this.#handOver(); // a replica's stale re-seed may have put an old share back
          await this.#retire(read);
          continue;
      }
    }
  }

  /** Step 2: every Keeper holds its share of the Keepers' generation, or this throws. */
  async #handOver(): Promise<void> {
    const missing = await this.#o.keepers.handOver();
    if (missing.length > 0) {
      throw new RotationWaiting(
        `Keepers ${missing.join(", ")} do not hold their new share yet; ` +
          "the rotation goes on when they answer",
      );
    }
  }

  /** Step 3: re-seals every record not under `to`, until a full listing finds none. */
  async #sweep(to: number): Promise<void> {
    const { store, secrets, policies, log } = this.#o;
    const isCurrent = (gen: number) => gen === to;
    const stale = (value: Uint8Array) => {
      try {
        return !isCurrent(sealedGeneration(value));
      } catch {
        return false; // not a sealed record: never served either, nothing to re-seal
      }
    };
    // Version data no metadata names is never read: it is left as it is, and not counted.
    const orphans = new Set<string>();
    for (let pass = 1; pass <= MAX_PASSES; pass++) {
      const byPath = new Map<string, StoreKey[]>();
      const metas = await store.list(["secret-meta"]);
      for (const e of metas) {
        const { sealedMeta, inline } = decodeMetaRecord(e.value);
        if (stale(sealedMeta) || (inline && stale(inline.sealed))) byPath.set(String(e.key[1]), []);
      }
      const metaPaths = new Set(metas.map((e) => String(e.key[1])));
      for (const e of await store.list(["secret-data"])) {
        const path = String(e.key[1]);
        if (!stale(e.value) || !metaPaths.has(path) || orphans.has(JSON.stringify(e.key))) continue;
        const keys = byPath.get(path) ?? [];
        keys.push(e.key);
        byPath.set(path, keys);
      }
      const stalePolicies = (await store.list(["policy"])).filter((e) => stale(e.value));
      if (byPath.size === 0 && stalePolicies.length === 0) return;
      log.info("re-sealing records under the new root key", {
        generation: to,
        pass,
        paths: byPath.size,
        policies: stalePolicies.length,
      });
      const queue = [...byPath];
      const before = orphans.size;
      await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, async () => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          const [path, keys] = item;
          const done = await secrets.reseal(path, keys, isCurrent);
          this.#resealed += done.resealed;
          for (const k of done.orphans) orphans.add(JSON.stringify(k));
        }
      }));
      for (const e of stalePolicies) {
        if (await resealPolicy(policies, String(e.key[1]), isCurrent)) this.#resealed++;
      }
      if (orphans.size > before) {
        log.warn("version data that no metadata names was left as it is", {
          records: orphans.size - before,
        });
      }
    }
    throw new Error(`records under old root keys remain after ${MAX_PASSES} sweeps`);
  }

  /** Step 4: the old generation is forgotten; the digests of its shares are kept. */
  async #retire(read: RecordRead): Promise<void> {
    const { record } = read;
    const to = record.current;
    const retired = record.retiring ? [{ ...record.retiring, at: Date.now() }] : [];
    const next: KeyringRecord = {
      format: 1,
      current: to,
      state: "stable",
      next: null,
      checks: { [String(to)]: record.checks[String(to)] },
      roots: [],
      cipher: record.cipher.filter((w) => w.under === to),
      points: record.points.filter((p) => p.gen === to),
      retiring: null,
      retired: [...record.retired, ...retired],
    };
    if (await this.#commit(read, next, true)) {
      this.#o.log.notice("old root key retired", {
        generation: retired[0]?.gen,
        current: to,
        hint: "recovery files made before the rotation no longer restore; " +
          "run spike operator recover again",
      });
    }
  }
}
