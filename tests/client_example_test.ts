/**
 * The README's workload example, run with the README's own command (its
 * grants, as written) as its own process with a workload identity: it reads a
 * secret once a policy allows it, and not before.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { permissionFlags } from "../launch/flags.ts";
import { nexusAs } from "./support/clients.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * The README's lines that run `examples/read_secret.ts` (from `S=...` on), as a shell script
 * that takes the example's arguments as `"$@"`, with the dev stack's socket and Nexus address
 * replaced by the test stack's.
 */
async function readmeRunLines(socket: string, nexusPort: number): Promise<string> {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1])
    .find((b) => b.includes("examples/read_secret.ts"));
  assert.ok(block, "the README shows how to run examples/read_secret.ts");
  const script = block.slice(block.indexOf("\nS=") + 1); // the policy it needs is made below
  const devSocket = "$PWD/.spike/agent/sockets/demo-workload.sock";
  const readmeArgs = " tenants/demo/db user\n";
  assert.ok(script.startsWith(`S=${devSocket}\n`), script);
  assert.ok(script.includes("localhost:8553"), script);
  assert.ok(script.endsWith(readmeArgs), script);
  return script.slice(0, -readmeArgs.length).replace(devSocket, socket)
    .replace("localhost:8553", `127.0.0.1:${nexusPort}`) + ' "$@"\n';
}

Deno.test("a workload reads a secret with the client library and its own SVID", async () => {
  const stack = await Stack.start();
  const admin = await nexusAs(stack, "pilot");
  try {
    await admin.nexus.putSecret("tenants/demo/db", { user: "demo", pass: "pw" });
    const example = async (
      args = ["tenants/demo/db", "user"],
      socket = stack.socket("workload-a"),
    ) => {
      const out = await new Deno.Command("sh", {
        args: ["-c", await readmeRunLines(socket, stack.nexusPort), "sh", ...args],
        cwd: ROOT,
        env: {
          PATH: `${dirname(Deno.execPath())}:/usr/bin:/bin`,
          SPIKE_NEXUS_API_URL: stack.nexusUrl,
        },
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

    // It fails as a CLI does: one sentence and an exit code, never a stack trace.
    const cases: [string[], number, RegExp][] = [
      [[], 2, /usage: read_secret\.ts PATH \[KEY\]/],
      [["tenants/demo/none"], 3, /secret tenants\/demo\/none not found/],
      [["tenants/demo/db", "nokey"], 3, /tenants\/demo\/db has no key nokey/],
    ];
    for (const [args, code, message] of cases) {
      const r = await example(args);
      // The agent's own stderr too: if the workload lost its agent, it says why.
      assert.equal(r.code, code, `${args}: ${r.stderr}\nagent: ${stack.agent.stderr()}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
    const started = performance.now();
    const noSocket = await example(undefined, join(stack.dir, "no-agent.sock"));
    assert.equal(noSocket.code, 4, noSocket.stderr);
    assert.match(noSocket.stderr, /no Workload API socket at /);
    assert.ok(performance.now() - started < 10_000, "a missing socket fails at once, not in 30 s");
  } finally {
    admin.close();
    await stack.stop();
  }
});

Deno.test("another project uses the client as a vendored bundle (no import map, no JSR) or by path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-client-user-" });
  const stack = await Stack.start();
  const admin = await nexusAs(stack, "pilot");
  try {
    // The README's command: one file holding the client and its npm code.
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "-o",
        join(dir, "spike-client.js"),
        "lib/client/mod.ts",
      ],
      cwd: ROOT,
    }).output();
    assert.equal(bundle.code, 0, new TextDecoder().decode(bundle.stderr));
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      'import { connectNexus } from "./spike-client.js";\n' +
        "const nexus = await connectNexus();\n" +
        'try { console.log((await nexus.getSecret("vendored/x")).k); } finally { nexus.close(); }\n',
    );
    await admin.nexus.putSecret("vendored/x", { k: "from a vendored client" });
    const socket = stack.socket("pilot");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...permissionFlags("spike", { sockets: [socket], hosts: [`127.0.0.1:${stack.nexusPort}`] })
          .filter((f) => !f.startsWith("--allow-run") && !f.startsWith("--ignore-env")),
        "--allow-read=" + dir,
        "main.ts",
      ],
      cwd: dir,
      env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`, SPIKE_NEXUS_API_URL: stack.nexusUrl },
      clearEnv: true,
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    assert.equal(out.code, 0, text(out.stderr));
    assert.equal(text(out.stdout), "from a vendored client\n");

    // The README's other way: import by path through the project's deno.json, which also
    // takes the checkout's npm entries and its deno.lock (the same pinned versions), and its
    // allowScripts line, so Deno's first run there warns about nothing. --cached-only: Deno
    // resolves everything from its cache, as on a machine without the npm registry (a project
    // without the lock needs the registry's package metadata, which a frozen install never
    // fetches, so it is not in the cache).
    const byPath = join(dir, "by-path");
    await Deno.mkdir(byPath);
    const checkoutConfig = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
    await Deno.writeTextFile(
      join(byPath, "deno.json"),
      JSON.stringify({
        imports: { "spike/client": join(ROOT, "lib/client/mod.ts"), ...checkoutConfig.imports },
        allowScripts: { deny: ["npm:protobufjs"] },
      }),
    );
    await Deno.copyFile(join(ROOT, "deno.lock"), join(byPath, "deno.lock"));
    await Deno.writeTextFile(
      join(byPath, "main.ts"),
      (await Deno.readTextFile(join(dir, "main.ts"))).replace("./spike-client.js", "spike/client"),
    );
    const imported = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--cached-only",
        ...permissionFlags("spike", { sockets: [socket], hosts: [`127.0.0.1:${stack.nexusPort}`] })
          .filter((f) => !f.startsWith("--allow-run") && !f.startsWith("--ignore-env")),
        "main.ts",
      ],
      cwd: byPath,
      env: {
        SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`,
        SPIKE_NEXUS_API_URL: stack.nexusUrl,
        DENO_DIR: Deno.env.get("DENO_DIR") ??
          join(Deno.env.get("HOME") ?? "/root", ".cache/deno"),
      },
      clearEnv: true,
    }).output();
    assert.equal(imported.code, 0, text(imported.stderr));
    assert.equal(text(imported.stdout), "from a vendored client\n");
    assert.doesNotMatch(text(imported.stderr), /Warning|Ignored build scripts/);
  } finally {
    admin.close();
    await stack.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
