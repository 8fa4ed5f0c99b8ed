import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { ConfigError } from "../config/env.ts";
import { checkSocketPath, parseEndpointSetting } from "./source.ts";

Deno.test("a malformed Workload API address is a ConfigError naming the setting", () => {
  for (const address of ["/no/scheme.sock", "unix://host/x.sock", "tcp://localhost:8081"]) {
    assert.throws(
      () => parseEndpointSetting("SPIFFE_ENDPOINT_SOCKET", address),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`SPIFFE_ENDPOINT_SOCKET=${JSON.stringify(address)} is invalid: `),
    );
  }
  assert.equal(parseEndpointSetting("X", "unix:///run/agent.sock").scheme, "unix");
});

Deno.test("a socket path that is a folder or a file is refused; a missing one or a socket is not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "x");
    assert.throws(
      () => checkSocketPath("SPIFFE_ENDPOINT_SOCKET", dir),
      /^ConfigError: SPIFFE_ENDPOINT_SOCKET points at .*, which is a folder, not the Workload API's unix socket$/,
    );
    assert.throws(() => checkSocketPath("SPIFFE_ENDPOINT_SOCKET", file), /which is a regular file/);
    checkSocketPath("SPIFFE_ENDPOINT_SOCKET", join(dir, "missing.sock"));
    const socket = join(dir, "agent.sock");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      checkSocketPath("SPIFFE_ENDPOINT_SOCKET", socket);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the source timeout default is the Workload API source's", async () => {
  const { DEFAULT_SOURCE_TIMEOUT_MS } = await import("../spiffe/workloadapi/x509source.ts");
  const { SOURCE_TIMEOUT_DEFAULT_MS } = await import("./source.ts");
  assert.equal(SOURCE_TIMEOUT_DEFAULT_MS, DEFAULT_SOURCE_TIMEOUT_MS);
});
