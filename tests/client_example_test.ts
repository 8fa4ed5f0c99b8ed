/**
 * The README's workload example, run as its own process with a workload
 * identity: it reads a secret once a policy allows it, and not before.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { permissionFlags } from "../launch/flags.ts";
import { nexusAs } from "./support/clients.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("a workload reads a secret with the client library and its own SVID", async () => {
  const stack = await Stack.start();
  const admin = await nexusAs(stack, "pilot");
  try {
    await admin.nexus.putSecret("tenants/demo/db", { user: "demo", pass: "pw" });
    const example = async () => {
      const socket = stack.socket("workload-a");
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...permissionFlags("spike", {
            sockets: [socket],
            hosts: [`127.0.0.1:${stack.nexusPort}`],
          })
            .filter((f) => !f.startsWith("--allow-run") && !f.startsWith("--ignore-env")),
          join(ROOT, "examples/read_secret.ts"),
          "tenants/demo/db",
          "user",
        ],
        env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`, SPIKE_NEXUS_API_URL: stack.nexusUrl },
        clearEnv: true,
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    const before = await example();
    assert.equal(before.code, 4, before.stderr);
    assert.match(before.stderr, /no policy lets this workload read tenants\/demo\/db/);
    await admin.nexus.putPolicy({
      name: "demo-read",
      spiffeidPattern: "^spiffe://spike\\.ist/workload/a$",
      pathPattern: "^tenants/demo/",
      permissions: ["read"],
    });
    const after = await example();
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, "demo\n");
  } finally {
    admin.close();
    await stack.stop();
  }
});
