/**
 * The Workload API client and X509 source against the dev agent, each in its
 * own process, over real unix sockets; SVIDs checked with openssl.
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { WorkloadApiClient, WorkloadApiError } from "../lib/spiffe/workloadapi/client.ts";
import { createX509Source } from "../lib/spiffe/workloadapi/x509source.ts";
import { workloadApiService } from "../lib/spiffe/workloadapi/proto.ts";
import { fetchX509, startAgent } from "./support/agent.ts";
import { GRPC_ENV, run, within } from "./support/programs.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const NEXUS = "spiffe://spike.ist/spike/nexus";

Deno.test("the agent serves SVIDs that openssl verify accepts, in spire-agent's file layout", async () => {
  const agent = await startAgent({ identities: [`nexus=${NEXUS}`] });
  const out = await Deno.makeTempDir({ prefix: "spike-fetch-" });
  try {
    const socket = agent.socketPath("nexus");
    assert.equal((await Deno.stat(socket)).mode! & 0o777, 0o600);
    const fetched = await fetchX509(socket, ["--write", out], out);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /^Received 1 svid after [\d.]+ms/);
    assert.match(fetched.stdout, /SPIFFE ID:\t\tspiffe:\/\/spike\.ist\/spike\/nexus/);
    assert.match(fetched.stdout, /CA #1 Valid Until:\t\d{4}-\d\d-\d\d /);
    assert.equal((await Deno.stat(join(out, "svid.0.key"))).mode! & 0o777, 0o600);

    const verify = await run("openssl", [
      "verify",
      "-CAfile",
      join(out, "bundle.0.pem"),
      join(out, "svid.0.pem"),
    ]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /svid\.0\.pem: OK/);
    const text = await run("openssl", ["x509", "-noout", "-text", "-in", join(out, "svid.0.pem")]);
    assert.match(text.stdout, /URI:spiffe:\/\/spike\.ist\/spike\/nexus/);
    assert.match(text.stdout, /CA:FALSE/);
    assert.match(text.stdout, /Digital Signature/);
    const key = await run("openssl", ["pkey", "-in", join(out, "svid.0.key"), "-noout"]);
    assert.equal(key.code, 0, key.stderr);
  } finally {
    await agent.stop();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("fetch x509 --output json prints the response with proto field names", async () => {
  const agent = await startAgent({ identities: [`nexus=${NEXUS}`] });
  try {
    const socket = agent.socketPath("nexus");
    const fetched = await run(Deno.execPath(), [
      "run",
      `--allow-read=${socket}`,
      `--allow-write=${socket}`,
      `--allow-net=unix:${socket}`,
      `--allow-env=${GRPC_ENV},SPIFFE_ENDPOINT_SOCKET`,
      join(ROOT, "dev/agent/main.ts"),
      "fetch",
      "x509",
      "--output",
      "json",
    ], { env: { NO_COLOR: "1", SPIFFE_ENDPOINT_SOCKET: agent.address("nexus") } });
    assert.equal(fetched.code, 0, fetched.stderr);
    const doc = JSON.parse(fetched.stdout);
    assert.equal(doc.svids.length, 1);
    assert.equal(doc.svids[0].spiffe_id, NEXUS);
    assert.ok(doc.svids[0].x509_svid.length > 100);
    assert.deepEqual(doc.federated_bundles, {});
  } finally {
    await agent.stop();
  }
});

Deno.test("an X509 source holds the SVID and hears each rotation", async () => {
  const agent = await startAgent({ identities: [`nexus=${NEXUS}`], ttl: "3s" });
  const source = await createX509Source({ address: agent.address("nexus"), timeoutMs: 10_000 });
  try {
    const first = source.getX509Svid();
    assert.equal(first.id.toString(), NEXUS);
    assert.ok(source.getX509BundleForTrustDomain(first.id.trustDomain));
    const rotated = new Promise<void>((resolve) => {
      const off = source.onUpdate(() => {
        off();
        resolve();
      });
    });
    await within(rotated, 10_000, "an SVID rotation"); // renewal at half of 3s
    const second = source.getX509Svid();
    assert.equal(second.id.toString(), NEXUS);
    assert.notDeepEqual(second.certificates[0], first.certificates[0]);
    assert.ok(second.notAfter >= first.notAfter);
  } finally {
    source.close();
    await agent.stop();
  }
  assert.throws(() => source.getX509Svid(), /source is closed/);
});

Deno.test("a call without the security header gets INVALID_ARGUMENT", async () => {
  const agent = await startAgent({ identities: [`nexus=${NEXUS}`] });
  const Client = grpc.makeGenericClientConstructor(workloadApiService, "SpiffeWorkloadAPI");
  const raw = new Client(agent.address("nexus"), grpc.credentials.createInsecure());
  try {
    const status = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = (raw as unknown as {
        FetchX509SVID(req: unknown, md: grpc.Metadata): grpc.ClientReadableStream<unknown>;
      }).FetchX509SVID({}, new grpc.Metadata());
      stream.on(
        "data",
        () => resolve(new Error("got an SVID without the header") as grpc.ServiceError),
      );
      stream.on("error", resolve);
    });
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT, status.message);
    assert.match(status.details, /security header missing from request/);
  } finally {
    raw.close();
    await agent.stop();
  }
});

Deno.test("a socket without an identity gets PERMISSION_DENIED; the source times out naming it", async () => {
  const agent = await startAgent({ identities: [`nexus=${NEXUS}`, "stranger"] });
  const client = new WorkloadApiClient(agent.address("stranger"));
  try {
    await assert.rejects(client.fetchX509Context(5000), (e: unknown) => {
      assert.ok(e instanceof WorkloadApiError);
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.match(e.message, /no identity issued/);
      return true;
    });
    const started = Date.now();
    await assert.rejects(
      createX509Source({ address: agent.address("stranger"), timeoutMs: 1500 }),
      (e: unknown) => {
        const message = (e as Error).message;
        assert.ok(message.includes(agent.socketPath("stranger")), message);
        assert.match(message, /after 1500ms/);
        assert.match(message, /PERMISSION_DENIED/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    client.close();
    await agent.stop();
  }
});

Deno.test("FetchX509Bundles returns the trust domain's bundle; the CA survives a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-agent-" });
  try {
    const bundleOf = async () => {
      const agent = await startAgent({ identities: [`nexus=${NEXUS}`], dir });
      const client = new WorkloadApiClient(agent.address("nexus"));
      try {
        const bundles = await client.fetchX509Bundles(5000);
        const own = bundles.bundles().map((b) => b.trustDomain.name);
        assert.deepEqual(own, ["spike.ist"]);
        return bundles.bundles()[0].authorities[0];
      } finally {
        client.close();
        await agent.stop();
      }
    };
    const before = await bundleOf();
    assert.equal((await Deno.stat(join(dir, "ca.key"))).mode! & 0o777, 0o600);
    const after = await bundleOf();
    assert.deepEqual(after, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stack's agent that dies is started again, and workloads get SVIDs from it", async () => {
  const agent = await startAgent({ identities: [`nexus=${NEXUS}`] });
  const client = new WorkloadApiClient(agent.address("nexus"));
  try {
    const before = await client.fetchX509Svid(5000);
    agent.kill("SIGABRT");
    const after = await within(
      (async () => {
        for (;;) {
          try {
            return await client.fetchX509Svid(2000);
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      })(),
      20_000,
      "an SVID from the restarted agent",
    );
    assert.equal(after.id.toString(), NEXUS);
    assert.notDeepEqual(after.certificates[0], before.certificates[0], "a new SVID");
    assert.match(
      agent.stderr(),
      /\[stack\] the agent died \(exit 134, SIGABRT\); starting it again/,
    );
  } finally {
    client.close();
    await agent.stop();
  }
});

Deno.test("fetch x509 from a socket with no agent fails with one line, not a stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-agent-" });
  try {
    const fetched = await fetchX509(join(dir, "none.sock"), ["--timeout", "2s"]);
    assert.equal(fetched.code, 1, fetched.stderr);
    assert.match(fetched.stderr, /^agent: Workload API at unix:\/\/.*none\.sock: UNAVAILABLE/);
    assert.doesNotMatch(fetched.stderr, /TypeError|\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
