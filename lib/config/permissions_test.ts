import assert from "node:assert/strict";
import { requireAccess } from "./permissions.ts";

// Run in a child with narrow permissions: the test runner itself has them all.
Deno.test("requireAccess names the setting and the flag to add", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `
      import { requireAccess } from ${
      JSON.stringify(new URL("./permissions.ts", import.meta.url).href)
    };
      requireAccess("--data-dir", { kind: "read", path: ${JSON.stringify(dir)} });
      try {
        requireAccess("--data-dir", { kind: "write", path: "/etc/spike" });
      } catch (e) { console.log(e.message); }
      try {
        requireAccess("SPIFFE_ENDPOINT_SOCKET", { kind: "unix-socket", path: ${
      JSON.stringify(dir + "/a.sock")
    } });
      } catch (e) { console.log(e.message); }
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const writer = out.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const result = await out.output();
    const text = new TextDecoder().decode(result.stdout);
    assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    const [first, second] = text.trim().split("\n");
    assert.equal(
      first,
      "--data-dir points at /etc/spike, which this program is not allowed to write; " +
        "run it with --allow-write=/etc/spike",
    );
    assert.match(
      second,
      /^SPIFFE_ENDPOINT_SOCKET points at .*a\.sock, which this program is not allowed to connect to; run it with --allow-net=unix:.*a\.sock --allow-read=.*a\.sock --allow-write=.*a\.sock$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.doesNotThrow(() => requireAccess("x", { kind: "read", path: "." }));
});
