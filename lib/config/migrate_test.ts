import assert from "node:assert/strict";
import { parseMigrateArgs } from "./migrate.ts";

Deno.test("nexus migrate arguments: a backend and an optional data folder, nothing else", () => {
  assert.deepEqual(parseMigrateArgs(["--from", "kv:/var/lib/spike"]), {
    from: "kv",
    dataDir: "/var/lib/spike",
  });
  assert.deepEqual(parseMigrateArgs(["--from=sqlite:data"]), { from: "sqlite", dataDir: "data" });
  assert.deepEqual(parseMigrateArgs(["--from", "kv"]), { from: "kv" });
  // A folder may itself hold a colon: only the first one separates.
  assert.deepEqual(parseMigrateArgs(["--from=kv:/a:b"]), { from: "kv", dataDir: "/a:b" });
  for (
    const [args, why] of [
      [[], /say which store/],
      [["--from"], /needs a value/],
      [["--from", "postgres:x"], /use kv or sqlite/],
      [["--from", "memory"], /use kv or sqlite/],
      [["--from", "kv:"], /is empty/],
      [["--from", "kv", "--from", "sqlite"], /twice/],
      [["--to", "x"], /unknown argument "--to"/],
      [["kv"], /unknown argument/],
    ] as const
  ) {
    assert.throws(() => parseMigrateArgs(args), (e: Error) => {
      assert.match(e.message, why);
      assert.match(e.message, /usage: nexus migrate --from kv/);
      return true;
    }, JSON.stringify(args));
  }
});
