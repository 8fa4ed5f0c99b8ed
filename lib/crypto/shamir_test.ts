import assert from "node:assert/strict";
import {
  combineShares,
  formatRecoveryLine,
  parseRecoveryLine,
  shareAt,
  shareIndex,
  sharesFor,
  splitRootKey,
} from "./shamir.ts";

function key(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

Deno.test("splitRootKey gives shares x = 1..n; any threshold of them combine to the key", async () => {
  const rootKey = key();
  const shares = await splitRootKey(rootKey, 5, 3);
  assert.deepEqual(shares.map(shareIndex), [1, 2, 3, 4, 5]);
  for (const share of shares) assert.equal(share.length, 33);
  const subsets = [[0, 1, 2], [2, 3, 4], [0, 2, 4], [1, 3, 4], [0, 1, 2, 3, 4]];
  for (const subset of subsets) {
    assert.deepEqual(await combineShares(subset.map((i) => shares[i])), rootKey, `${subset}`);
  }
  // Below the threshold the key does not come out.
  assert.notDeepEqual(await combineShares([shares[0], shares[1]]), rootKey);
});

Deno.test("any threshold of shares gives every other share back", async () => {
  const rootKey = key();
  const shares = await splitRootKey(rootKey, 3, 2);
  for (const [a, b] of [[0, 1], [0, 2], [1, 2]]) {
    assert.deepEqual(await sharesFor([shares[a], shares[b]], 3), shares);
  }
  const fresh = await shareAt([shares[0], shares[2]], 200);
  assert.equal(shareIndex(fresh), 200);
  assert.deepEqual(await combineShares([fresh, shares[1]]), rootKey);
});

Deno.test("splitting checks its inputs", async () => {
  await assert.rejects(splitRootKey(new Uint8Array(31), 3, 2), /root key is 32 bytes/);
  await assert.rejects(splitRootKey(key(), 3, 1), /threshold must be at least 2/);
  await assert.rejects(splitRootKey(key(), 2, 3), /from the threshold \(3\) to 255/);
  await assert.rejects(splitRootKey(key(), 256, 2), /to 255/);
});

Deno.test("combining refuses malformed share sets", async () => {
  const shares = await splitRootKey(key(), 3, 2);
  await assert.rejects(combineShares([shares[0], shares[0]]), /same index/);
  await assert.rejects(combineShares([shares[0]]), /at least two/);
  await assert.rejects(
    combineShares([shares[0], new Uint8Array(33).fill(0, 0).map((_, i) => i === 32 ? 9 : 0)]),
    /all zero/,
  );
  await assert.rejects(combineShares([shares[0], shares[1].subarray(1)]), /33 bytes/);
});

Deno.test("recovery lines round-trip and are checked", async () => {
  const [share] = await splitRootKey(key(), 3, 2);
  const line = formatRecoveryLine(share);
  assert.match(line, /^spike:1:[0-9a-f]{66}$/);
  assert.deepEqual(parseRecoveryLine(line + "\n"), share);
  assert.throws(
    () => parseRecoveryLine("spike:2:" + line.slice(8)),
    /says index 2 but its last byte says 1/,
  );
  assert.throws(
    () => parseRecoveryLine("spike:1:abcd"),
    /looks like spike:<index>:<66 hex digits>/,
  );
  assert.throws(() => parseRecoveryLine("nonsense"), /looks like/);
});
