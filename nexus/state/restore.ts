/**
 * Break-the-glass restore: an operator hands Nexus its shares back one call
 * at a time; at the threshold they are combined, checked against the
 * key-check record, and the root key is back. Calls are taken one after
 * another, so two operators restoring at once cannot interleave a
 * half-counted set. Shares are zeroed as soon as they are used or refused.
 *
 * @module
 */

import type { RootKeyState } from "./rootkey.ts";

/** Where a restore stands after one share. */
export type RestoreStep =
  | { outcome: "collecting"; collected: number; remaining: number }
  /** This share brought the key back. */
  | { outcome: "restored"; collected: number }
  /** The key was known already; the share was dropped. */
  | { outcome: "known"; collected: number }
  /** The shares did not give the root key; the collection starts again. */
  | { outcome: "rejected"; reason: string }
  /** The share is one of a key a rotation retired; it was dropped, the collection goes on. */
  | { outcome: "retired"; generation: number; collected: number; remaining: number }
  /** The share is one of a Keeper set a rekey replaced; it was dropped, the collection goes on. */
  | { outcome: "replaced"; collected: number; remaining: number };

/** The shares collected by restore calls, until the threshold is reached. */
export class RestoreCollector {
  readonly #collected = new Map<number, Uint8Array>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly state: RootKeyState) {}

  #serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Takes share number `id` (a repeated id keeps the first one given). Once
   * the key is known, every call answers `known` and the share is dropped.
   */
  offer(id: number, share: Uint8Array): Promise<RestoreStep> {
    return this.#serially(async () => {
      // A rekey may have changed the threshold: the Keeper set record says.
      await this.state.readKeeperSet();
      const threshold = this.state.threshold;
      if (this.state.status === "ready") {
        share.fill(0);
        return { outcome: "known", collected: threshold };
      }
      const retired = await this.state.retiredGeneration(share);
      if (retired !== null) {
        share.fill(0);
        return {
          outcome: "retired",
          generation: retired,
          collected: this.#collected.size,
          remaining: threshold - this.#collected.size,
        };
      }
      if (await this.state.replacedSet(share) !== null) {
        share.fill(0);
        return {
          outcome: "replaced",
          collected: this.#collected.size,
          remaining: threshold - this.#collected.size,
        };
      }
      if (!this.#collected.has(id)) this.#collected.set(id, share);
      else share.fill(0);
      if (this.#collected.size < threshold) {
        return {
          outcome: "collecting",
          collected: this.#collected.size,
          remaining: threshold - this.#collected.size,
        };
      }
      try {
        const result = await this.state.adopt(this.#collected, "restore");
        if (result.outcome === "ready") {
          return { outcome: "restored", collected: this.#collected.size };
        }
        return {
          outcome: "rejected",
          reason: result.outcome === "rejected" ? result.reason : result.outcome,
        };
      } finally {
        for (const s of this.#collected.values()) s.fill(0);
        this.#collected.clear();
      }
    });
  }
}
