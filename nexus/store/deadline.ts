/**
 * Every operation of a file-backed store (Deno KV, SQLite) within a deadline: a
 * disk that stops answering (a frozen or failing volume, a hung network mount)
 * must not hold requests forever. Past the deadline the caller gets a
 * {@link StoreTimeoutError}, a 503 `state_not_ready`, and the operator a log
 * line; the operation itself cannot be called back, so a write answered this way
 * may still be applied once the disk answers (as with PostgreSQL's timeout). It
 * is never acknowledged, so nothing acknowledged is lost. PostgreSQL has its own
 * deadline (`nexus/store/postgres.ts`).
 *
 * @module
 */

import { ApiError } from "../../lib/api/errors.ts";
import { type Store, wrapStore } from "./store.ts";

/** A store operation that did not finish within its deadline: answered 503. */
export class StoreTimeoutError extends ApiError {
  override name = "StoreTimeoutError";
  constructor(readonly operation: string, readonly timeoutMs: number) {
    super("state_not_ready", `the store did not finish a ${operation} within ${timeoutMs}ms`);
  }
}

/**
 * Wraps `store` so that `get`, `list` and `commit` fail with {@link StoreTimeoutError}
 * after `timeoutMs` (checked every tenth of it, at most every 100 ms: an operation is
 * answered at most that much after its deadline); `onTimeout` hears of each. Everything
 * else is passed through. One timer for all the operations under way, rather than one
 * per operation: a timer set and cleared costs about 8 µs here, a Map entry far less.
 */
export function withDeadline(
  store: Store,
  timeoutMs: number,
  onTimeout: (error: StoreTimeoutError) => void = () => {},
): Store {
  /** Operations under way, in the order they started (so also of their deadlines). */
  const inflight = new Map<object, { deadline: number; operation: string; fail: Fail }>();
  const tick = Math.max(5, Math.min(100, Math.floor(timeoutMs / 10)));
  let sweeper: ReturnType<typeof setInterval> | undefined;
  const sweep = () => {
    const now = performance.now();
    for (const [id, op] of inflight) {
      if (op.deadline > now) break;
      inflight.delete(id);
      const error = new StoreTimeoutError(op.operation, timeoutMs);
      onTimeout(error);
      op.fail(error);
    }
    if (inflight.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const within = <T>(operation: string, work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = {};
      inflight.set(id, { deadline: performance.now() + timeoutMs, operation, fail: reject });
      if (sweeper === undefined) {
        sweeper = setInterval(sweep, tick); // stopped by the sweep that finds none under way
      }
      // A late outcome of an operation already answered is not news.
      work.then(
        (value) => inflight.delete(id) && resolve(value),
        (error) => inflight.delete(id) && reject(error),
      );
    });
  return wrapStore(store, {
    get: (key) => within("get", store.get(key)),
    list: (prefix, options) => within("list", store.list(prefix, options)),
    commit: (inner) => within("commit", inner.commit()),
  });
}

type Fail = (error: unknown) => void;
