/**
 * Token buckets, one per key (a caller's SPIFFE ID and a class of routes): a
 * bucket holds up to `burst` tokens, refills at `ratePerSecond`, and each request
 * takes one. The number of buckets is bounded: past `maxKeys` the least recently
 * used is forgotten (it comes back full, which only ever errs towards serving).
 *
 * @module
 */

interface Bucket {
  tokens: number;
  at: number;
}

/** Limits each key to a rate, with a burst. */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number = Math.max(1, ratePerSecond),
    readonly maxKeys = 10_000,
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) {
      throw new RangeError("a rate limiter needs a positive rate and a burst of at least 1");
    }
  }

  /** Takes a token for `key`: 0 when there was one, else the whole seconds to wait for it. */
  take(key: string, now = performance.now()): number {
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key); // re-inserted below: the map's order is recency of use
      bucket.tokens = Math.min(
        this.burst,
        bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond,
      );
      bucket.at = now;
    } else {
      bucket = { tokens: this.burst, at: now };
      if (this.#buckets.size >= this.maxKeys) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }

  /** How many keys are remembered now. */
  get size(): number {
    return this.#buckets.size;
  }
}
