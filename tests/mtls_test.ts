/**
 * mTLS over real sockets, with the server and the client in separate processes (two TLS
 * endpoints in one Deno process can share session state: the module notes of lib/tls/server.ts
 * and lib/tls/client.ts), with
 * certificates made by openssl, and with independent clients (curl, openssl s_client).
 */

import assert from "node:assert/strict";
import tls from "node:tls";
import type { SpiffeId } from "../lib/spiffe/id.ts";
import { pemToDer } from "../lib/spiffe/pem.ts";
import { StaticX509Source } from "../lib/spiffe/source.ts";
import { parseX509Svid } from "../lib/spiffe/x509svid.ts";
import { authorizeID, authorizeOneOf, type Authorizer } from "../lib/tls/authorize.ts";
import { createMtlsAgent, type MtlsAgent } from "../lib/tls/client.ts";
import { createMtlsServer, peerIdOf } from "../lib/tls/server.ts";
import type { Issued } from "../lib/spiffe/_test_pki.ts";
import { OPENSSL } from "../lib/spiffe/_test_pki.ts";
import { type Fixtures, makeFixtures, sourceOf } from "../lib/spiffe/_test_fixtures.ts";
import { runPeerClient, runTool, startPeerServer } from "./support/mtls_harness.ts";

const NEXUS = "spiffe://example.org/spike/nexus";
const PILOT = "spiffe://example.org/spike/pilot/role/superuser";
const KEEPER = "spiffe://example.org/spike/keeper";
const OTHER = "spiffe://other.org/workload";
const CURL = "/usr/bin/curl";

/** Runs `fn` with a fresh agent (new connections) and closes it. */
async function withAgent<T>(
  source: StaticX509Source,
  authorizer: Authorizer,
  fn: (agent: MtlsAgent) => Promise<T>,
): Promise<T> {
  const agent = createMtlsAgent({ source, authorizer });
  try {
    return await fn(agent);
  } finally {
    agent.close();
  }
}

/** Opens a raw TLS connection with `cert`, writes `data`, and reports what came back and when. */
function rawExchange(
  port: number,
  fx: Fixtures,
  cert: Issued,
  data: string,
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let text = "";
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      cert: cert.chainPem,
      key: cert.keyPem,
      ca: [fx.root.certPem],
      checkServerIdentity: () => undefined,
    }, () => socket.write(data));
    socket.on("data", (d: Uint8Array) => text += new TextDecoder().decode(d));
    socket.on("error", reject);
    socket.on("close", () => resolve({ text, closedAfterMs: Date.now() - started }));
  });
}

Deno.test("mTLS: our client (this process) against our server (child process)", async (t) => {
  const fx = await makeFixtures();
  const dir = fx.pki.dir;
  const write = (name: string, text: string) => {
    Deno.writeTextFileSync(`${dir}/${name}`, text);
    return `${dir}/${name}`;
  };
  // The server reads its SVID from these files again on SIGHUP (rotation).
  const serverCert = write("served.pem", fx.good.nexus.certPem);
  const serverKey = write("served.key", fx.good.nexus.keyPem);
  const pilotChain = write("pilot.chain.pem", fx.good.pilotViaInter.chainPem);
  const bundles = { "example.org": fx.root.certFile, "other.org": fx.otherRoot.certFile };
  const { peer, port } = await startPeerServer({
    cert: serverCert,
    key: serverKey,
    bundles,
    authorize: { oneOf: [PILOT, KEEPER, OTHER] },
    headersTimeoutMs: 1000,
    requestTimeoutMs: 2000,
    idleTimeoutMs: 1000,
  }, dir);
  const url = `https://127.0.0.1:${port}/v1/store/secrets?action=get`;
  const nexusOnly = authorizeID(NEXUS);

  // Events arrive through a pipe and may lag behind: match them by content, never by position.
  const handled = (nonce: string) =>
    peer.events.some((e) => e.event === "request" && String(e.body).includes(nonce));

  /** Asserts the call fails and the server reports a refusal matching `reason`. */
  const refused = async (cert: Issued, reason: RegExp, claimed?: string) => {
    const nonce = crypto.randomUUID();
    await assert.rejects(
      withAgent(
        sourceOf(fx, cert),
        nexusOnly,
        (a) => a.postJson(url, { nonce }, { timeoutMs: 5000 }),
      ),
    );
    const event = await peer.waitFor((e) =>
      e.event === "refused" && reason.test(String(e.reason)) &&
      (claimed === undefined || e.peer === claimed)
    );
    assert.ok(event);
    assert.ok(!handled(nonce), "the handler ran");
  };

  try {
    await t.step("an allowed call reaches the handler with the caller's SPIFFE ID", async () => {
      const res = await withAgent(
        sourceOf(fx, fx.good.pilotViaInter),
        nexusOnly,
        (a) => a.postJson(url, { path: "db/pass" }),
      );
      assert.equal(res.status, 200);
      const body = JSON.parse(new TextDecoder().decode(res.body));
      assert.deepEqual(body, {
        peer: PILOT,
        path: "/v1/store/secrets?action=get",
        body: '{"path":"db/pass"}',
      });
      const event = await peer.waitFor((e) =>
        e.event === "request" && e.body === '{"path":"db/pass"}'
      );
      assert.equal(event.peer, PILOT);
    });

    await t.step("a federated peer is verified against its own trust domain's bundle", async () => {
      const res = await withAgent(
        sourceOf(fx, fx.good.otherTd),
        nexusOnly,
        (a) => a.postJson(url, 1),
      );
      assert.equal(JSON.parse(new TextDecoder().decode(res.body)).peer, OTHER);
    });

    await t.step("keep-alive: several calls share one agent", async () => {
      await withAgent(sourceOf(fx, fx.good.keeper), nexusOnly, async (a) => {
        for (let i = 0; i < 5; i++) assert.equal((await a.postJson(url, i)).status, 200);
      });
    });

    await t.step("the server's authorizer refuses a valid SVID it does not allow", async () => {
      await refused(
        fx.good.workload,
        /^unauthorized SPIFFE ID "spiffe:\/\/example.org\/workload": expected one of/,
        "spiffe://example.org/workload",
      );
    });

    await t.step("a client certificate from a foreign CA is refused", async () => {
      await refused(fx.bad.untrusted, /certificate signed by unknown authority/, PILOT);
    });

    await t.step("another trust domain's root cannot vouch for an example.org ID", async () => {
      await refused(fx.bad.wrongTd, /signed by unknown authority.*"example.org"/, NEXUS);
    });

    await t.step("an expired client certificate is refused", async () => {
      await refused(fx.bad.expired, /leaf certificate .* has expired/, "spiffe://example.org/old");
    });

    await t.step("a CA certificate used as a client leaf is refused", async () => {
      // parseX509Svid would refuse it, so present it through a raw TLS connection.
      const r = await rawExchange(port, fx, fx.bad.caLeaf, "POST / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(r.text, "");
      await peer.waitFor((e) =>
        e.event === "refused" && /leaf certificate with CA flag set to true/.test(String(e.reason))
      );
    });

    await t.step("no client certificate: refused (curl)", async () => {
      const r = await runTool(CURL, ["-sk", "--max-time", "5", url, "-d", "{}"]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, "");
      await peer.waitFor((e) =>
        e.event === "refused" && e.reason === "client presented no certificate"
      );
    });

    await t.step("an independent client (curl) with a valid SVID chain gets through", async () => {
      const r = await runTool(CURL, [
        "-sk",
        "--max-time",
        "5",
        "--cert",
        pilotChain,
        "--key",
        fx.good.pilotViaInter.keyFile,
        url,
        "-d",
        '{"from":"curl"}',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).peer, PILOT);
    });

    await t.step("the client refuses a server with the wrong SPIFFE ID", async () => {
      const nonce = crypto.randomUUID();
      await assert.rejects(
        withAgent(
          sourceOf(fx, fx.good.pilotViaInter),
          authorizeID(KEEPER),
          (a) => a.postJson(url, { nonce }),
        ),
        /unauthorized SPIFFE ID "spiffe:\/\/example.org\/spike\/nexus": expected "spiffe:\/\/example.org\/spike\/keeper"/,
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!handled(nonce));
    });

    await t.step(
      "the client refuses a server whose trust domain it holds no bundle for",
      async () => {
        await assert.rejects(
          withAgent(
            sourceOf(fx, fx.good.pilotViaInter, ["other.org"]),
            nexusOnly,
            (a) => a.postJson(url, {}),
          ),
        );
      },
    );

    await t.step("the client follows its own rotation (new agent, new SVID)", async () => {
      const source = sourceOf(fx, fx.good.pilotViaInter);
      await withAgent(source, nexusOnly, async (a) => {
        const before = a.agent;
        const first = await a.postJson(url, {});
        assert.equal(JSON.parse(new TextDecoder().decode(first.body)).peer, PILOT);
        source.update(
          parseX509Svid(fx.good.keeper.chainPem, fx.good.keeper.keyPem),
          source.getBundles(),
        );
        assert.notEqual(a.agent, before);
        const second = await a.postJson(url, {});
        assert.equal(JSON.parse(new TextDecoder().decode(second.body)).peer, KEEPER);
      });
    });

    await t.step("header, request and idle timeouts close connections", async () => {
      const partial = await rawExchange(port, fx, fx.good.keeper, "POST / HTTP/1.1\r\nHost: x\r\n");
      assert.match(partial.text, /^HTTP\/1.1 408/);
      assert.ok(partial.closedAfterMs < 4000, `closed after ${partial.closedAfterMs} ms`);
      const body = await rawExchange(
        port,
        fx,
        fx.good.keeper,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
      );
      assert.ok(body.closedAfterMs < 5000, `closed after ${body.closedAfterMs} ms`);
      const idle = await rawExchange(
        port,
        fx,
        fx.good.keeper,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
      );
      assert.match(idle.text, /^HTTP\/1.1 200/);
      assert.ok(idle.closedAfterMs < 4000, `idle connection closed after ${idle.closedAfterMs} ms`);
    });

    await t.step("a rotated server certificate is served to new connections", async () => {
      let served: Uint8Array | undefined;
      const capture: Authorizer = (id: SpiffeId, chain) => {
        assert.equal(id.toString(), NEXUS);
        served = chain[0];
      };
      await withAgent(sourceOf(fx, fx.good.keeper), capture, (a) => a.postJson(url, {}));
      assert.deepEqual(served, pemToDer(fx.good.nexus.certPem)[0]);

      write("served.pem", fx.good.nexusRotated.certPem);
      write("served.key", fx.good.nexusRotated.keyPem);
      peer.signal("SIGHUP");
      await peer.waitFor((e) => e.event === "rotated");

      await withAgent(sourceOf(fx, fx.good.keeper), capture, (a) => a.postJson(url, {}));
      assert.deepEqual(served, pemToDer(fx.good.nexusRotated.certPem)[0]);
      // And as an independent client sees it:
      const s = await runTool(OPENSSL, [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        "-cert",
        fx.good.keeper.certFile,
        "-key",
        fx.good.keeper.keyFile,
      ], "");
      assert.match(s.stdout, /subject=O = SPIFFE, CN = rotated/);
    });
  } finally {
    await peer.stop();
    await fx.pki.cleanup();
  }
});

Deno.test("mTLS: our server (this process) against clients in child processes", async (t) => {
  const fx = await makeFixtures();
  const dir = fx.pki.dir;
  const refusals: { reason: string; peer?: string }[] = [];
  const seen: { peer: string; viaPeerIdOf?: string; body: string }[] = [];
  const server = createMtlsServer({
    source: sourceOf(fx, fx.good.nexus),
    authorizer: authorizeOneOf(PILOT),
    onRefused: (reason, peer) => refusals.push({ reason, peer }),
    handler: async (req, res, peer) => {
      let body = "";
      for await (const chunk of req) body += new TextDecoder().decode(chunk as Uint8Array);
      seen.push({ peer: peer.toString(), viaPeerIdOf: peerIdOf(req)?.toString(), body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    },
  });
  const { port } = await server.listen(0, "127.0.0.1");
  const url = `https://127.0.0.1:${port}/v1/cipher/encrypt`;
  const clientConfig = (cert: Issued, key = cert.keyFile) => {
    const chainFile = `${dir}/${cert.name}.chain.pem`;
    Deno.writeTextFileSync(chainFile, cert.chainPem);
    return {
      cert: chainFile,
      key,
      bundles: { "example.org": fx.root.certFile },
      authorize: { id: NEXUS },
      url,
      body: { plaintext: "aGk=" },
    };
  };
  try {
    await t.step("a client in another process reaches the handler with its ID", async () => {
      const result = await runPeerClient(clientConfig(fx.good.pilotViaInter), dir);
      assert.equal(result.event, "response", JSON.stringify(result));
      assert.equal(result.status, 200);
      assert.deepEqual(seen.at(-1), {
        peer: PILOT,
        viaPeerIdOf: PILOT,
        body: '{"plaintext":"aGk="}',
      });
    });

    await t.step("the authorizer refuses other IDs before any request is read", async () => {
      const before = seen.length;
      const result = await runPeerClient(clientConfig(fx.good.keeper), dir);
      assert.equal(result.event, "error");
      assert.equal(seen.length, before);
      assert.match(
        refusals.at(-1)?.reason ?? "",
        /^unauthorized SPIFFE ID "spiffe:\/\/example.org\/spike\/keeper"/,
      );
      assert.equal(refusals.at(-1)?.peer, KEEPER);
    });

    await t.step("curl without a certificate is refused; with one it gets through", async () => {
      const none = await runTool(CURL, ["-sk", "--max-time", "5", url, "-d", "{}"]);
      assert.notEqual(none.code, 0);
      assert.equal(refusals.at(-1)?.reason, "client presented no certificate");
      const ok = await runTool(CURL, [
        "-sk",
        "--max-time",
        "5",
        "--cert",
        `${dir}/${fx.good.pilotViaInter.name}.chain.pem`,
        "--key",
        fx.good.pilotViaInter.keyFile,
        url,
        "-d",
        "{}",
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(JSON.parse(ok.stdout), { ok: true });
    });

    await t.step("openssl s_client sees our SVID and no hostname is needed", async () => {
      const s = await runTool(OPENSSL, [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        "-CAfile",
        fx.root.certFile,
        "-verify_return_error",
        "-cert",
        fx.good.pilotViaInter.certFile,
        "-cert_chain",
        fx.inter.certFile,
        "-key",
        fx.good.pilotViaInter.keyFile,
      ], "");
      assert.match(s.stdout, /Verify return code: 0 \(ok\)/);
      assert.match(s.stdout, /subject=O = SPIFFE, CN = nexus/);
    });

    await t.step("close() ends idle keep-alive connections at once", async () => {
      // openssl s_client (another process) sends one keep-alive request and keeps the
      // connection open, as a pooled client would.
      const child = new Deno.Command(OPENSSL, {
        args: [
          "s_client",
          "-quiet",
          "-connect",
          `127.0.0.1:${port}`,
          "-cert",
          fx.good.pilotViaInter.certFile,
          "-cert_chain",
          fx.inter.certFile,
          "-key",
          fx.good.pilotViaInter.keyFile,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const writer = child.stdin.getWriter();
      try {
        const before = seen.length;
        await writer.write(
          new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nidle"),
        );
        const deadline = Date.now() + 5000;
        while (seen.length === before && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(seen.at(-1)?.body, "idle");
        const started = Date.now();
        await server.close();
        const took = Date.now() - started;
        assert.ok(took < 2000, `close() took ${took} ms`);
      } finally {
        await writer.close().catch(() => {});
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        await child.output();
      }
    });
  } finally {
    await server.close();
    await fx.pki.cleanup();
  }
});

Deno.test("mTLS: the client checks the trust domain itself, not just the pooled roots", async () => {
  // A server that presents an example.org ID signed by other.org's root: the TLS stack accepts
  // it (both roots are in the pooled `ca`), verifyX509Svid must not.
  const fx = await makeFixtures();
  const { peer, port } = await startPeerServer({
    cert: fx.bad.wrongTd.certFile,
    key: fx.bad.wrongTd.keyFile,
    bundles: { "example.org": fx.root.certFile },
    authorize: { any: true },
  }, fx.pki.dir);
  try {
    await assert.rejects(
      withAgent(
        sourceOf(fx, fx.good.pilotViaInter),
        authorizeID(NEXUS),
        (a) => a.postJson(`https://127.0.0.1:${port}/`, {}),
      ),
      /x509svid: certificate signed by unknown authority.*"example.org"/,
    );
    assert.ok(!peer.events.some((e) => e.event === "request"));
  } finally {
    await peer.stop();
    await fx.pki.cleanup();
  }
});

Deno.test("mTLS: resumed TLS sessions are verified again on every connection", async () => {
  // Deno's server resumes TLS sessions and then reports `authorized: true` whatever happened
  // in the first handshake; our server verifies the (remembered) peer chain every time.
  const fx = await makeFixtures();
  const dir = fx.pki.dir;
  const bundleFile = `${dir}/example-bundle.pem`;
  Deno.writeTextFileSync(bundleFile, fx.root.certPem);
  const sessionFile = `${dir}/session.pem`;
  const { peer, port } = await startPeerServer({
    cert: fx.good.nexus.certFile,
    key: fx.good.nexus.keyFile,
    bundles: { "example.org": bundleFile },
    authorize: { id: PILOT },
  }, dir);
  const sClient = (path: string, extra: string[]) =>
    runTool(OPENSSL, [
      "s_client",
      "-tls1_2",
      "-ign_eof",
      "-connect",
      `127.0.0.1:${port}`,
      ...extra,
    ], `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi`);
  try {
    const first = await sClient("/first", [
      "-sess_out",
      sessionFile,
      "-cert",
      fx.good.pilotViaInter.certFile,
      "-cert_chain",
      fx.inter.certFile,
      "-key",
      fx.good.pilotViaInter.keyFile,
    ]);
    assert.match(first.stdout, /HTTP\/1.1 200/);
    // Resumed without presenting a certificate: the remembered chain is verified again.
    const resumed = await sClient("/resumed", ["-sess_in", sessionFile]);
    assert.match(resumed.stdout, /Reused, TLSv1.2/);
    assert.match(resumed.stdout, /HTTP\/1.1 200/);
    const event = await peer.waitFor((e) => e.event === "request" && e.path === "/resumed");
    assert.equal(event.peer, PILOT);

    // The trust bundle rotates away from the root that signed the session's chain.
    Deno.writeTextFileSync(bundleFile, fx.rsaRoot.certPem);
    peer.signal("SIGHUP");
    await peer.waitFor((e) => e.event === "rotated");
    const after = await sClient("/after-rotation", ["-sess_in", sessionFile]);
    assert.doesNotMatch(after.stdout, /HTTP\/1.1 200/);
    await peer.waitFor((e) =>
      e.event === "refused" &&
      /signed by unknown authority|client presented no certificate/.test(String(e.reason))
    );
    assert.ok(!peer.events.some((e) => e.event === "request" && e.path === "/after-rotation"));
  } finally {
    await peer.stop();
    await fx.pki.cleanup();
  }
});
