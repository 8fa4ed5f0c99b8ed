/**
 * `spike secret ...`, `spike run` and the exit codes, end to end against a real
 * stack; checked by stdout, stderr and exit code as a user or a script sees them.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { permissionFlags } from "../launch/flags.ts";
import { PROGRAMS } from "../lib/config/programs.ts";
import { run, within } from "./support/programs.ts";
import { freePort, Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PATH_ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };

Deno.test("spike secret and spike run", async (t) => {
  const stack = await Stack.start();
  const files = join(stack.dir, "files");
  await Deno.mkdir(files);
  const spike = (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) =>
    stack.spike("pilot", args, { ...options, folders: [files] });
  try {
    await t.step("an empty store lists nothing, on stderr", async () => {
      const r = await spike(["secret", "list"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /No secrets found\./);
      const j = await spike(["secret", "list", "-f", "json"]);
      assert.deepEqual(JSON.parse(j.stdout), []);
    });

    await t.step("put takes values literally, from stdin and from files", async () => {
      await Deno.writeTextFile(join(files, "cert.pem"), "-----BEGIN X-----\nline2\n");
      const r = await spike(
        ["secret", "put", "app/db", "user=admin", "pass=-", "cert=@" + join(files, "cert.pem")],
        { stdin: "s3cr3t value\n" },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "OK\n");
      const all = await spike(["secret", "get", "app/db"]);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(
        all.stdout,
        "cert: -----BEGIN X-----\nline2\n\npass: s3cr3t value\nuser: admin\n",
      );
      const one = await spike(["secret", "get", "app/db", "pass"]);
      assert.equal(one.stdout, "s3cr3t value"); // raw, for $(...)
      const cert = await spike(["secret", "get", "app/db", "cert"]);
      assert.equal(cert.stdout, "-----BEGIN X-----\nline2\n"); // exactly the file
      const json = await spike(["secret", "get", "app/db", "-f", "json"]);
      assert.deepEqual(JSON.parse(json.stdout), {
        cert: "-----BEGIN X-----\nline2\n",
        pass: "s3cr3t value",
        user: "admin",
      });
      const yaml = await spike(["secret", "get", "app/db", "--format", "yaml"]);
      assert.equal(parseYaml(yaml.stdout).user, "admin");
      assert.equal(
        JSON.parse((await spike(["secret", "get", "app/db", "user", "-f", "j"])).stdout),
        "admin",
      );
    });

    await t.step("versions: get -v, delete, undelete, metadata", async () => {
      assert.equal((await spike(["secret", "put", "app/db", "user=v2"])).code, 0);
      assert.equal((await spike(["secret", "get", "app/db", "user", "-v", "1"])).stdout, "admin");
      assert.equal((await spike(["secret", "get", "app/db", "user"])).stdout, "v2");
      const del = await spike(["secret", "delete", "app/db", "-v", "2"]);
      assert.equal(del.code, 0, del.stderr);
      assert.equal((await spike(["secret", "get", "app/db", "user"])).stdout, "admin");
      const meta = await spike(["secret", "metadata", "get", "app/db", "-f", "json"]);
      const m = JSON.parse(meta.stdout);
      assert.equal(m.metadata.currentVersion, 1);
      assert.ok(m.versions["2"].deletedTime);
      const human = await spike(["secret", "metadata", "get", "app/db"]);
      assert.match(human.stdout, /Current Version : 1\n/);
      assert.match(
        human.stdout,
        /Version 2:\n {2}Created: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n {2}Deleted: /,
      );
      assert.equal((await spike(["secret", "undelete", "app/db", "-v", "2"])).code, 0);
      assert.equal((await spike(["secret", "get", "app/db", "user"])).stdout, "v2");
      const listed = await spike(["secret", "list"]);
      assert.equal(listed.stdout, "- app/db\n");
      assert.deepEqual(parseYaml((await spike(["secret", "list", "-f", "yaml"])).stdout), [
        "app/db",
      ]);
    });

    await t.step("export: env is safe to source; json and yaml parse", async () => {
      await spike(["secret", "put", "app/tricky", "db-user=o'brien", "api key=$(echo pwned)"]);
      const env = await spike(["secret", "export", "app/tricky"]);
      assert.equal(env.code, 0, env.stderr);
      const file = join(files, "tricky.env");
      await Deno.writeTextFile(file, env.stdout);
      const sourced = await run("sh", ["-c", `. ${file}; printf '%s|%s' "$DB_USER" "$API_KEY"`]);
      assert.equal(sourced.stdout, "o'brien|$(echo pwned)");
      const json = await spike(["secret", "export", "app/tricky", "--format", "json"]);
      assert.deepEqual(JSON.parse(json.stdout), {
        "api key": "$(echo pwned)",
        "db-user": "o'brien",
      });
      const bad = await spike(["secret", "export", "app/tricky", "--format", "xml"]);
      assert.equal(bad.code, 2);
    });

    await t.step("run: the command sees the values; its exit code comes through", async () => {
      const r = await spike(
        [
          "run",
          "--secret",
          "app/db",
          "--secret",
          "app/tricky",
          "--",
          "sh",
          "-c",
          'printf "%s %s" "$USER" "$DB_USER"; exit 7',
        ],
        { env: PATH_ENV },
      );
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, "v2 o'brien");
      await spike(["secret", "put", "app/clash", "db_user=x"]);
      const clash = await spike(
        ["run", "-s", "app/tricky", "-s", "app/clash", "--", "true"],
        { env: PATH_ENV },
      );
      assert.equal(clash.code, 1);
      assert.match(clash.stderr, /DB_USER \(from app\/tricky:db-user and app\/clash:db_user\)/);
      assert.ok(!clash.stderr.includes("o'brien"));
      const missing = await spike(["run", "-s", "app/db", "--", "no-such-command-here"], {
        env: PATH_ENV,
      });
      assert.equal(missing.code, 127);
      const noSecret = await spike(["run", "-s", "nope/x", "--", "true"], { env: PATH_ENV });
      assert.equal(noSecret.code, 3);
    });

    await t.step("a value from stdin or a file never shows in the process list", async () => {
      const socket = stack.socket("pilot");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...permissionFlags("spike", {
            sockets: [socket],
            hosts: [`127.0.0.1:${stack.nexusPort}`],
          }),
          join(ROOT, PROGRAMS.spike.entry),
          "secret",
          "put",
          "app/ps",
          "token=-",
        ],
        env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`, SPIKE_NEXUS_API_URL: stack.nexusUrl },
        clearEnv: true,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const secret = "ps-must-not-see-" + crypto.randomUUID();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(secret.slice(0, 10)));
      await new Promise((r) => setTimeout(r, 700)); // the CLI is now waiting for the rest
      const ps = await run("ps", ["-eo", "pid,args"]);
      assert.match(ps.stdout, new RegExp(`${child.pid} .*secret put app/ps token=-`));
      assert.ok(!ps.stdout.includes(secret.slice(0, 10)));
      const cmdline = await Deno.readTextFile(`/proc/${child.pid}/cmdline`);
      assert.ok(!cmdline.includes(secret.slice(0, 10)));
      await writer.write(new TextEncoder().encode(secret.slice(10)));
      await writer.close();
      const out = await within(child.output(), 30_000, "spike secret put");
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal((await spike(["secret", "get", "app/ps", "token"])).stdout, secret);
    });

    await t.step("exit codes tell scripts what happened", async () => {
      const missing = await spike(["secret", "get", "nope/x"]);
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /secret nope\/x not found/);
      assert.equal((await spike(["secret", "get", "app/db", "nokey"])).code, 3);
      assert.equal((await spike(["secret", "get", "app/db", "-v", "99"])).code, 3);
      assert.equal((await spike(["secret", "get"])).code, 2);
      assert.equal((await spike(["secret", "get", "bad path"])).code, 2);
      assert.equal((await spike(["secret", "put", "app/x", "novalue"])).code, 2);
      assert.equal((await spike(["secret", "put", "app/x", "bad/key=v"])).code, 2);
      assert.equal((await spike(["secret", "delete", "app/db", "-v", "x"])).code, 2);
      assert.equal((await spike(["secret", "delete", "app/db", "-v", "-1"])).code, 2);
      assert.equal((await spike(["secret", "list", "-f", "xml"])).code, 2);
      assert.equal((await spike(["secret", "list", "--bogus"])).code, 2);
      assert.equal((await spike(["nonsense"])).code, 2);
      const workload = await stack.spike("workload-a", ["secret", "list"]);
      assert.equal(workload.code, 4);
      assert.match(workload.stderr, /you need a 'pilot' SPIFFE ID/);
      await stack.stopNexus("SIGTERM");
      const down = await spike(["secret", "list"]);
      assert.equal(down.code, 6);
      assert.match(
        down.stderr,
        /^spike secret list: cannot reach SPIKE Nexus at https:\/\/127\.0\.0\.1:\d+ /,
      );
      assert.ok(!down.stderr.includes("    at "), "no stack trace");
      const elsewhere = await stack.spike("pilot", ["secret", "list"], {
        env: { SPIKE_NEXUS_API_URL: `https://127.0.0.1:${freePort()}` },
        byHand: true, // run with the stack's flags, as by hand: the start-time check speaks
      });
      assert.equal(elsewhere.code, 2); // outside the granted hosts: the flag to add is named
      assert.match(elsewhere.stderr, /run it with --allow-net=127\.0\.0\.1:\d+/);
      await stack.startNexus();
      const noAgent = await stack.spike("pilot", ["secret", "list"], {
        env: { SPIFFE_ENDPOINT_SOCKET: "unix:///tmp/spike-no-such-agent.sock" },
        byHand: true,
      });
      assert.equal(noAgent.code, 2); // outside the granted sockets: the flag to add is named
      assert.match(noAgent.stderr, /--allow-net=unix:\/tmp\/spike-no-such-agent\.sock/);
    });

    await t.step("--help works on every command and subcommand", async () => {
      for (
        const args of [
          ["--help"],
          ["secret", "--help"],
          ["secret", "put", "--help"],
          ["secret", "get", "--help"],
          ["secret", "metadata", "get", "--help"],
          ["secret", "export", "--help"],
          ["run", "--help"],
          ["operator", "restore", "--help"],
          ["policy", "--help"],
          ["cipher", "--help"],
        ]
      ) {
        const r = await spike(args);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stdout, /Usage: spike/, args.join(" "));
      }
      const version = await spike(["version"]);
      assert.match(version.stdout, /^spike \d+\.\d+\.\d+\n$/);
    });
  } finally {
    await stack.stop();
  }
});
