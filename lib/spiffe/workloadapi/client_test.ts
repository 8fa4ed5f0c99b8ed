/**
 * The Workload API client against an in-process grpc-js server on a unix socket, serving
 * openssl-made SVIDs: one-shot fetches, the security header, status codes, and watches that
 * follow rotation, skip unusable messages, reconnect, and stop on INVALID_ARGUMENT or abort.
 */

import { CANCEL_SETTLE_MS } from "./settle.ts";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { pemToDer } from "../pem.ts";
import { makeFixtures } from "../_test_fixtures.ts";
import type { Issued } from "../_test_pki.ts";
import { within } from "../../std/async.ts";
import { concat } from "../../std/bytes.ts";
import { WorkloadApiClient, WorkloadApiError, type X509Context } from "./client.ts";
import {
  SECURITY_HEADER,
  workloadApiService,
  type X509BundlesResponseMessage,
  type X509SvidResponseMessage,
} from "./proto.ts";

type Stream<T> = grpc.ServerWritableStream<unknown, T>;

function svidMessage(cert: Issued, root: Issued, id: string, hint = ""): X509SvidResponseMessage {
  return {
    svids: [{
      spiffe_id: id,
      x509_svid: concat(...pemToDer(cert.chainPem)),
      x509_svid_key: pemToDer(cert.keyPem)[0],
      bundle: concat(...pemToDer(root.certPem)),
      hint,
    }],
    crl: [],
    federated_bundles: {},
  };
}

/** A grpc-js Workload API server; `onSvid`/`onBundles` decide what each call gets. */
async function serve(path: string) {
  const server = new grpc.Server();
  const headers: (string | undefined)[] = [];
  const handlers = {
    onSvid: (_call: Stream<X509SvidResponseMessage>) => {},
    onBundles: (_call: Stream<X509BundlesResponseMessage>) => {},
  };
  server.addService(workloadApiService, {
    FetchX509SVID: (call: Stream<X509SvidResponseMessage>) => {
      headers.push(call.metadata.get(SECURITY_HEADER)[0]?.toString());
      handlers.onSvid(call);
    },
    FetchX509Bundles: (call: Stream<X509BundlesResponseMessage>) => {
      headers.push(call.metadata.get(SECURITY_HEADER)[0]?.toString());
      handlers.onBundles(call);
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(
      `unix://${path}`,
      grpc.ServerCredentials.createInsecure(),
      (e) => e ? reject(e) : resolve(),
    )
  );
  return { server, headers, handlers };
}

function fail(call: Stream<unknown>, code: grpc.status, details: string): void {
  call.emit("error", { code, details });
}

Deno.test("WorkloadApiClient over a unix socket", async (t) => {
  const fx = await makeFixtures();
  const dir = await Deno.makeTempDir({ prefix: "spike-wlapi-" });
  const { server, headers, handlers } = await serve(`${dir}/agent.sock`);
  const client = new WorkloadApiClient(`unix://${dir}/agent.sock`);
  const NEXUS = "spiffe://example.org/spike/nexus";
  const first = svidMessage(fx.good.nexus, fx.root, NEXUS);
  const rotated = svidMessage(fx.good.nexusRotated, fx.root, NEXUS);

  try {
    await t.step("fetchX509Context: SVIDs, own and federated bundles, the header", async () => {
      handlers.onSvid = (call) => {
        call.write({
          ...first,
          federated_bundles: { "spiffe://other.org": concat(...pemToDer(fx.otherRoot.certPem)) },
        });
      };
      const context = await client.fetchX509Context(5000);
      assert.equal(context.svids.length, 1);
      assert.equal(context.svids[0].id.toString(), NEXUS);
      assert.equal(context.svids[0].certificates.length, 1);
      assert.deepEqual(context.bundles.bundles().map((b) => b.trustDomain.name).sort(), [
        "example.org",
        "other.org",
      ]);
      assert.equal(headers.at(-1), "true");
      assert.equal((await client.fetchX509Svid(5000)).id.toString(), NEXUS);
    });

    await t.step("fetchX509Bundles reads the bundles method", async () => {
      handlers.onBundles = (call) =>
        call.write({ crl: [], bundles: { "spiffe://example.org": pemToDer(fx.root.certPem)[0] } });
      const bundles = await client.fetchX509Bundles(5000);
      assert.deepEqual(bundles.bundles().map((b) => b.trustDomain.name), ["example.org"]);
    });

    await t.step("a refusal comes back as a WorkloadApiError with the gRPC code", async () => {
      handlers.onSvid = (call) => fail(call, grpc.status.PERMISSION_DENIED, "no identity issued");
      await assert.rejects(client.fetchX509Context(5000), (e: unknown) => {
        assert.ok(e instanceof WorkloadApiError);
        assert.equal(e.code, grpc.status.PERMISSION_DENIED);
        assert.match(e.message, /agent\.sock: PERMISSION_DENIED: no identity issued/);
        return true;
      });
    });

    await t.step("an unusable message is refused, not trusted", async () => {
      handlers.onSvid = (call) => call.write({ svids: [], crl: [], federated_bundles: {} });
      await assert.rejects(client.fetchX509Context(5000), /holds no SVID/);
    });

    await t.step("a silent server times out", async () => {
      handlers.onSvid = () => {};
      await assert.rejects(client.fetchX509Context(200), (e: unknown) => {
        assert.ok(e instanceof WorkloadApiError);
        assert.equal(e.code, grpc.status.DEADLINE_EXCEEDED);
        return true;
      });
    });

    await t.step("a watch follows rotation, skips bad messages, reconnects", async () => {
      let calls = 0;
      handlers.onSvid = (call) => {
        calls++;
        if (calls === 1) {
          call.write(first);
          call.write({ svids: [], crl: [], federated_bundles: {} }); // unusable: reported
          call.write(rotated);
          call.end(); // the stream ends: reported, then reconnect
        } else {
          call.write(first);
        }
      };
      const updates: X509Context[] = [];
      const errors: WorkloadApiError[] = [];
      const abort = new AbortController();
      let third!: () => void;
      const gotThird = new Promise<void>((r) => third = r);
      const watch = client.watchX509Context(
        {
          onUpdate: (c) => {
            updates.push(c);
            if (updates.length === 3) third();
          },
          onError: (e) => errors.push(e),
        },
        abort.signal,
        { next: () => 10, reset: () => {} },
      );
      await within(gotThird, 5000, "three updates");
      abort.abort();
      await within(watch, 5000, "the watch to stop on abort");
      assert.equal(updates.length, 3);
      assert.equal(calls, 2);
      assert.ok(errors.some((e) => /unusable Workload API message/.test(e.message)));
      assert.ok(errors.some((e) => /ended the stream/.test(e.message)));
      // The second update is the rotated SVID: a different certificate.
      assert.notDeepEqual(updates[0].svids[0].certificates[0], updates[1].svids[0].certificates[0]);
    });

    await t.step(
      "a server that cancels the stream (an agent restarting) is watched again",
      async () => {
        let calls = 0;
        handlers.onSvid = (call) => {
          calls++;
          if (calls === 1) fail(call, grpc.status.CANCELLED, "agent shutting down");
          else call.write(first);
        };
        const errors: WorkloadApiError[] = [];
        const abort = new AbortController();
        let updated!: () => void;
        const gotUpdate = new Promise<void>((r) => updated = r);
        const watch = client.watchX509Context(
          { onUpdate: () => updated(), onError: (e) => errors.push(e) },
          abort.signal,
          { next: () => 10, reset: () => {} },
        );
        await within(gotUpdate, 5000, "an update after the server's cancel");
        abort.abort();
        await within(watch, 5000, "the watch to stop on abort");
        assert.equal(calls, 2);
        assert.equal(errors[0]?.code, grpc.status.CANCELLED);
      },
    );

    await t.step("INVALID_ARGUMENT ends a watch with that error", async () => {
      handlers.onSvid = (call) =>
        fail(call, grpc.status.INVALID_ARGUMENT, "security header missing from request");
      const abort = new AbortController();
      await assert.rejects(
        within(
          client.watchX509Context({ onUpdate: () => {} }, abort.signal, {
            next: () => 10,
            reset: () => {},
          }),
          5000,
          "the watch to end",
        ),
        (e: unknown) => e instanceof WorkloadApiError && e.code === grpc.status.INVALID_ARGUMENT,
      );
    });
  } finally {
    client.close();
    // The close goes out CANCEL_SETTLE_MS after the last cancel; shutting the server (and then
    // the test process) down under it crashed Deno's HTTP/2 (SIGSEGV, seen in CI).
    await new Promise((r) => setTimeout(r, CANCEL_SETTLE_MS + 50));
    server.forceShutdown();
    await Deno.remove(dir, { recursive: true });
    await fx.pki.cleanup();
  }
});
