/**
 * createMtlsServer over real loopback sockets, with openssl-made SVIDs and raw `node:tls`
 * clients in this process. Raw clients never offer a session, so every connection is a full
 * handshake (the cross-process checks of resumption and refusal live in tests/mtls_test.ts).
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { SpiffeId } from "../spiffe/id.ts";
import { parseX509Svid } from "../spiffe/x509svid.ts";
import { bundleSet, type Fixtures, makeFixtures, sourceOf } from "../spiffe/_test_fixtures.ts";
import type { Issued } from "../spiffe/_test_pki.ts";
import { within } from "../std/async.ts";
import { authorizeOneOf } from "./authorize.ts";
import { createMtlsServer, type MtlsHandler, type MtlsServer, peerIdOf } from "./server.ts";

const PILOT = "spiffe://example.org/spike/pilot/role/superuser";
const WORKLOAD = "spiffe://example.org/workload";
const KEEPER = "spiffe://example.org/spike/keeper";

interface Exchange {
  /** Everything the server sent back (empty when it cut the connection). */
  text: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  serverFingerprint: string | undefined;
}

/** One HTTP/1.1 request on a fresh TLS connection as `cert` (none: no client certificate). */
function exchange(
  fx: Fixtures,
  port: number,
  cert: Issued | undefined,
  body = "{}",
): Promise<Exchange> {
  return new Promise((resolve) => {
    let text = "";
    let serverFingerprint: string | undefined;
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      cert: cert?.chainPem,
      key: cert?.keyPem,
      ca: [fx.root.certPem],
      // The server's SVID has only a URI SAN; the server is not under test here.
      checkServerIdentity: () => undefined,
    }, () => {
      serverFingerprint = socket.getPeerCertificate().fingerprint256;
      socket.write(
        `POST /x HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n` +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
    socket.on("data", (d: Uint8Array) => text += new TextDecoder().decode(d));
    // A refused peer sees a reset or an abrupt close: both mean "no answer".
    socket.on("error", () => {});
    socket.on("close", () => resolve({ text, serverFingerprint }));
  });
}

function fingerprint(cert: Issued): string {
  return new X509Certificate(cert.certPem).fingerprint256;
}

Deno.test("createMtlsServer verifies, authorizes and serves peers over loopback", async (t) => {
  const fx = await makeFixtures();
  const source = sourceOf(fx, fx.good.nexus);
  const refusals: { reason: string; peer?: string }[] = [];
  const errors: Error[] = [];
  const seen: { peer: string; viaPeerIdOf?: string; body: string }[] = [];
  let handler: MtlsHandler = (req, res, peer) => echo(req, res, peer);
  const echo = (req: IncomingMessage, res: ServerResponse, peer: SpiffeId) => {
    let body = "";
    req.on("data", (d: Uint8Array) => body += new TextDecoder().decode(d));
    req.on("end", () => {
      seen.push({ peer: peer.toString(), viaPeerIdOf: peerIdOf(req)?.toString(), body });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`hello ${peer}`);
    });
  };
  const server: MtlsServer = createMtlsServer({
    source,
    authorizer: authorizeOneOf(PILOT, WORKLOAD),
    handler: (req, res, peer) => handler(req, res, peer),
    onRefused: (reason, peer) => refusals.push({ reason, peer }),
    onError: (e) => errors.push(e),
  });
  const { port } = await server.listen(0, "127.0.0.1");
  assert.ok(port > 0);

  /** Asserts a connection as `cert` is cut without an answer and refused for `reason`. */
  const refused = async (cert: Issued | undefined, reason: RegExp, claimed?: string) => {
    const before = seen.length;
    const count = refusals.length;
    const out = await exchange(fx, port, cert, `{"n":"${crypto.randomUUID()}"}`);
    assert.equal(out.text, "", "a refused peer got an answer");
    assert.equal(seen.length, before, "the handler ran for a refused peer");
    const news = refusals.slice(count);
    assert.ok(news.some((r) => reason.test(r.reason)), JSON.stringify(news));
    if (claimed) assert.ok(news.some((r) => r.peer === claimed), JSON.stringify(news));
  };

  try {
    await t.step("an allowed peer reaches the handler with its SPIFFE ID", async () => {
      const out = await exchange(fx, port, fx.good.pilotViaInter, '{"k":1}');
      assert.match(out.text, /^HTTP\/1\.1 200 /);
      assert.ok(out.text.includes(`hello ${PILOT}`), out.text);
      assert.deepEqual(seen.at(-1), { peer: PILOT, viaPeerIdOf: PILOT, body: '{"k":1}' });
      assert.equal(out.serverFingerprint, fingerprint(fx.good.nexus));
    });

    await t.step("a verified peer whose ID is not allowed is cut before any request", async () => {
      await refused(
        fx.good.keeper,
        /unauthorized SPIFFE ID "spiffe:\/\/example.org\/spike\/keeper"/,
        KEEPER,
      );
    });

    await t.step("a peer without a certificate is refused", async () => {
      await refused(undefined, /no certificate/);
    });

    await t.step("chains that do not verify are refused with the reason", async () => {
      await refused(fx.bad.untrusted, /signed by unknown authority/);
      await refused(fx.bad.expired, /has expired/);
      // Verified against other.org's own bundle, then refused by the authorizer.
      await refused(fx.good.otherTd, /unauthorized SPIFFE ID "spiffe:\/\/other.org\/workload"/);
    });

    await t.step("a failing handler gives a 500 and is reported, without its message", async () => {
      handler = () => {
        throw new Error("the handler's secret detail");
      };
      const out = await exchange(fx, port, fx.good.workload);
      assert.match(out.text, /^HTTP\/1\.1 500 /);
      assert.ok(!out.text.includes("secret detail"), out.text);
      assert.match(errors.at(-1)?.message ?? "", /secret detail/);
      handler = () => Promise.reject(new Error("async failure"));
      assert.match((await exchange(fx, port, fx.good.workload)).text, /^HTTP\/1\.1 500 /);
      assert.match(errors.at(-1)?.message ?? "", /async failure/);
      handler = (req, res, peer) => echo(req, res, peer);
    });

    await t.step("rotation: new connections get the new certificate and bundles", async () => {
      source.update(
        parseX509Svid(fx.good.nexusRotated.chainPem, fx.good.nexusRotated.keyPem),
        bundleSet(fx, ["example.org"]),
      );
      const out = await exchange(fx, port, fx.good.workload);
      assert.match(out.text, /^HTTP\/1\.1 200 /);
      assert.equal(out.serverFingerprint, fingerprint(fx.good.nexusRotated));
      // Dropping a bundle applies at once: other.org peers now have no bundle at all.
      await refused(fx.good.otherTd, /no X.509 bundle found for trust domain "other.org"/);
    });

    await t.step("close() lets an in-flight request finish, then refuses connections", async () => {
      let release!: () => void;
      const released = new Promise<void>((r) => release = r);
      let started!: () => void;
      const running = new Promise<void>((r) => started = r);
      handler = (req, res, peer) => {
        started();
        released.then(() => echo(req, res, peer));
      };
      const pending = exchange(fx, port, fx.good.pilotViaInter);
      await within(running, 5000, "the request reaching the handler");
      const closing = server.close();
      release();
      const out = await within(pending, 5000, "the in-flight answer");
      assert.match(out.text, /^HTTP\/1\.1 200 /);
      await within(closing, 6000, "close()");
      const after = await exchange(fx, port, fx.good.pilotViaInter);
      assert.equal(after.text, "");
    });
  } finally {
    await server.close();
    await fx.pki.cleanup();
  }
});

Deno.test("connections over a cap are closed before their handshake; others are served", async () => {
  const fx = await makeFixtures();
  const refusals: string[] = [];
  const server = createMtlsServer({
    source: sourceOf(fx, fx.good.nexus),
    authorizer: authorizeOneOf(PILOT),
    handler: (_req, res) => {
      res.writeHead(200).end("ok");
    },
    maxConnections: 5,
    maxConnectionsPerAddress: 3,
    onRefused: (reason) => refusals.push(reason),
  });
  const { port } = await server.listen(0, "127.0.0.1");
  const held: net.Socket[] = [];
  /** A raw TCP connection from `from`; resolves true if the server closed it at once. */
  const openFrom = (from: string) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
      held.push(socket);
      socket.on("error", () => {});
      socket.on("close", () => resolve(true));
      socket.on("connect", () => setTimeout(() => resolve(false), 300));
    });
  try {
    // One address: three held, the fourth closed at once.
    const fromOne = await Promise.all([1, 2, 3, 4].map(() => openFrom("127.0.0.2")));
    assert.deepEqual(fromOne.filter(Boolean).length, 1, JSON.stringify(fromOne));
    assert.ok(refusals.some((r) => /too many connections from 127\.0\.0\.2 \(3 open\)/.test(r)));
    // Another address is still served, with a real request.
    const out = await exchange(fx, port, fx.good.pilotViaInter);
    assert.match(out.text, /^HTTP\/1\.1 200 /);
    // In all: 3 held + 2 more from a third address fill it; the next is closed.
    assert.deepEqual(await Promise.all([openFrom("127.0.0.3"), openFrom("127.0.0.3")]), [
      false,
      false,
    ]);
    assert.equal(await openFrom("127.0.0.4"), true);
    assert.ok(refusals.some((r) => /too many connections \(5 open\)/.test(r)), refusals.join());
    // Freed places are given again.
    for (const s of held.splice(0)) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.match((await exchange(fx, port, fx.good.pilotViaInter)).text, /^HTTP\/1\.1 200 /);
  } finally {
    for (const s of held) s.destroy();
    await server.close();
  }
});
