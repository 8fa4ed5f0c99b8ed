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
 * after `timeoutMs`; `onTimeout` hears of each. Everything else is passed through.
 */
export function withDeadline(
  store: Store,
  timeoutMs: number,
  onTimeout: (error: StoreTimeoutError) => void = () => {},
): Store {
  const within = <T>(operation: string, work: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new StoreTimeoutError(operation, timeoutMs);
        onTimeout(error);
        reject(error);
      }, timeoutMs);
    });
    work.catch(() => {}); // a late failure of an operation already answered is not news
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  };
  return wrapStore(store, {
    get: (key) => within("get", store.get(key)),
    list: (prefix, options) => within("list", store.list(prefix, options)),
    commit: (inner) => within("commit", inner.commit()),
  });
}
