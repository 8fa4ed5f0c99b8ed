/**
 * `spike secret destroy` end to end, on the kv and sqlite backends: the sealed
 * bytes of a destroyed version, read from the database file before, are found
 * in no file of the data folder after (the database and its WAL); the other
 * versions stay readable; `--yes` or an answer is needed; `write` does not
 * allow it, `super` does; an unauthorized caller gets exactly the answer of any
 * forbidden route; the audit line names the path and the versions.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { encodeKey } from "../nexus/store/keys.ts";
import { ApiResponseError } from "../lib/client/errors.ts";
import { nexusAs } from "./support/clients.ts";
import { Stack } from "./support/stack.ts";

type Backend = "kv" | "sqlite";
const FILE: Record<Backend, string> = { kv: "spike.kv", sqlite: "spike.db" };

/** The sealed bytes stored for a key, read from the database file itself. */
async function sealedBytes(
  backend: Backend,
  dataDir: string,
  key: (string | number)[],
): Promise<Uint8Array> {
  const file = join(dataDir, FILE[backend]);
  if (backend === "sqlite") {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const row = db.prepare("SELECT v FROM kv WHERE k = ?").get(encodeKey(key)) as
        | { v: Uint8Array }
        | undefined;
      assert.ok(row, `no record at ${JSON.stringify(key)}`);
      return new Uint8Array(row.v);
    } finally {
      db.close();
    }
  }
  const kv = await Deno.openKv(file);
  try {
    const entry = await kv.get<Uint8Array>(key);
    assert.ok(entry.value instanceof Uint8Array, `no record at ${JSON.stringify(key)}`);
    return entry.value;
  } finally {
    kv.close();
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The 16-byte pieces of `sealed` (every 16th offset) found in any file of the data
 * folder: the database, its WAL and its shared-memory index.
 */
async function piecesOnDisk(dataDir: string, sealed: Uint8Array): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dataDir)) {
    if (!entry.isFile) continue;
    const bytes = await Deno.readFile(join(dataDir, entry.name));
    for (let at = 0; at + 16 <= sealed.length; at += 16) {
      if (indexOf(bytes, sealed.subarray(at, at + 16)) >= 0) found.push(`${entry.name}@${at}`);
    }
  }
  return found;
}

/** A long value, so that its record spans many 16-byte pieces. */
const value = (tag: string) => `${tag}-`.repeat(60);

for (const backend of ["kv", "sqlite"] as const) {
  Deno.test(`spike secret destroy removes the bytes from the ${backend} file`, async (t) => {
    const stack = await Stack.start({ backend });
    const spike = (args: string[], stdin?: string) => stack.spike("pilot", args, { stdin });
    try {
      for (const v of [1, 2, 3]) {
        const put = await spike(["secret", "put", "app/db", `pass=${value(`v${v}-marker`)}`]);
        assert.equal(put.code, 0, put.stderr);
      }
      const sealed = new Map<number, Uint8Array>();
      for (const v of [1, 2, 3]) {
        sealed.set(v, await sealedBytes(backend, stack.dataDir, ["secret-data", "app/db", v, 0]));
      }

      await t.step("the search finds the sealed bytes before destroy", async () => {
        for (const v of [1, 2, 3]) {
          const pieces = await piecesOnDisk(stack.dataDir, sealed.get(v)!);
          assert.ok(pieces.length > 0, `version ${v}'s sealed bytes were not found on disk`);
        }
      });

      await t.step("without --yes it asks, and anything but y changes nothing", async () => {
        const r = await spike(["secret", "destroy", "app/db", "-v", "2"], "n\n");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /destroy version 2 of secret 'app\/db'\? This cannot be undone/);
        assert.match(r.stderr, /Operation canceled\./);
        const v2 = await spike(["secret", "get", "app/db", "pass", "-v", "2"]);
        assert.equal(v2.stdout, value("v2-marker"));
      });

      await t.step(
        "destroy -v 2 keeps versions 1 and 3, and 2's bytes leave the files",
        async () => {
          const r = await spike(["secret", "destroy", "app/db", "-v", "2", "--yes"]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, "OK\n");
          assert.equal(
            (await spike(["secret", "get", "app/db", "pass", "-v", "1"])).stdout,
            value("v1-marker"),
          );
          assert.equal(
            (await spike(["secret", "get", "app/db", "pass"])).stdout,
            value("v3-marker"),
          );
          const gone = await spike(["secret", "get", "app/db", "pass", "-v", "2"]);
          assert.equal(gone.code, 3);
          const meta = JSON.parse(
            (await spike(["secret", "metadata", "get", "app/db", "-f", "json"])).stdout,
          );
          assert.deepEqual(Object.keys(meta.versions).sort(), ["1", "3"]);
          assert.equal(meta.metadata.currentVersion, 3);
          assert.deepEqual(await piecesOnDisk(stack.dataDir, sealed.get(2)!), []);
          for (const v of [1, 3]) {
            assert.ok((await piecesOnDisk(stack.dataDir, sealed.get(v)!)).length > 0, `v${v}`);
          }
          // A version that is not stored: 404 (exit 3), and nothing is destroyed.
          const again = await spike(["secret", "destroy", "app/db", "-v", "2,3", "--yes"]);
          assert.equal(again.code, 3, again.stderr);
          assert.equal((await spike(["secret", "get", "app/db", "pass"])).code, 0);
        },
      );

      await t.step("the audit line names the route, the path and the versions", () => {
        const lines = stack.nexus!.stderr().split("\n").filter((l) =>
          l.includes('"route":"secret.destroy"') && l.includes('"status":200')
        );
        assert.equal(lines.length, 1, stack.nexus!.stderr());
        const line = JSON.parse(lines[0]);
        assert.equal(line.path, "app/db");
        assert.equal(line.destroyed, "2");
        assert.doesNotMatch(stack.nexus!.stderr(), /marker/);
      });

      await t.step("write does not allow destroy; super on the path does", async () => {
        const policy = (name: string, permission: string) =>
          spike([
            "policy",
            "create",
            "--name",
            name,
            "--spiffeid-pattern",
            "^spiffe://spike\\.ist/workload/a$",
            "--path-pattern",
            "^app/",
            "--permissions",
            permission,
          ]);
        const { nexus: a, close } = await nexusAs(stack, "workload-a");
        try {
          const answer = async (call: Promise<unknown>) => {
            try {
              await call;
              return "allowed";
            } catch (e) {
              assert.ok(e instanceof ApiResponseError, String(e));
              return `${e.status} ${e.code}`;
            }
          };
          // With no policy: destroy answers exactly what every forbidden route answers.
          const forbidden = await answer(a.deleteSecret("app/db", [1]));
          assert.equal(forbidden, "401 access_unauthorized");
          assert.equal(await answer(a.destroySecret("app/db", [1])), forbidden);
          assert.equal(await answer(a.destroySecret("no/such/path")), forbidden);
          assert.equal(await answer(a.backup()), forbidden);
          assert.equal((await policy("a-write", "write")).code, 0);
          assert.equal(await answer(a.undeleteSecret("app/db", [1])), "404 api_not_found");
          assert.equal(await answer(a.destroySecret("app/db", [1])), forbidden);
          assert.equal((await policy("a-super", "super")).code, 0);
          assert.equal(await answer(a.destroySecret("app/db", [1])), "allowed");
        } finally {
          close();
        }
        const meta = JSON.parse(
          (await spike(["secret", "metadata", "get", "app/db", "-f", "json"])).stdout,
        );
        assert.deepEqual(Object.keys(meta.versions), ["3"]);
      });

      await t.step("destroy of the whole path removes its metadata and every byte", async () => {
        const r = await spike(["secret", "purge", "app/db", "--yes"]);
        assert.equal(r.code, 0, r.stderr);
        const list = await spike(["secret", "list", "-f", "json"]);
        assert.deepEqual(JSON.parse(list.stdout), []);
        assert.equal((await spike(["secret", "metadata", "get", "app/db"])).code, 3);
        for (const v of [1, 2, 3]) {
          assert.deepEqual(await piecesOnDisk(stack.dataDir, sealed.get(v)!), [], `v${v}`);
        }
        const missing = await spike(["secret", "destroy", "app/db", "--yes"]);
        assert.equal(missing.code, 3);
        assert.match(missing.stderr, /secret app\/db not found/);
      });
    } finally {
      await stack.stop();
    }
  });
}
