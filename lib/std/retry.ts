/**
 * Retrying an operation with exponential backoff and jitter, bounded by a
 * number of attempts and/or a deadline.
 *
 * @module
 */

/** How to retry. */
export interface RetryOptions {
  /** First wait. */
  initialMs: number;
  /** Longest wait. */
  maxMs: number;
  /** Growth per attempt (default 2). */
  multiplier?: number;
  /** Randomization: each wait is scaled by 1 ± jitter (default 0.5). */
  jitter?: number;
  /** Give up after this many attempts (default: no limit). */
  maxAttempts?: number;
  /** Give up when this much time has passed since the first attempt (default: no limit). */
  deadlineMs?: number;
  /** Decides whether an error is worth another attempt (default: all are). */
  retryable?: (error: unknown) => boolean;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
}

/** Runs `op` until it succeeds; rethrows the last error when out of attempts or time. */
export async function retry<T>(
  op: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const started = Date.now();
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 0.5;
  let wait = options.initialMs;
  for (let attempt = 1;; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      if (options.retryable && !options.retryable(e)) throw e;
      if (options.maxAttempts !== undefined && attempt >= options.maxAttempts) throw e;
      let ms = wait * (1 - jitter + Math.random() * 2 * jitter);
      if (options.deadlineMs !== undefined) {
        const left = options.deadlineMs - (Date.now() - started);
        if (left <= 0) throw e;
        ms = Math.min(ms, left);
      }
      options.onRetry?.(e, attempt, ms);
      await new Promise((r) => setTimeout(r, ms));
      wait = Math.min(wait * multiplier, options.maxMs);
    }
  }
}
