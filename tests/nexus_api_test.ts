/**
 * The Nexus API through the real server over mTLS, with dev-agent identities:
 * the superuser, two workloads with different policies, the lite workload and
 * a foreign trust domain. Every route, allowed and refused; versioning;
 * concurrency; persistence; tampering; bad input; and curl as an outside client.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ApiResponseError } from "../lib/client/errors.ts";
import type { NexusClient } from "../lib/client/nexus.ts";
import { X509BundleSet } from "../lib/spiffe/bundle.ts";
import { StaticX509Source } from "../lib/spiffe/source.ts";
import { WorkloadApiClient } from "../lib/spiffe/workloadapi/client.ts";
import { authorizeAny } from "../lib/tls/authorize.ts";
import { createMtlsAgent, type MtlsAgent } from "../lib/tls/client.ts";
import { startAgent } from "./support/agent.ts";
import { agentAs, nexusAs } from "./support/clients.ts";
import { curlAs } from "./support/curl.ts";
import { rawRequest } from "./support/raw.ts";
import { PgCluster, POSTGRES_BIN } from "./support/postgres.ts";
import { type Identity, Stack } from "./support/stack.ts";

/** Calls a route and returns its status (200 or the error status). */
async function status(
  nexus: NexusClient,
  route: Parameters<NexusClient["call"]>[0],
  body: unknown,
) {
  try {
    await nexus.call(route, body);
    return 200;
  } catch (e) {
    if (e instanceof ApiResponseError) return e.status;
    throw e;
  }
}

const POLICIES = [
  {
    name: "a-reads-app",
    spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
    pathPattern: "^app/",
    permissions: ["read"],
  },
  {
    name: "b-writes-app",
    spiffeidPattern: "^spiffe://spike\\.ist/workload/b$",
    pathPattern: "^app/",
    permissions: ["read", "write"],
  },
  {
    name: "b-lists",
    spiffeidPattern: "^spiffe://spike\\.ist/workload/b$",
    pathPattern: "^spike/system/secret$",
    permissions: ["list"],
  },
  {
    name: "a-cipher",
    spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
    pathPattern: "^spike/system/cipher/exec$",
    permissions: ["execute"],
  },
  {
    name: "a-hostile",
    spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
    pathPattern: "(a+)+$",
    permissions: ["read"],
  },
];

for (const backend of ["kv", "sqlite", "postgres"] as const) {
  Deno.test(`the Nexus API (${backend} backend)`, {
    ignore: backend === "postgres" && !POSTGRES_BIN,
  }, async (t) => {
    const pg = backend === "postgres" ? await PgCluster.start() : undefined;
    const stack = await Stack.start({
      backend,
      nexusEnv: { SPIKE_NEXUS_MAX_SECRET_VERSIONS: "3" },
      postgres: pg &&
        { hostPort: pg.hostPort, url: await pg.createDatabase("nexus"), password: pg.password },
    }).catch(async (e) => {
      await pg?.close();
      throw e;
    });
    const clients: Record<string, { nexus: NexusClient; close(): void }> = {};
    const as = async (identity: Identity) => clients[identity] ??= await nexusAs(stack, identity);
    let rawAgent: { agent: MtlsAgent; close(): void } | undefined;
    try {
      const su = (await as("pilot")).nexus;
      const a = (await as("workload-a")).nexus;
      const b = (await as("workload-b")).nexus;
      const lite = (await as("lite-workload")).nexus;

      await t.step("policies: the superuser manages them; nobody else may", async () => {
        for (const p of POLICIES) assert.equal(await status(su, "policy.put", p), 200, p.name);
        const got = await su.call<Record<string, unknown>>("policy.get", { id: "a-reads-app" });
        assert.equal(got.name, "a-reads-app");
        assert.equal(got.spiffiedPattern, "^spiffe://spike\\.ist/workload/a$");
        assert.deepEqual(got.permissions, ["read"]);
        assert.equal(got.id, "");
        assert.match(String(got.createdAt), /^\d{4}-\d\d-\d\dT/);
        const listed = await su.call<{ policies: { name: string }[] }>("policy.list", {});
        assert.deepEqual(
          listed.policies.map((p) => p.name).sort(),
          POLICIES.map((p) => p.name).sort(),
        );
        const filtered = await su.call<{ policies: { name: string }[] }>("policy.list", {
          pathPattern: "^app/",
        });
        assert.deepEqual(filtered.policies.map((p) => p.name).sort(), [
          "a-reads-app",
          "b-writes-app",
        ]);
        assert.equal(await status(su, "policy.get", { id: "missing" }), 404);
        assert.equal(await status(su, "policy.delete", { id: "missing" }), 404);
        for (const client of [a, b, lite]) {
          assert.equal(await status(client, "policy.list", {}), 401);
          assert.equal(await status(client, "policy.get", { id: "a-reads-app" }), 401);
          assert.equal(await status(client, "policy.put", { ...POLICIES[0], name: "x" }), 401);
          assert.equal(await status(client, "policy.delete", { id: "a-reads-app" }), 401);
        }
        // Patterns are checked: RE2 syntax, and the reserved paths need anchored patterns.
        assert.equal(await status(su, "policy.put", { ...POLICIES[0], pathPattern: "app/(" }), 400);
        assert.equal(
          await status(su, "policy.put", { ...POLICIES[0], name: "loose", pathPattern: "system" }),
          400,
        );
        assert.equal(await status(su, "policy.put", { ...POLICIES[0], permissions: [] }), 400);
        assert.equal(
          await status(su, "policy.put", { ...POLICIES[0], permissions: ["root"] }),
          400,
        );
        assert.equal(await status(su, "policy.put", { ...POLICIES[0], name: "bad/name" }), 400);
        // Delete works and is final.
        assert.equal(await status(su, "policy.put", { ...POLICIES[0], name: "temp" }), 200);
        assert.equal(await status(su, "policy.delete", { id: "temp" }), 200);
        assert.equal(await status(su, "policy.get", { id: "temp" }), 404);
      });

      await t.step("secrets: each caller gets exactly what its policies allow", async () => {
        assert.equal(
          await status(su, "secret.put", { path: "app/db", values: { user: "admin" } }),
          200,
        );
        assert.equal(await status(su, "secret.put", { path: "other/x", values: { k: "v" } }), 200);
        // Workload A reads app/, nothing else, and cannot write or list.
        assert.deepEqual(await a.call("secret.get", { path: "app/db" }), {
          data: { user: "admin" },
        });
        assert.equal(await status(a, "secret.metadata", { path: "app/db" }), 200);
        assert.equal(await status(a, "secret.get", { path: "other/x" }), 401);
        assert.equal(await status(a, "secret.put", { path: "app/db", values: { x: "y" } }), 401);
        assert.equal(await status(a, "secret.delete", { path: "app/db" }), 401);
        assert.equal(await status(a, "secret.undelete", { path: "app/db", versions: [1] }), 401);
        assert.equal(await status(a, "secret.list", {}), 401);
        // An unauthorized caller learns nothing, not even whether the path exists.
        assert.equal(await status(a, "secret.get", { path: "other/missing" }), 401);
        // Workload B writes app/ and lists.
        assert.equal(await status(b, "secret.put", { path: "app/b", values: { k: "v" } }), 200);
        assert.deepEqual(await b.call("secret.list", {}), { keys: ["app/b", "app/db", "other/x"] });
        assert.equal(await status(b, "secret.get", { path: "other/x" }), 401);
        // The lite workload never touches secrets.
        for (const route of ["secret.get", "secret.metadata", "secret.delete"] as const) {
          assert.equal(await status(lite, route, { path: "app/db" }), 401);
        }
        assert.equal(await status(lite, "secret.list", {}), 401);
        assert.equal(await status(su, "secret.get", { path: "nope" }), 404);
        assert.equal(await status(su, "secret.metadata", { path: "nope" }), 404);
        assert.equal(await status(su, "secret.delete", { path: "nope" }), 404);
        assert.equal(await status(su, "secret.undelete", { path: "nope" }), 404);
      });

      await t.step("versions: prune, delete and undelete, metadata after each step", async () => {
        const meta = async () =>
          await su.call<{
            versions: Record<string, { version: number; deletedTime: string | null }>;
            metadata: { currentVersion: number; oldestVersion: number; maxVersions: number };
          }>("secret.metadata", { path: "v/p" });
        for (let i = 1; i <= 5; i++) {
          assert.equal(
            await status(su, "secret.put", { path: "v/p", values: { n: String(i) } }),
            200,
          );
        }
        let m = await meta();
        assert.deepEqual(Object.keys(m.versions), ["3", "4", "5"]);
        assert.deepEqual(Object.values(m.versions).map((v) => v.version), [3, 4, 5]);
        assert.deepEqual(m.metadata, {
          ...m.metadata,
          currentVersion: 5,
          oldestVersion: 3,
          maxVersions: 3,
        });
        assert.equal(await status(su, "secret.get", { path: "v/p", version: 2 }), 404);

        assert.equal(await status(su, "secret.delete", { path: "v/p", versions: [4] }), 200);
        m = await meta();
        assert.ok(m.versions["4"].deletedTime);
        assert.equal(m.metadata.currentVersion, 5);
        assert.equal(await status(su, "secret.get", { path: "v/p", version: 4 }), 404);

        assert.equal(await status(su, "secret.delete", { path: "v/p" }), 200); // the current one
        m = await meta();
        assert.equal(m.metadata.currentVersion, 3); // 5 deleted, 4 deleted: back to 3
        assert.deepEqual(await su.call("secret.get", { path: "v/p" }), { data: { n: "3" } });

        assert.equal(await status(su, "secret.undelete", { path: "v/p", versions: [4, 5] }), 200);
        m = await meta();
        assert.equal(m.metadata.currentVersion, 5);
        assert.equal(m.versions["4"].deletedTime, null);
        assert.equal(await status(su, "secret.undelete", { path: "v/p", versions: [4] }), 404);
      });

      await t.step(
        "50 concurrent puts to one path: 50 consecutive versions, none lost",
        async () => {
          const results = await Promise.all(
            Array.from(
              { length: 50 },
              (_, i) => status(su, "secret.put", { path: "race/p", values: { i: String(i) } }),
            ),
          );
          assert.deepEqual(results, new Array(50).fill(200));
          const m = await su.call<{ metadata: { currentVersion: number }; versions: object }>(
            "secret.metadata",
            { path: "race/p" },
          );
          assert.equal(m.metadata.currentVersion, 50);
          assert.deepEqual(Object.keys(m.versions), ["48", "49", "50"]);
        },
      );

      await t.step("cipher: JSON and stream mode; who may use it", async () => {
        for (const client of [su, lite, a]) {
          const enc = await client.call<{ version: number; nonce: string; ciphertext: string }>(
            "cipher.encrypt",
            { plaintext: btoa("hello, cipher") },
          );
          assert.equal(enc.version, 1);
          const dec = await client.call<{ plaintext: string }>("cipher.decrypt", enc);
          assert.equal(atob(dec.plaintext), "hello, cipher");
        }
        assert.equal(await status(b, "cipher.encrypt", { plaintext: btoa("x") }), 401);
        assert.equal(
          await status(b, "cipher.decrypt", { version: 1, nonce: "", ciphertext: "" }),
          401,
        );

        rawAgent = await agentAs(stack, "lite-workload", "nexus");
        const url = (p: string) => stack.nexusUrl + p;
        const stream = { "content-type": "application/octet-stream" };
        const enc = await rawRequest(rawAgent.agent, url("/v1/cipher/encrypt"), {
          body: "stream me",
          headers: stream,
        });
        assert.equal(enc.status, 200);
        assert.equal(enc.headers["content-type"], "application/octet-stream");
        assert.equal(enc.body[0], 1);
        assert.equal(enc.body.length, 1 + 12 + 9 + 16);
        const dec = await rawRequest(rawAgent.agent, url("/v1/cipher/decrypt"), {
          body: enc.body,
          headers: stream,
        });
        assert.equal(dec.status, 200);
        assert.equal(dec.text, "stream me");
        const tampered = enc.body.slice();
        tampered[20] ^= 1;
        const bad = await rawRequest(rawAgent.agent, url("/v1/cipher/decrypt"), {
          body: tampered,
          headers: stream,
        });
        assert.equal(bad.status, 400);
        assert.equal(bad.text, "decryption failed\n");
        const version = await rawRequest(rawAgent.agent, url("/v1/cipher/decrypt"), {
          body: new Uint8Array([2, 0, 0]),
          headers: stream,
        });
        assert.equal(version.text, "crypto_unsupported_version\n");
        // The size limit: 64 KiB of ciphertext, tag included; what encrypt makes, decrypt takes.
        const big = await rawRequest(rawAgent.agent, url("/v1/cipher/encrypt"), {
          body: new Uint8Array(65536 - 16),
          headers: stream,
        });
        assert.equal(big.status, 200);
        const back = await rawRequest(rawAgent.agent, url("/v1/cipher/decrypt"), {
          body: big.body,
          headers: stream,
        });
        assert.equal(back.status, 200);
        assert.equal(back.body.length, 65536 - 16);
        const over = await rawRequest(rawAgent.agent, url("/v1/cipher/encrypt"), {
          body: new Uint8Array(65536 - 15),
          headers: stream,
        });
        assert.equal(over.status, 400);
        assert.equal(JSON.parse(over.text).err, "api_bad_request");
        // The cipher key is not the secrets' key: a stored record does not decrypt here.
        assert.equal(
          await status(su, "cipher.decrypt", {
            version: 1,
            nonce: btoa("123456789012"),
            ciphertext: btoa("x".repeat(40)),
          }),
          500,
        );
      });

      await t.step("bad input gets 400 and changes nothing; the server keeps serving", async () => {
        rawAgent ??= await agentAs(stack, "lite-workload", "nexus");
        const suRaw = await agentAs(stack, "pilot", "nexus");
        try {
          const secrets = stack.nexusUrl + "/v1/store/secrets";
          const cases: [string, { method?: string; body?: string | Uint8Array; url?: string }][] = [
            ["GET", { method: "GET" }],
            ["PUT", { method: "PUT", body: "{}" }],
            ["unknown action", { url: secrets + "?action=destroy", body: "{}" }],
            ["unknown path", { url: stack.nexusUrl + "/v1/store/secret", body: "{}" }],
            ["empty body", { body: "" }],
            ["not JSON", { body: "{path:" }],
            ["JSON array", { body: "[]" }],
            ["path is a number", { body: '{"path": 5, "values": {}}' }],
            ["values not strings", { body: '{"path": "ok/p", "values": {"k": 1}}' }],
            ["bad path", { body: '{"path": "with space", "values": {"k": "v"}}' }],
            ["path too long", { body: JSON.stringify({ path: "a".repeat(501), values: {} }) }],
            ["bad key", { body: '{"path": "ok/p", "values": {"k/ey": "v"}}' }],
            ["secret too big", {
              body: JSON.stringify({ path: "ok/p", values: { k: "x".repeat(600 * 1024) } }),
            }],
            ["body over 1 MiB", {
              body: JSON.stringify({ path: "ok/p", values: { k: "x".repeat(1 << 20) } }),
            }],
            ["invalid UTF-8", { body: new Uint8Array([0x7b, 0xff, 0x7d]) }],
            ["version is a fraction", {
              url: secrets + "?action=get",
              body: '{"path": "app/db", "version": 1.5}',
            }],
          ];
          for (const [what, c] of cases) {
            const res = await rawRequest(suRaw.agent, c.url ?? secrets, {
              method: c.method,
              body: c.body,
            });
            assert.equal(res.status, 400, what);
            assert.deepEqual(JSON.parse(res.text).err, "api_bad_request", what);
            assert.ok(!res.text.includes("with space") && !res.text.includes("xxxx"), what);
          }
          assert.deepEqual(await su.call("secret.list", {}), {
            keys: ["app/b", "app/db", "other/x", "race/p", "v/p"],
          });
          // A catastrophic-backtracking pattern for a JS engine is linear under RE2: the
          // policy "(a+)+$" is tried against a long path that almost matches.
          const started = performance.now();
          assert.equal(await status(a, "secret.get", { path: "a".repeat(499) + "!" }), 401);
          console.log(`hostile pattern check took ${(performance.now() - started).toFixed(1)} ms`);
          const ok = await rawRequest(suRaw.agent, secrets + "?action=get", {
            body: '{"path": "app/db"}',
          });
          assert.equal(ok.status, 200);
          assert.equal(ok.headers["content-type"], "application/json");
          assert.equal(ok.headers["cache-control"], "no-store, no-cache, must-revalidate, private");
          assert.equal(ok.headers["pragma"], "no-cache");
        } finally {
          suRaw.close();
        }
      });

      await t.step("a foreign trust domain is refused at the TLS layer", async () => {
        const foreign = await startAgent({
          identities: ["x=spiffe://other.org/workload/x"],
          trustDomain: "other.org",
        });
        const own = new WorkloadApiClient(stack.agent.address("workload-a"));
        const theirs = new WorkloadApiClient(foreign.address("x"));
        try {
          const spikeBundle = (await own.fetchX509Bundles(5000)).bundles();
          const ctx = await theirs.fetchX509Context(5000);
          // The foreign client trusts Nexus; Nexus has no bundle for other.org.
          const source = new StaticX509Source(
            ctx.svids[0],
            new X509BundleSet([...spikeBundle, ...ctx.bundles.bundles()]),
          );
          const agent = createMtlsAgent({ source, authorizer: authorizeAny() });
          try {
            await assert.rejects(
              agent.postJson(stack.nexusUrl + "/v1/store/secrets?action=list", {}),
            );
          } finally {
            agent.close();
          }
          await stack.nexus!.waitFor(/connection refused.*other\.org/);
        } finally {
          own.close();
          theirs.close();
          await foreign.stop();
        }
      });

      await t.step("curl, with SVID files from the agent, is served like any client", async () => {
        const curl = await curlAs(stack, "pilot", "/v1/store/secrets?action=get", {
          data: '{"path": "app/db"}',
        });
        assert.equal(curl.code, 0, curl.stderr);
        assert.equal(curl.status, "200");
        assert.deepEqual(JSON.parse(curl.body), { data: { user: "admin" } });
        const noCert = await curlAs(stack, null, "/v1/store/secrets?action=list");
        assert.notEqual(noCert.code, 0);
      });

      await t.step("no secret value reaches a log line or an error body", async () => {
        const marker = `must-not-be-logged-${crypto.randomUUID()}`;
        assert.equal(
          await status(su, "secret.put", { path: "app/marker", values: { k: marker } }),
          200,
        );
        assert.equal(await status(su, "secret.get", { path: "app/marker" }), 200);
        assert.equal(
          await status(a, "secret.put", { path: "app/marker", values: { k: marker } }),
          401,
        );
        assert.equal(
          await status(su, "secret.put", { path: "bad path", values: { k: marker } }),
          400,
        );
        const enc = await su.call<{ ciphertext: string }>("cipher.encrypt", {
          plaintext: btoa(marker),
        });
        assert.ok(!enc.ciphertext.includes(marker));
        const logs = stack.nexus!.stderr();
        assert.match(logs, /"audit":true(?=.*"path":"app\/marker")(?=.*"status":200)/);
        assert.ok(!logs.includes(marker), "a secret value is in Nexus's logs");
        for (const keeper of stack.keepers) assert.ok(!keeper!.stderr().includes(marker));
      });

      await t.step("everything survives a kill -9 of Nexus", async () => {
        for (const c of Object.values(clients)) c.close();
        for (const k of Object.keys(clients)) delete clients[k];
        await stack.stopNexus("SIGKILL");
        await stack.startNexus();
        const su2 = (await as("pilot")).nexus;
        for (let i = 0; i < 200; i++) {
          if (await status(su2, "secret.list", {}) === 200) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(await su2.call("secret.get", { path: "app/db" }), {
          data: { user: "admin" },
        });
        assert.equal(
          await status((await as("workload-a")).nexus, "secret.get", { path: "app/db" }),
          200,
        );
      });

      await t.step("a record altered or moved in the database file is never served", async () => {
        const su2 = (await as("pilot")).nexus;
        for (const p of ["t/a", "t/b", "t/c"]) {
          assert.equal(await status(su2, "secret.put", { path: p, values: { v: p } }), 200);
        }
        await stack.stopNexus("SIGTERM");
        if (pg) await tamperPostgres(pg);
        else {
          // Both backends keep one table kv(k, v, ...) of byte keys and values.
          const db = new DatabaseSync(
            join(stack.dataDir, backend === "kv" ? "spike.kv" : "spike.db"),
          );
          try {
            // A path's data record, and its metadata record (which keeps a copy of the data).
            const rows = (path: string) =>
              ["secret-data", "secret-meta"].map((kind) =>
                db.prepare(
                  "SELECT k, v FROM kv WHERE instr(k, ?) > 0 AND instr(k, ?) > 0 ORDER BY k LIMIT 1",
                ).get(new TextEncoder().encode(kind), new TextEncoder().encode(path)) as {
                  k: Uint8Array;
                  v: Uint8Array;
                }
              );
            for (const ra of rows("t/a")) {
              const flipped = new Uint8Array(ra.v);
              flipped[flipped.length - 5] ^= 1;
              db.prepare("UPDATE kv SET v = ? WHERE k = ?").run(flipped, ra.k);
            }
            const rc = rows("t/c");
            for (const [i, rb] of rows("t/b").entries()) {
              db.prepare("UPDATE kv SET v = ? WHERE k = ?").run(rc[i].v, rb.k);
              db.prepare("UPDATE kv SET v = ? WHERE k = ?").run(rb.v, rc[i].k);
            }
          } finally {
            db.close();
          }
        }
        const nexusProc = await stack.startNexus();
        const su3 = (await as("pilot")).nexus;
        for (let i = 0; i < 200; i++) {
          if (await status(su3, "secret.list", {}) === 200) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const p of ["t/a", "t/b", "t/c"]) {
          assert.equal(await status(su3, "secret.get", { path: p }), 500, p);
        }
        assert.deepEqual(await su3.call("secret.get", { path: "app/db" }), {
          data: { user: "admin" },
        });
        await nexusProc.waitFor(/"audit":true(?=.*"path":"t\/a")(?=.*"status":500)/);
        assert.ok(!nexusProc.stderr().includes('"v":"t/'), "no value in the logs");
      });
    } finally {
      rawAgent?.close();
      for (const c of Object.values(clients)) c.close();
      await stack.stop();
      await pg?.close();
    }
  });
}

/**
 * What the sqlite step does to the file, in SQL: flip a byte of t/a's data and metadata records,
 * swap t/b's and t/c's.
 */
async function tamperPostgres(pg: PgCluster): Promise<void> {
  const first = (kind: string, path: string) =>
    `(SELECT k FROM spike_kv WHERE position('${kind}'::bytea in k) > 0
      AND position('${path}'::bytea in k) > 0 ORDER BY k LIMIT 1)`;
  const steps = ["secret-data", "secret-meta"].map((kind) =>
    `UPDATE spike_kv SET v = set_byte(v, length(v) - 5, get_byte(v, length(v) - 5) # 1)
      WHERE k = ${first(kind, "t/a")};
    UPDATE spike_kv SET v = CASE WHEN k = ${first(kind, "t/b")}
        THEN (SELECT v FROM spike_kv WHERE k = ${first(kind, "t/c")})
        ELSE (SELECT v FROM spike_kv WHERE k = ${first(kind, "t/b")}) END
      WHERE k IN (${first(kind, "t/b")}, ${first(kind, "t/c")});`
  );
  await pg.psql(`BEGIN;\n${steps.join("\n")}\nCOMMIT;`, "nexus");
}

Deno.test("Nexus on postgres: the database stopped, requests fail fast; started, they resume", {
  ignore: !POSTGRES_BIN,
}, async () => {
  const pg = await PgCluster.start();
  const stack = await Stack.start({
    backend: "postgres",
    nexusEnv: { SPIKE_NEXUS_DB_OPERATION_TIMEOUT: "2s" },
    postgres: {
      hostPort: pg.hostPort,
      url: await pg.createDatabase("nexus"),
      password: pg.password,
    },
  }).catch(async (e) => {
    await pg.close();
    throw e;
  });
  const su = await nexusAs(stack, "pilot");
  try {
    for (let i = 0; i < 200 && await status(su.nexus, "secret.list", {}) !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(
      await status(su.nexus, "secret.put", { path: "app/kept", values: { k: "1" } }),
      200,
    );
    await pg.pause();
    for (
      const [route, body] of [
        ["secret.get", { path: "app/kept" }],
        ["secret.put", { path: "app/new", values: { k: "2" } }],
      ] as const
    ) {
      const started = performance.now();
      const code = await status(su.nexus, route, body);
      assert.equal(code, 503, `${route}: ${code}`);
      assert.ok(performance.now() - started < 4000, `${route} took too long`);
    }
    await pg.resume();
    let code = 0;
    for (let i = 0; i < 100 && code !== 200; i++) {
      code = await status(su.nexus, "secret.get", { path: "app/kept" });
      if (code !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await su.nexus.call("secret.get", { path: "app/kept" }), { data: { k: "1" } });
    assert.equal(await status(su.nexus, "secret.get", { path: "app/new" }), 404);
    assert.equal(
      await status(su.nexus, "secret.put", { path: "app/new", values: { k: "3" } }),
      200,
    );
    // Nexus stayed up through all of it, and said why requests failed.
    assert.equal(
      stack.nexus!.pid > 0 && (await Promise.race([
        stack.nexus!.status.then(() => "ended"),
        Promise.resolve("running"),
      ])),
      "running",
    );
    assert.match(stack.nexus!.stderr(), /PostgreSQL/);
  } finally {
    su.close();
    await stack.stop();
    await pg.close();
  }
});

Deno.test("the lite backend serves only the cipher and root-key routes", async () => {
  const stack = await Stack.start({ backend: "lite" });
  const su = await nexusAs(stack, "pilot");
  const lite = await nexusAs(stack, "lite-workload");
  try {
    for (let i = 0; i < 200; i++) {
      if (await status(lite.nexus, "cipher.encrypt", { plaintext: "eA==" }) === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const enc = await lite.nexus.call("cipher.encrypt", { plaintext: btoa("lite") });
    const dec = await lite.nexus.call<{ plaintext: string }>("cipher.decrypt", enc);
    assert.equal(atob(dec.plaintext), "lite");
    assert.equal(await status(su.nexus, "secret.put", { path: "a/b", values: {} }), 400);
    assert.equal(await status(su.nexus, "secret.list", {}), 400);
    assert.equal(await status(su.nexus, "policy.list", {}), 400);
  } finally {
    su.close();
    lite.close();
    await stack.stop();
  }
});
