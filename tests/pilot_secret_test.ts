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
import { freePort, spawnProgram, Stack } from "./support/stack.ts";

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
      const noSecret = await spike(["run", "-s", "app/db", "-s", "nope/x", "--", "true"], {
        env: PATH_ENV,
      });
      assert.equal(noSecret.code, 3);
      assert.match(noSecret.stderr, /secret nope\/x \(given with --secret\) not found/);
    });

    await t.step("list PREFIX: one folder level; --recursive: all below", async () => {
      for (const p of ["tree/a", "tree/sub/b", "tree/sub/deep/c", "treetop/x"]) {
        assert.equal((await spike(["secret", "put", p, "k=v"])).code, 0);
      }
      assert.equal((await spike(["secret", "list", "tree"])).stdout, "- tree/a\n- tree/sub/\n");
      assert.equal(
        (await spike(["secret", "list", "tree/sub/"])).stdout,
        "- tree/sub/b\n- tree/sub/deep/\n",
      );
      const all = await spike(["secret", "list", "tree", "--recursive", "-f", "json"]);
      assert.deepEqual(JSON.parse(all.stdout), ["tree/a", "tree/sub/b", "tree/sub/deep/c"]);
      const none = await spike(["secret", "list", "nothing/here"]);
      assert.equal(none.code, 0);
      assert.match(none.stderr, /No secrets found in nothing\/here\//);
      for (const p of ["tree/a", "tree/sub/b", "tree/sub/deep/c", "treetop/x"]) {
        await spike(["secret", "delete", p]);
      }
    });

    await t.step("paths with an empty segment are refused: one name, one secret", async () => {
      for (const p of ["/app/db", "app//db", "app/db/"]) {
        const r = await spike(["secret", "put", p, "k=v"]);
        assert.equal(r.code, 2, p);
        assert.match(r.stderr, /no leading, trailing or double \//);
      }
    });

    await t.step("export -o FILE writes mode 0600, even over a 0644 file", async () => {
      const out = join(files, "app.env");
      await Deno.writeTextFile(out, "old, longer than what comes next\n".repeat(20));
      await Deno.chmod(out, 0o644);
      const r = await spike(["secret", "export", "app/tricky", "-o", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
      assert.equal(
        await Deno.readTextFile(out),
        "API_KEY='$(echo pwned)'\nDB_USER='o'\\''brien'\n",
      );
      const relative = await spike(
        ["secret", "export", "app/tricky", "-f", "json", "-o", "t.json"],
        {
          env: { INIT_CWD: files },
        },
      );
      assert.equal(relative.code, 0, relative.stderr);
      assert.equal(
        JSON.parse(await Deno.readTextFile(join(files, "t.json")))["db-user"],
        "o'brien",
      );
      // Run with fixed flags, as by hand (the tasks grant the files a command names).
      const outside = await stack.spike("pilot", ["secret", "export", "app/tricky", "-o", out], {
        byHand: true,
      });
      assert.equal(outside.code, 7); // not granted: nothing fetched, nothing written
    });

    await t.step("patch merges keys into a new version; concurrent patches all land", async () => {
      assert.equal((await spike(["secret", "put", "app/patch", "a=1", "b=1"])).code, 0);
      const r = await spike(["secret", "patch", "app/patch", "b=2", "c=-"], { stdin: "3\n" });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "OK\n");
      const got = JSON.parse((await spike(["secret", "get", "app/patch", "-f", "json"])).stdout);
      assert.deepEqual(got, { a: "1", b: "2", c: "3" });
      const meta = JSON.parse(
        (await spike(["secret", "metadata", "get", "app/patch", "-f", "j"])).stdout,
      );
      assert.equal(meta.metadata.currentVersion, 2);
      // Six real spike processes patch one secret at once, each its own key: none is lost.
      const keys = ["k1", "k2", "k3", "k4", "k5", "k6"];
      const results = await Promise.all(
        keys.map((k) => spike(["secret", "patch", "app/patch", `${k}=${k}`])),
      );
      for (const x of results) assert.equal(x.code, 0, x.stderr);
      const merged = JSON.parse((await spike(["secret", "get", "app/patch", "-f", "json"])).stdout);
      for (const k of keys) assert.equal(merged[k], k, `${k} survived the concurrent patches`);
      assert.equal(merged.a, "1");
      const missing = await spike(["secret", "patch", "nope/patch", "a=1"]);
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /secret nope\/patch not found \(patch changes an existing/);
    });

    await t.step("KEY=@FILE reads the caller's folder's file (INIT_CWD)", async () => {
      await Deno.writeTextFile(join(files, "token.txt"), "from the caller's folder");
      const r = await spike(["secret", "put", "app/rel", "token=@token.txt"], {
        env: { INIT_CWD: files },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        (await spike(["secret", "get", "app/rel", "token"])).stdout,
        "from the caller's folder",
      );
      const none = await spike(["secret", "put", "app/rel", "token=@absent.txt"], {
        env: { INIT_CWD: files },
      });
      assert.equal(none.code, 7);
      assert.match(none.stderr, new RegExp(`absent\\.txt \\(${files}/absent\\.txt\\)`));
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
      // Outside the granted hosts: a configuration problem (7, no Usage line), naming the flag.
      assert.equal(elsewhere.code, 7, elsewhere.stderr);
      assert.match(elsewhere.stderr, /run it with --allow-net=127\.0\.0\.1:\d+/);
      assert.doesNotMatch(elsewhere.stderr, /Usage:/);
      await stack.startNexus();
      const noAgent = await stack.spike("pilot", ["secret", "list"], {
        env: { SPIFFE_ENDPOINT_SOCKET: "unix:///tmp/spike-no-such-agent.sock" },
        byHand: true,
      });
      assert.equal(noAgent.code, 7); // outside the granted sockets: the flag to add is named
      assert.match(noAgent.stderr, /--allow-net=unix:\/tmp\/spike-no-such-agent\.sock/);
    });

    await t.step("hints name the command that fixes the user's situation", async () => {
      // As under the spike task with the dev stack down: the default socket is missing.
      const socket = join(stack.dir, "no-dev-agent.sock");
      const dev = spawnProgram("spike", {
        socket,
        hosts: [`127.0.0.1:${stack.nexusPort}`],
        env: {
          SPIFFE_ENDPOINT_SOCKET: "",
          SPIKE_PILOT_DEFAULT_SOCKET: `unix://${socket}`,
          SPIKE_NEXUS_API_URL: stack.nexusUrl,
        },
        args: ["secret", "list"],
      });
      const status = await within(dev.status, 30_000, "spike without the dev agent");
      await dev.stop();
      assert.equal(status.code, 4, dev.stderr());
      assert.match(dev.stderr(), /the dev stack is not running; start it with deno task dev/);
      // Someone else's agent (SPIFFE_ENDPOINT_SOCKET set): the hint is about that agent.
      const spire = spawnProgram("spike", {
        socket,
        hosts: [`127.0.0.1:${stack.nexusPort}`],
        env: { SPIKE_NEXUS_API_URL: stack.nexusUrl },
        args: ["secret", "list"],
      });
      const spireStatus = await within(spire.status, 30_000, "spike without its agent");
      await spire.stop();
      assert.equal(spireStatus.code, 4);
      assert.match(spire.stderr(), /start the agent that serves it \(SPIRE's spire-agent/);
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
      const flag = await spike(["--version"]);
      assert.equal(flag.code, 0);
      assert.equal(flag.stdout, version.stdout);
      const help = await spike(["--help"]);
      for (const name of ["SPIKE_NEXUS_API_URL", "SPIFFE_ENDPOINT_SOCKET", "Exit codes"]) {
        assert.ok(help.stdout.includes(name), `spike --help names ${name}`);
      }
      const unknown = await spike(["secret", "list", "--bogus"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^spike secret list: unknown option --bogus \(.*\)\n/);
      for (const line of unknown.stderr.split("\n")) {
        assert.equal((line.match(/['"]/g) ?? []).length % 2, 0, `balanced quotes: ${line}`);
      }
    });
  } finally {
    await stack.stop();
  }
});
