import assert from "node:assert/strict";
import type { KeeperClient } from "../../lib/client/keeper.ts";
import { splitRootKey } from "../../lib/crypto/shamir.ts";
import type { Logger } from "../../lib/log/log.ts";
import { openMemoryStore } from "../store/kv.ts";
import { KeeperLink } from "./keepers.ts";
import { RootKeyState } from "./rootkey.ts";

const KEEPERS = [1, 2, 3].map((index) => ({ index, url: `https://keeper-${index}` }));

function recordingLog(): { log: Logger; lines: { msg: string; keeper?: unknown }[] } {
  const lines: { msg: string; keeper?: unknown }[] = [];
  const at = (msg: string, fields?: Record<string, unknown>) =>
    lines.push({ msg, keeper: fields?.keeper });
  return {
    lines,
    log: { debug: at, info: at, notice: at, warn: at, error: at } as unknown as Logger,
  };
}

for (const slowOne of [1, 3]) {
  Deno.test(`the key comes from the fastest honest Keepers; a liar answering last (#${slowOne}) is named`, async () => {
    const store = await openMemoryStore();
    try {
      const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
      // A key-check record exists: the key was set up before (restore writes it).
      const setup = new RootKeyState(2, 3, store);
      await setup.adopt(new Map(shares.slice(0, 2).map((s) => [s[32], s.slice()])), "restore");

      const liar = shares[slowOne - 1].slice();
      liar[4] ^= 0x20;
      let releaseLiar!: () => void;
      const liarAnswers = new Promise<void>((r) => releaseLiar = r);
      const client = {
        shard: async (url: string) => {
          const index = Number(url.at(-1));
          if (index === slowOne) {
            await liarAnswers;
            return liar.slice();
          }
          return shares[index - 1].slice();
        },
        contribute: () => Promise.resolve(),
      } as unknown as KeeperClient;
      const state = new RootKeyState(2, 3, store);
      const { log, lines } = recordingLog();
      const link = new KeeperLink({
        state,
        keepers: KEEPERS,
        client,
        log,
        updateIntervalMs: 60_000,
      });
      const ready = new Promise<void>((r) => state.onReady(r));
      link.start();
      await ready; // before the liar said anything
      releaseLiar();
      for (let i = 0; i < 50 && !lines.some((l) => l.msg.includes("does not belong")); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      link.stop();
      assert.deepEqual(
        lines.filter((l) => l.msg.includes("does not belong")).map((l) => l.keeper),
        [`https://keeper-${slowOne}`],
      );
    } finally {
      await store.close();
    }
  });
}
