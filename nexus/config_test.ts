import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "../lib/config/env.ts";
import { loadNexusConfig } from "./config.ts";

const PEERS = "https://localhost:9443,https://localhost:9543,https://localhost:9643";

function withEnv(env: Record<string, string>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, Deno.env.get(k)]));
  try {
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("a data folder that is a file stops Nexus with a sentence naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "x");
    for (const backend of ["kv", "sqlite"]) {
      withEnv(
        {
          SPIKE_NEXUS_BACKEND_STORE: backend,
          SPIKE_NEXUS_KEEPER_PEERS: PEERS,
          SPIKE_NEXUS_DATA_DIR: file,
        },
        () =>
          assert.throws(
            () => loadNexusConfig(),
            (e: unknown) =>
              e instanceof ConfigError &&
              e.message ===
                `SPIKE_NEXUS_DATA_DIR=${
                  JSON.stringify(file)
                } is invalid: it is a file, not a folder`,
          ),
      );
    }
    // A folder, or one not made yet, is fine.
    for (const dataDir of [dir, join(dir, "later")]) {
      withEnv(
        {
          SPIKE_NEXUS_BACKEND_STORE: "kv",
          SPIKE_NEXUS_KEEPER_PEERS: PEERS,
          SPIKE_NEXUS_DATA_DIR: dataDir,
        },
        () => assert.equal(loadNexusConfig().dataDir, dataDir),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
