/**
 * The Nexus client over several replicas (real mTLS servers on loopback): reads fail over on
 * any transient failure, writes only when they provably never left.
 */

import assert from "node:assert/strict";
import { makeFixtures, sourceOf } from "../spiffe/_test_fixtures.ts";
import { authorizeID, authorizeOneOf } from "../tls/authorize.ts";
import { createMtlsAgent } from "../tls/client.ts";
import { createMtlsServer } from "../tls/server.ts";
import { ApiResponseError, TransportError } from "./errors.ts";
import { NexusClient } from "./nexus.ts";

const NEXUS = "spiffe://example.org/spike/nexus";
const PILOT = "spiffe://example.org/spike/pilot/role/superuser";

/** How a fake replica treats a request it has read. */
type Mode = "serve" | "503" | "404" | "hang-up" | "silent";

Deno.test("NexusClient fails over between replicas: reads freely, writes only unsent", async (t) => {
  const fx = await makeFixtures();
  const replicas = await Promise.all([0, 1].map(async (n) => {
    const replica = { n, mode: "serve" as Mode, seen: [] as string[], port: 0, close: () => {} };
    const server = createMtlsServer({
      source: sourceOf(fx, fx.good.nexus),
      authorizer: authorizeOneOf(PILOT),
      handler: (req, res) => {
        req.on("data", () => {});
        req.on("end", () => {
          replica.seen.push(req.url ?? "");
          if (replica.mode === "hang-up") return void req.socket.destroy();
          if (replica.mode === "silent") return;
          if (replica.mode !== "serve") {
            res.writeHead(Number(replica.mode));
            return void res.end("{}");
          }
          res.end(JSON.stringify({ data: { from: String(n) } }));
        });
      },
    });
    replica.port = (await server.listen(0, "127.0.0.1")).port;
    replica.close = () => void server.close();
    return replica;
  }));
  // A port nothing listens on.
  const gone = createMtlsServer({
    source: sourceOf(fx, fx.good.nexus),
    authorizer: authorizeOneOf(PILOT),
    handler: () => {},
  });
  const deadPort = (await gone.listen(0, "127.0.0.1")).port;
  await gone.close();

  const [a, b] = replicas;
  const agent = createMtlsAgent({
    source: sourceOf(fx, fx.good.pilotViaInter),
    authorizer: authorizeID(NEXUS),
  });
  const client = (ports: number[], timeoutMs = 5_000) =>
    new NexusClient({
      url: ports.map((p) => `https://127.0.0.1:${p}/`),
      agent,
      timeoutMs,
      readAttempts: 1,
    });
  const reset = (modes: [Mode, Mode]) => {
    a.mode = modes[0];
    b.mode = modes[1];
    a.seen.length = 0;
    b.seen.length = 0;
  };

  try {
    await t.step("a refused replica: reads and writes go to the next, which is kept", async () => {
      reset(["serve", "serve"]);
      const nexus = client([deadPort, b.port]);
      assert.deepEqual(nexus.urls, [
        `https://127.0.0.1:${deadPort}`,
        `https://127.0.0.1:${b.port}`,
      ]);
      assert.deepEqual(await nexus.getSecret("x"), { from: "1" });
      await nexus.putSecret("x", { k: "v" });
      assert.equal(b.seen.length, 2);
      assert.deepEqual(await nexus.getSecret("x"), { from: "1" });
    });

    await t.step("reads move on after 503, a cut connection and a timeout", async () => {
      for (const mode of ["503", "hang-up", "silent"] as const) {
        reset([mode, "serve"]);
        const nexus = client([a.port, b.port], 500);
        assert.deepEqual(await nexus.getSecret("x"), { from: "1" }, mode);
        // A read may be re-sent once by the runtime on a new connection (it changes nothing).
        assert.ok(a.seen.length >= 1, mode);
      }
    });

    await t.step("a read answered 404 is an answer: no other replica is asked", async () => {
      reset(["404", "serve"]);
      await assert.rejects(client([a.port, b.port]).getSecret("x"), ApiResponseError);
      assert.equal(b.seen.length, 0);
    });

    await t.step("a write that may have been applied never goes to another replica", async () => {
      for (const [mode, kind] of [["hang-up", "reset"], ["silent", "timeout"]] as const) {
        reset([mode, "serve"]);
        const nexus = client([a.port, b.port], 500);
        await assert.rejects(nexus.putSecret("x", { k: "v" }), (e: unknown) => {
          assert.ok(e instanceof TransportError, String(e));
          assert.equal(e.kind, kind);
          return true;
        });
        assert.deepEqual([a.seen.length, b.seen.length], [1, 0], mode);
      }
      // A 503 reached Nexus (it may come from a database that failed mid-commit).
      reset(["503", "serve"]);
      await assert.rejects(client([a.port, b.port]).putSecret("x", { k: "v" }), ApiResponseError);
      assert.deepEqual([a.seen.length, b.seen.length], [1, 0]);
    });

    await t.step("a write on a reused connection cut by a dying replica is sent once", async () => {
      reset(["serve", "serve"]);
      const nexus = client([a.port, b.port]);
      await nexus.putSecret("x", { k: "v" }); // leaves a kept-alive connection to a
      a.mode = "hang-up";
      await assert.rejects(nexus.putSecret("x", { k: "v" }), TransportError);
      assert.deepEqual([a.seen.length, b.seen.length], [2, 0]);
    });

    await t.step("stream cipher requests fail over like the others", async () => {
      reset(["serve", "serve"]);
      const nexus = client([deadPort, a.port]);
      const out = await nexus.encryptStream(new Uint8Array([1]));
      assert.ok(out.length > 0);
      assert.equal(a.seen.length, 1);
    });

    await t.step("every replica failing: the last error comes back", async () => {
      reset(["503", "503"]);
      await assert.rejects(client([a.port, b.port]).getSecret("x"), (e: unknown) => {
        assert.ok(e instanceof ApiResponseError);
        assert.match(e.url, new RegExp(`:${b.port}/`));
        return true;
      });
      assert.deepEqual([a.seen.length, b.seen.length], [1, 1]);
    });
  } finally {
    agent.close();
    for (const r of replicas) r.close();
    await fx.pki.cleanup();
  }
});
