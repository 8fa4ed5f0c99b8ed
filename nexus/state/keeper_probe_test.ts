import assert from "node:assert/strict";
import { ApiResponseError, TransportError } from "../../lib/client/errors.ts";
import { KeeperProbe, type ShardReader } from "./keeper_probe.ts";

const peers = [1, 2, 3, 4].map((index) => ({ index, url: `https://keeper-${index}.test:8443` }));

function share(index: number): Uint8Array {
  return new Uint8Array([...new Array(32).fill(9), index]);
}

Deno.test("the probe reports each Keeper's reachability and share, and zeroes shares", async () => {
  const handed: Uint8Array[] = [];
  const client: ShardReader = {
    shard(url) {
      if (url.includes("keeper-1")) {
        const s = share(1);
        handed.push(s);
        return Promise.resolve(s);
      }
      if (url.includes("keeper-2")) return Promise.resolve(null);
      if (url.includes("keeper-3")) {
        const s = share(1); // the share of another position
        handed.push(s);
        return Promise.resolve(s);
      }
      return Promise.reject(new TransportError("refused", "connection refused"));
    },
  };
  const result = await new KeeperProbe(peers, client).check();
  assert.deepEqual(result, [
    { index: 1, url: peers[0].url, reachable: true, holdsShare: true },
    { index: 2, url: peers[1].url, reachable: true, holdsShare: false, problem: "holds no share" },
    {
      index: 3,
      url: peers[2].url,
      reachable: true,
      holdsShare: false,
      problem: "holds the share of position 1",
    },
    {
      index: 4,
      url: peers[3].url,
      reachable: false,
      holdsShare: false,
      problem: "unreachable (refused)",
    },
  ]);
  for (const s of handed) assert.ok(s.every((b) => b === 0), "a share was kept");
});

Deno.test("the probe shares one round between concurrent callers and caches it briefly", async () => {
  let calls = 0;
  let now = 0;
  const client: ShardReader = {
    shard() {
      calls++;
      return Promise.reject(new ApiResponseError(500, "x"));
    },
  };
  const probe = new KeeperProbe(peers.slice(0, 1), client, { cacheMs: 1000, now: () => now });
  const [a, b] = await Promise.all([probe.check(), probe.check()]);
  assert.equal(calls, 1);
  assert.equal(a[0].problem, "answered HTTP 500");
  assert.deepEqual(a, b);
  a[0].reachable = true; // a caller's copy, not the cache
  now = 999;
  assert.equal((await probe.check())[0].reachable, false);
  assert.equal(calls, 1);
  now = 1000;
  await probe.check();
  assert.equal(calls, 2);
});
