/**
 * Shamir shares of the root key, on `npm:shamir-secret-sharing` (GF(2^8),
 * byte by byte). A share is 33 bytes: 32 bytes of value, then its x
 * coordinate. The library picks random x coordinates; we re-evaluate the same
 * polynomial at x = 1..n so that Keeper i always holds the share with x = i
 * and Nexus can hand any Keeper its share again from any threshold of shares.
 *
 * Evaluating at t uses only the library's `combine` (interpolation at 0):
 * shifting every sample's x by t (XOR, which is addition in GF(2^8)) turns
 * f(t) into g(0) for g(x) = f(x + t), a polynomial of the same degree.
 *
 * @module
 */

import { combine, split } from "shamir-secret-sharing";

/** Root key length in bytes. */
export const ROOT_KEY_LENGTH = 32;
/** Share length in bytes: the value, then the x coordinate. */
export const SHARE_LENGTH = ROOT_KEY_LENGTH + 1;
/** At most this many shares exist (x is one byte, 0 is the secret). */
export const MAX_SHARES = 255;

/** Thrown for a share that is malformed. */
export class ShareError extends Error {
  override name = "ShareError";
}

/** The share's x coordinate (1..255), which is also its Keeper index. */
export function shareIndex(share: Uint8Array): number {
  return share[share.length - 1];
}

/** Checks length, index and that the value is not all zero (an empty Keeper slot). */
export function validateShare(share: Uint8Array): void {
  if (share.length !== SHARE_LENGTH) {
    throw new ShareError(`a share is ${SHARE_LENGTH} bytes; this one has ${share.length}`);
  }
  if (shareIndex(share) === 0) throw new ShareError("a share's index (its last byte) cannot be 0");
  if (share.subarray(0, ROOT_KEY_LENGTH).every((b) => b === 0)) {
    throw new ShareError("a share's value cannot be all zero");
  }
}

/** Checks the share counts: 2 <= threshold <= shares <= 255. */
export function validateShareCounts(shares: number, threshold: number): void {
  if (!Number.isInteger(threshold) || threshold < 2) {
    throw new ShareError(`the threshold must be at least 2 (got ${threshold})`);
  }
  if (!Number.isInteger(shares) || shares < threshold || shares > MAX_SHARES) {
    throw new ShareError(
      `the number of shares must be from the threshold (${threshold}) to ${MAX_SHARES} (got ${shares})`,
    );
  }
}

/** f(x) for the polynomial through `points` (at least the threshold of them). */
export async function shareAt(points: readonly Uint8Array[], x: number): Promise<Uint8Array> {
  if (!Number.isInteger(x) || x < 1 || x > MAX_SHARES) {
    throw new ShareError(`a share index is from 1 to ${MAX_SHARES} (got ${x})`);
  }
  const same = points.find((p) => shareIndex(p) === x);
  if (same) return same.slice();
  const shifted = points.map((p) => {
    const copy = p.slice();
    copy[ROOT_KEY_LENGTH] ^= x;
    return copy;
  });
  const value = await combine(shifted);
  for (const s of shifted) s.fill(0);
  const share = new Uint8Array(SHARE_LENGTH);
  share.set(value);
  share[ROOT_KEY_LENGTH] = x;
  value.fill(0);
  return share;
}

/** The shares for x = 1..count of the polynomial through `points`. */
export async function sharesFor(
  points: readonly Uint8Array[],
  count: number,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let x = 1; x <= count; x++) out.push(await shareAt(points, x));
  return out;
}

/**
 * Splits a root key into `shares` shares with x = 1..shares, any `threshold`
 * of which give the key back.
 */
export async function splitRootKey(
  rootKey: Uint8Array,
  shares: number,
  threshold: number,
): Promise<Uint8Array[]> {
  if (rootKey.length !== ROOT_KEY_LENGTH) {
    throw new ShareError(`the root key is ${ROOT_KEY_LENGTH} bytes (got ${rootKey.length})`);
  }
  validateShareCounts(shares, threshold);
  const random = await split(rootKey, threshold, threshold);
  try {
    return await sharesFor(random, shares);
  } finally {
    for (const s of random) s.fill(0);
  }
}

/** The root key from at least the threshold of shares (unchecked: verify it before use). */
export async function combineShares(points: readonly Uint8Array[]): Promise<Uint8Array> {
  for (const p of points) validateShare(p);
  const indexes = new Set(points.map(shareIndex));
  if (indexes.size !== points.length) throw new ShareError("two shares have the same index");
  if (points.length < 2) throw new ShareError("at least two shares are needed");
  return await combine([...points]);
}

const RECOVERY_LINE = /^spike:(\d{1,3}):([0-9a-fA-F]{66})$/;

/** A break-the-glass recovery line: `spike:<index>:<66 hex digits>`. */
export function formatRecoveryLine(share: Uint8Array): string {
  validateShare(share);
  return `spike:${shareIndex(share)}:${
    Array.from(share, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** Parses a recovery line; the index must agree with the share's own x coordinate. */
export function parseRecoveryLine(line: string): Uint8Array {
  const match = RECOVERY_LINE.exec(line.trim());
  if (!match) {
    throw new ShareError(
      `a recovery share looks like spike:<index>:<${SHARE_LENGTH * 2} hex digits>`,
    );
  }
  const share = new Uint8Array(SHARE_LENGTH);
  for (let i = 0; i < SHARE_LENGTH; i++) share[i] = parseInt(match[2].slice(i * 2, i * 2 + 2), 16);
  validateShare(share);
  if (Number(match[1]) !== shareIndex(share)) {
    throw new ShareError(
      `the recovery share says index ${match[1]} but its last byte says ${shareIndex(share)}`,
    );
  }
  return share;
}
