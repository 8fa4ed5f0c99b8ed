/**
 * `spike policy …` and `spike cipher …` end to end: the real `spike` program
 * (with its permission flags) against a real stack. Every command, its
 * stdout, stderr and exit code; JSON and YAML parsed; files read and written
 * in a granted folder; and cipher pipes through real process pipes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ApiResponseError } from "../lib/client/errors.ts";
import { permissionFlags } from "../launch/flags.ts";
import { PROGRAMS } from "../lib/config/programs.ts";
import { nexusAs } from "./support/clients.ts";
import { run, within } from "./support/programs.ts";
import { Stack } from "./support/stack.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAX_PLAINTEXT = 65536 - 16;

/** Starts `spike args` as the superuser with piped stdio (stdin left open for the caller). */
function spawnSpike(stack: Stack, args: string[], folders: string[] = []): Deno.ChildProcess {
  const socket = stack.socket("pilot");
  const flags = permissionFlags("spike", {
    sockets: [socket],
    hosts: [`127.0.0.1:${stack.nexusPort}`],
    folders,
  });
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, join(ROOT, PROGRAMS.spike.entry), ...args],
    env: {
      NO_COLOR: "1",
      SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`,
      SPIKE_NEXUS_API_URL: stack.nexusUrl,
    },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `spike args` with binary stdin; returns its raw stdout. */
async function spikeBytes(
  stack: Stack,
  args: string[],
  stdin: Uint8Array = new Uint8Array(0),
  folders: string[] = [],
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const child = spawnSpike(stack, args, folders);
  const writing = (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(stdin);
      await writer.close();
    } catch {
      // the program may exit without reading its input
    }
  })();
  const out = await within(child.output(), 60_000, `spike ${args.join(" ")}`);
  await writing;
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** `input | spike a | spike b`, with a real pipe between the two programs. */
async function spikePipe(
  stack: Stack,
  first: string[],
  second: string[],
  input: Uint8Array,
): Promise<{ codes: number[]; stdout: Uint8Array; stderr: string }> {
  const a = spawnSpike(stack, first);
  const b = spawnSpike(stack, second);
  const writer = a.stdin.getWriter();
  const feeding = writer.write(input).then(() => writer.close());
  const piping = a.stdout.pipeTo(b.stdin);
  const aErr = new Response(a.stderr).text();
  const [aStatus, bOut] = await within(
    Promise.all([a.status, b.output()]),
    60_000,
    "spike pipe",
  );
  await feeding;
  await piping;
  return {
    codes: [aStatus.code, bOut.code],
    stdout: bOut.stdout,
    stderr: (await aErr) + new TextDecoder().decode(bOut.stderr),
  };
}

function assertExit(
  result: { code: number; stderr: string },
  code: number,
  what: string,
): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}, stderr:\n${result.stderr}`);
}

const A_ID = "^spiffe://spike\\.ist/workload/a$";
const B_ID = "^spiffe://spike\\.ist/workload/b$";

Deno.test("spike policy and spike cipher", async (t) => {
  const stack = await Stack.start();
  const files = join(stack.dir, "files");
  await Deno.mkdir(files);
  const spike = (
    args: string[],
    options: { stdin?: string; folders?: string[]; byHand?: boolean } = {},
  ) => stack.spike("pilot", args, options);
  try {
    // ---------------------------------------------------------------- policy

    await t.step("policy list with no policies", async () => {
      const human = await spike(["policy", "list"]);
      assertExit(human, 0, "list");
      assert.equal(human.stdout, "");
      assert.match(human.stderr, /^No policies found\.$/m);
      const json = await spike(["policy", "list", "-f", "json"]);
      assertExit(json, 0, "list json");
      assert.deepEqual(JSON.parse(json.stdout), []);
      const yaml = await spike(["policy", "list", "--format", "y"]);
      assertExit(yaml, 0, "list yaml");
      assert.deepEqual(parseYaml(yaml.stdout), []);
    });

    await t.step("policy create, and create when the name exists", async () => {
      const args = [
        "policy",
        "create",
        "--name",
        "a-reads-app",
        "--spiffeid-pattern",
        A_ID,
        "--path-pattern",
        "^app/",
        "--permissions",
        "read, list",
      ];
      const created = await spike(args);
      assertExit(created, 0, "create");
      assert.equal(created.stdout, "Policy created successfully.\n");
      const again = await spike(args);
      assertExit(again, 1, "create again");
      assert.equal(again.stdout, "");
      assert.match(again.stderr, /Policy 'a-reads-app' already exists\./);
    });

    await t.step("policy create refuses missing flags and bad values (exit 2)", async () => {
      const missing = await spike(["policy", "create", "--name", "x", "--permissions", "read"]);
      assertExit(missing, 2, "missing flags");
      assert.match(missing.stderr, /all flags are required/);
      assert.match(missing.stderr, /--path-pattern is missing/);
      assert.match(missing.stderr, /--spiffeid-pattern is missing/);
      assert.doesNotMatch(missing.stderr, /--name is missing|--permissions is missing/);

      const base = ["policy", "create", "--name", "x", "--spiffeid-pattern", A_ID];
      const perm = await spike([...base, "--path-pattern", "^app/", "--permissions", "read,fly"]);
      assertExit(perm, 2, "bad permission");
      assert.match(
        perm.stderr,
        /invalid permission: 'fly'\. valid permissions: 'read, write, list, execute, super'/,
      );
      const regex = await spike([...base, "--path-pattern", "^app/(", "--permissions", "read"]);
      assertExit(regex, 2, "bad regex");
      // The message names the flag the user typed, not the API's field.
      assert.match(regex.stderr, /--path-pattern is not a valid RE2 regular expression/);
      const reserved = await spike([...base, "--path-pattern", "system", "--permissions", "read"]);
      assertExit(reserved, 2, "reserved path by substring");
      assert.match(reserved.stderr, /reserved system path/);
      const name = await spike([
        "policy",
        "create",
        "--name",
        "bad/name",
        "--spiffeid-pattern",
        A_ID,
        "--path-pattern",
        "^app/",
        "--permissions",
        "read",
      ]);
      assertExit(name, 2, "bad name");
      assert.match(name.stderr, /invalid policy name/);
      const list = await spike(["policy", "list", "-f", "json"]);
      assert.deepEqual(JSON.parse(list.stdout), [{ id: "", name: "a-reads-app" }]);
    });

    let createdAt = "";
    await t.step("policy get: human, JSON, YAML, by argument and by --name", async () => {
      const json = await spike(["policy", "get", "a-reads-app", "-f", "json"]);
      assertExit(json, 0, "get json");
      const policy = JSON.parse(json.stdout);
      assert.deepEqual(Object.keys(policy), [
        "id",
        "name",
        "spiffiedPattern",
        "pathPattern",
        "permissions",
        "createdAt",
        "updatedAt",
      ]);
      assert.equal(policy.id, "");
      assert.equal(policy.name, "a-reads-app");
      assert.equal(policy.spiffiedPattern, A_ID);
      assert.equal(policy.pathPattern, "^app/");
      assert.deepEqual(policy.permissions, ["read", "list"]);
      assert.ok(!Number.isNaN(Date.parse(policy.createdAt)), policy.createdAt);
      assert.match(json.stdout, /^\{\n {2}"id": ""/); // 2-space indent
      createdAt = policy.createdAt;

      const yaml = await spike(["policy", "get", "--name", "a-reads-app", "-f", "yaml"]);
      assertExit(yaml, 0, "get yaml");
      assert.deepEqual(parseYaml(yaml.stdout), policy);

      const human = await spike(["policy", "get", "a-reads-app"]);
      assertExit(human, 0, "get human");
      const lines = human.stdout.split("\n");
      assert.deepEqual(lines.slice(0, 7), [
        "POLICY DETAILS",
        "==============", // underlined to its length
        "",
        "Name: a-reads-app",
        `SPIFFE ID Pattern: ${A_ID}`,
        "Path Pattern: ^app/",
        "Permissions: read, list",
      ]);
      assert.match(lines[7], /^Created At: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
      assert.match(lines[8], /^Updated At: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
      const same = await spike(["policy", "get", "--name", "a-reads-app"]);
      assert.equal(same.stdout, human.stdout);
    });

    await t.step("policy get: missing policy exits 3, missing name exits 2", async () => {
      const missing = await spike(["policy", "get", "nope"]);
      assertExit(missing, 3, "get missing");
      assert.equal(missing.stdout, "");
      assert.match(missing.stderr, /policy 'nope' not found/);
      const noName = await spike(["policy", "get"]);
      assertExit(noName, 2, "get without a name");
      assert.match(noName.stderr, /the policy name is missing/);
      const two = await spike(["policy", "get", "a", "--name", "b"]);
      assertExit(two, 2, "two names");
    });

    await t.step("policy apply from a YAML file, a JSON file and flags", async () => {
      const yamlFile = join(files, "b-app.yaml");
      await Deno.writeTextFile(
        yamlFile,
        "# a policy\n" +
          "name: b-writes-app\n" +
          `spiffeidPattern: '${B_ID}'\n` +
          "pathPattern: ^app/\n" +
          "permissions:\n  - read\n  - write\n",
      );
      const fromYaml = await spike(["policy", "apply", "--file", yamlFile], { folders: [files] });
      assertExit(fromYaml, 0, "apply yaml");
      assert.equal(fromYaml.stdout, "Policy 'b-writes-app' applied successfully\n");

      const jsonFile = join(files, "b-lists.json");
      await Deno.writeTextFile(
        jsonFile,
        JSON.stringify({
          name: "b-lists",
          spiffeidPattern: B_ID,
          pathPattern: "^spike/system/secret$",
          permissions: "list",
        }),
      );
      const fromJson = await spike(["policy", "apply", "--file", jsonFile], { folders: [files] });
      assertExit(fromJson, 0, "apply json");
      assert.equal(fromJson.stdout, "Policy 'b-lists' applied successfully\n");

      const got = JSON.parse((await spike(["policy", "get", "b-writes-app", "-f", "j"])).stdout);
      assert.equal(got.spiffiedPattern, B_ID);
      assert.deepEqual(got.permissions, ["read", "write"]);
      const lists = JSON.parse((await spike(["policy", "get", "b-lists", "-f", "j"])).stdout);
      assert.equal(lists.pathPattern, "^spike/system/secret$");
      assert.deepEqual(lists.permissions, ["list"]);

      // apply replaces: new permissions, same creation time.
      const flags = await spike([
        "policy",
        "apply",
        "--name",
        "a-reads-app",
        "--spiffeid-pattern",
        A_ID,
        "--path-pattern",
        "^app/",
        "--permissions",
        "read",
      ]);
      assertExit(flags, 0, "apply flags");
      assert.equal(flags.stdout, "Policy 'a-reads-app' applied successfully\n");
      const replaced = JSON.parse(
        (await spike(["policy", "get", "a-reads-app", "-f", "j"])).stdout,
      );
      assert.deepEqual(replaced.permissions, ["read"]);
      assert.equal(replaced.createdAt, createdAt);
    });

    await t.step(
      "what policy get -f yaml|json prints, policy apply --file takes back",
      async () => {
        for (const format of ["yaml", "json"]) {
          const got = await spike(["policy", "get", "a-reads-app", "-f", format]);
          assertExit(got, 0, `get -f ${format}`);
          assert.match(got.stdout, /spiffiedPattern/); // upstream's spelling
          const file = join(files, `round-trip.${format}`);
          await Deno.writeTextFile(file, got.stdout);
          const applied = await spike(["policy", "apply", "--file", file], { folders: [files] });
          assertExit(applied, 0, `apply what get -f ${format} printed`);
          const again = await spike(["policy", "get", "a-reads-app", "-f", format]);
          assert.equal(
            again.stdout.replace(/updatedAt.*/, ""),
            got.stdout.replace(/updatedAt.*/, ""),
          );
        }
        const typo = join(files, "typo.yaml");
        await Deno.writeTextFile(
          typo,
          `name: t\nspiffeIdPatern: '${A_ID}'\npathPattern: ^x/\npermissions: [read]\n`,
        );
        const bad = await spike(["policy", "apply", "--file", typo], { folders: [files] });
        assertExit(bad, 2, "misspelt key");
        // The error names the key it expected and the one it found.
        assert.match(bad.stderr, /spiffeidPattern is required in .*; found spiffeIdPatern/);
        const regex = join(files, "regex.yaml");
        await Deno.writeTextFile(
          regex,
          `name: r\nspiffeidPattern: '${A_ID}'\npathPattern: ^x/(\npermissions: [read]\n`,
        );
        const re = await spike(["policy", "apply", "--file", regex], { folders: [files] });
        assertExit(re, 2, "bad regex in a file");
        assert.match(re.stderr, new RegExp(`pathPattern in ${regex} is not a valid RE2`));
      },
    );

    await t.step("relative files are the caller's folder's (INIT_CWD), never another", async () => {
      // As under `deno task`: the process runs in another folder (here the test's), and
      // INIT_CWD names the folder the user typed the command in.
      const here = join(files, "here");
      await Deno.mkdir(here);
      await Deno.writeTextFile(
        join(here, "p.yaml"),
        `name: relative\nspiffeidPattern: '${A_ID}'\npathPattern: ^rel/\npermissions: [read]\n`,
      );
      const env = { INIT_CWD: here };
      const applied = await stack.spike("pilot", ["policy", "apply", "--file", "p.yaml"], {
        env,
        folders: [files],
      });
      assertExit(applied, 0, "apply a relative file");
      assert.equal(
        JSON.parse((await spike(["policy", "get", "relative", "-f", "j"])).stdout)
          .pathPattern,
        "^rel/",
      );
      await Deno.writeTextFile(join(here, "plain.txt"), "relative plaintext");
      const enc = await stack.spike(
        "pilot",
        ["cipher", "encrypt", "--file", "plain.txt", "-o", "sealed.bin"],
        { env, folders: [files] },
      );
      assertExit(enc, 0, "encrypt relative files");
      assert.equal((await Deno.stat(join(here, "sealed.bin"))).mode! & 0o777, 0o600);
      const dec = await stack.spike("pilot", ["cipher", "decrypt", "-f", "sealed.bin"], {
        env,
        folders: [files],
      });
      assertExit(dec, 0, "decrypt with upstream's -f FILE");
      assert.equal(dec.stdout, "relative plaintext");
      const missing = await stack.spike("pilot", ["policy", "apply", "--file", "nope.yaml"], {
        env,
        folders: [files],
      });
      assertExit(missing, 7, "a relative file that is not there");
      assert.match(
        missing.stderr,
        new RegExp(`nope\\.yaml \\(${here}/nope\\.yaml\\) does not exist`),
      );

      // Without INIT_CWD granted, spike cannot know the folder: it refuses, naming the fix.
      const socket = stack.socket("pilot");
      const flags = permissionFlags("spike", {
        sockets: [socket],
        hosts: [`127.0.0.1:${stack.nexusPort}`],
        folders: [files],
      }).map((f) => f.startsWith("--allow-env=") ? f.replace(",INIT_CWD", "") : f);
      const blind = await run(Deno.execPath(), [
        "run",
        ...flags,
        join(ROOT, PROGRAMS.spike.entry),
        "policy",
        "apply",
        "--file",
        "p.yaml",
      ], {
        env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`, SPIKE_NEXUS_API_URL: stack.nexusUrl },
        cwd: here,
      });
      assertExit(blind, 7, "relative file, folder unknown");
      assert.match(blind.stderr, /give an absolute path, or run spike with --allow-env=INIT_CWD/);
      assertExit(await spike(["policy", "delete", "relative", "--yes"]), 0, "clean up");
    });

    await t.step("policy apply refuses bad files and flags", async () => {
      const missing = join(files, "missing.yaml");
      const none = await spike(["policy", "apply", "--file", missing], { folders: [files] });
      assertExit(none, 7, "missing file"); // the machine, not the typing: no Usage line
      assert.match(none.stderr, new RegExp(`file ${missing} does not exist`));
      assert.doesNotMatch(none.stderr, /Usage:/);

      const noName = join(files, "no-name.yaml");
      await Deno.writeTextFile(
        noName,
        `spiffeidPattern: '${A_ID}'\npathPattern: ^x/\npermissions: [read]\n`,
      );
      const nameless = await spike(["policy", "apply", "--file", noName], { folders: [files] });
      assertExit(nameless, 2, "no name");
      assert.match(nameless.stderr, new RegExp(`policy name is required in ${noName}`));

      const noPerms = join(files, "no-perms.yaml");
      await Deno.writeTextFile(noPerms, `name: p\nspiffeidPattern: '${A_ID}'\npathPattern: ^x/\n`);
      const permless = await spike(["policy", "apply", "--file", noPerms], { folders: [files] });
      assertExit(permless, 2, "no permissions");
      assert.match(permless.stderr, /permissions are required in/);

      const badPerm = join(files, "bad-perm.yaml");
      await Deno.writeTextFile(
        badPerm,
        `name: p\nspiffeidPattern: '${A_ID}'\npathPattern: ^x/\npermissions: [read, admin]\n`,
      );
      const admin = await spike(["policy", "apply", "--file", badPerm], { folders: [files] });
      assertExit(admin, 2, "bad permission in a file");
      assert.match(admin.stderr, /invalid permission: 'admin'/);

      const broken = join(files, "broken.yaml");
      await Deno.writeTextFile(broken, "name: [unclosed\n");
      const unparsable = await spike(["policy", "apply", "--file", broken], { folders: [files] });
      assertExit(unparsable, 2, "broken YAML");
      assert.match(unparsable.stderr, /is not valid YAML or JSON/);

      // Run with fixed flags, as by hand (the tasks grant the files a command names).
      const outside = await spike(["policy", "apply", "--file", noName], { byHand: true });
      assertExit(outside, 7, "file outside the permissions");
      assert.match(outside.stderr, /not allowed to read/);

      const both = await spike(["policy", "apply", "--file", noName, "--name", "x"], {
        folders: [files],
      });
      assertExit(both, 2, "--file and flags");
      const neither = await spike(["policy", "apply", "--name", "x"]);
      assertExit(neither, 2, "no file, missing flags");
      assert.match(neither.stderr, /--permissions is missing/);
    });

    await t.step("policy list: human, JSON, YAML and filters", async () => {
      const names = ["a-reads-app", "b-lists", "b-writes-app"];
      const human = await spike(["policy", "list"]);
      assertExit(human, 0, "list");
      assert.equal(
        human.stdout,
        "POLICIES\n========\n\n" + names.map((n) => `Name: ${n}\n--------\n\n`).join(""),
      );
      const json = await spike(["policy", "list", "-f", "json"]);
      assert.deepEqual(JSON.parse(json.stdout), names.map((name) => ({ id: "", name })));
      assert.match(json.stdout, /^\[\n {2}\{\n {4}"id": ""/);
      const yaml = await spike(["policy", "list", "-f", "yaml"]);
      assert.deepEqual(parseYaml(yaml.stdout), names.map((name) => ({ id: "", name })));

      const byId = await spike(["policy", "list", "--spiffeid-pattern", B_ID, "-f", "json"]);
      assertExit(byId, 0, "list by SPIFFE ID pattern");
      assert.deepEqual(JSON.parse(byId.stdout).map((p: { name: string }) => p.name), [
        "b-lists",
        "b-writes-app",
      ]);
      const byPath = await spike(["policy", "list", "--path-pattern", "^app/", "-f", "json"]);
      assert.deepEqual(JSON.parse(byPath.stdout).map((p: { name: string }) => p.name), [
        "a-reads-app",
        "b-writes-app",
      ]);
      // Exact text, not a regex evaluation.
      const inexact = await spike(["policy", "list", "--path-pattern", "app/"]);
      assertExit(inexact, 0, "no match");
      assert.equal(inexact.stdout, "");
      assert.match(inexact.stderr, /No policies found\./);
      const both = await spike([
        "policy",
        "list",
        "--path-pattern",
        "^app/",
        "--spiffeid-pattern",
        B_ID,
      ]);
      assertExit(both, 2, "both filters");
      assert.match(both.stderr, /cannot be used together/);
    });

    await t.step("a workload reads a secret once policy apply grants it", async () => {
      const workload = await nexusAs(stack, "workload-a");
      try {
        const put = await spike(["secret", "put", "app/db", "user=admin"]);
        assertExit(put, 0, "secret put");
        // a-reads-app grants workload-a read on ^app/ (applied above).
        assert.deepEqual(await workload.nexus.getSecret("app/db"), { user: "admin" });
        await assert.rejects(workload.nexus.getSecret("other/db"), (e: unknown) => {
          assert.ok(e instanceof ApiResponseError);
          assert.equal(e.status, 401);
          return true;
        });
        const file = join(files, "a-other.yaml");
        await Deno.writeTextFile(
          file,
          `name: a-reads-other\nspiffeidPattern: '${A_ID}'\npathPattern: ^other/\n` +
            "permissions: read\n",
        );
        const put2 = await spike(["secret", "put", "other/db", "pass=x"]);
        assertExit(put2, 0, "secret put");
        assertExit(
          await spike(["policy", "apply", "--file", file], { folders: [files] }),
          0,
          "apply",
        );
        assert.deepEqual(await workload.nexus.getSecret("other/db"), { pass: "x" });
        assertExit(await spike(["policy", "delete", "a-reads-other", "--yes"]), 0, "delete");
        await assert.rejects(workload.nexus.getSecret("other/db"), ApiResponseError);
      } finally {
        workload.close();
      }
    });

    await t.step("policy delete asks first; n cancels, y deletes", async () => {
      const no = await spike(["policy", "delete", "b-lists"], { stdin: "n\n" });
      assertExit(no, 1, "answered n");
      assert.match(no.stderr, /Are you sure you want to delete policy 'b-lists'\? \(y\/N\): /);
      assert.match(no.stderr, /Operation canceled\./);
      assert.equal(no.stdout, "");
      assertExit(await spike(["policy", "get", "b-lists"]), 0, "still there");

      const empty = await spike(["policy", "delete", "b-lists"]); // stdin is /dev/null
      assertExit(empty, 1, "no answer");
      assert.match(empty.stderr, /Operation canceled\./);

      const yes = await spike(["policy", "delete", "--name", "b-lists"], { stdin: "y\n" });
      assertExit(yes, 0, "answered y");
      assert.equal(yes.stdout, "Policy deleted successfully.\n");
      assertExit(await spike(["policy", "get", "b-lists"]), 3, "gone");

      const forced = await spike(["policy", "delete", "-y", "b-writes-app"]);
      assertExit(forced, 0, "--yes");
      assert.equal(forced.stdout, "Policy deleted successfully.\n");
      assert.doesNotMatch(forced.stderr, /Are you sure/);
    });

    await t.step("policy delete of a missing policy exits 3, before asking", async () => {
      const asked = await spike(["policy", "delete", "nope"], { stdin: "y\n" });
      assertExit(asked, 3, "delete missing");
      assert.match(asked.stderr, /policy 'nope' not found/);
      assert.doesNotMatch(asked.stderr, /Are you sure/);
      const forced = await spike(["policy", "delete", "nope", "--yes"]);
      assertExit(forced, 3, "delete missing --yes");
      assert.match(forced.stderr, /policy 'nope' not found/);
    });

    // ---------------------------------------------------------------- cipher

    const allBytes = new Uint8Array(1024).map((_, i) => i % 256);

    await t.step("cipher: echo | encrypt | decrypt through a real pipe, binary-safe", async () => {
      const hi = await spikePipe(
        stack,
        ["cipher", "encrypt"],
        ["cipher", "decrypt"],
        new TextEncoder().encode("hi\n"),
      );
      assert.deepEqual(hi.codes, [0, 0], hi.stderr);
      assert.equal(new TextDecoder().decode(hi.stdout), "hi\n");

      const binary = await spikePipe(stack, ["cipher", "encrypt"], ["cipher", "decrypt"], allBytes);
      assert.deepEqual(binary.codes, [0, 0], binary.stderr);
      assert.deepEqual(binary.stdout, allBytes);
    });

    await t.step("cipher stream mode: the sealed format, and tampering", async () => {
      const sealed = await spikeBytes(stack, ["cipher", "encrypt"], allBytes);
      assertExit(sealed, 0, "encrypt");
      assert.equal(sealed.stdout[0], 0x01);
      assert.equal(sealed.stdout.length, 1 + 12 + allBytes.length + 16);
      const opened = await spikeBytes(stack, ["cipher", "decrypt"], sealed.stdout);
      assertExit(opened, 0, "decrypt");
      assert.deepEqual(opened.stdout, allBytes);

      const tampered = sealed.stdout.slice();
      tampered[20] ^= 0x01;
      const refused = await spikeBytes(stack, ["cipher", "decrypt"], tampered);
      assertExit(refused, 5, "tampered");
      assert.equal(refused.stdout.length, 0);
      assert.match(refused.stderr, /not a ciphertext this Nexus can open/);
      const garbage = await spikeBytes(stack, ["cipher", "decrypt"], new Uint8Array([2, 1, 2]));
      assertExit(garbage, 5, "not a ciphertext");

      const empty = await spikeBytes(stack, ["cipher", "encrypt"]);
      assertExit(empty, 0, "empty plaintext");
      assert.equal(empty.stdout.length, 1 + 12 + 16);
      const emptyBack = await spikeBytes(stack, ["cipher", "decrypt"], empty.stdout);
      assertExit(emptyBack, 0, "empty plaintext back");
      assert.equal(emptyBack.stdout.length, 0);
    });

    await t.step("cipher JSON mode: --plaintext, --json, and the three flags", async () => {
      const text = "a secret \u00e9\n";
      const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(text)));
      const enc = await spike(["cipher", "encrypt", "--plaintext", b64]);
      assertExit(enc, 0, "encrypt --plaintext");
      assert.ok(enc.stdout.endsWith("}\n"), enc.stdout);
      const sealed = JSON.parse(enc.stdout);
      assert.deepEqual(Object.keys(sealed), ["version", "nonce", "ciphertext"]);
      assert.equal(sealed.version, 1);
      assert.equal(atob(sealed.nonce).length, 12);
      assert.equal(atob(sealed.ciphertext).length, new TextEncoder().encode(text).length + 16);

      const flags = await spike([
        "cipher",
        "decrypt",
        "--version",
        String(sealed.version),
        "--nonce",
        sealed.nonce,
        "--ciphertext",
        sealed.ciphertext,
      ]);
      assertExit(flags, 0, "decrypt with flags");
      assert.equal(flags.stdout, text);
      const viaJson = await spike(["cipher", "decrypt", "--json"], { stdin: enc.stdout });
      assertExit(viaJson, 0, "decrypt --json");
      assert.equal(viaJson.stdout, text);

      // --json reads raw bytes, and decrypt --json takes the object back.
      const encJson = await spikeBytes(stack, ["cipher", "encrypt", "--json"], allBytes);
      assertExit(encJson, 0, "encrypt --json");
      const object = JSON.parse(new TextDecoder().decode(encJson.stdout));
      assert.deepEqual(Object.keys(object), ["version", "nonce", "ciphertext"]);
      const back = await spikeBytes(
        stack,
        ["cipher", "decrypt", "--json", "--algorithm", "AES-GCM"],
        encJson.stdout,
      );
      assertExit(back, 0, "decrypt --json, binary");
      assert.deepEqual(back.stdout, allBytes);

      // Tampered, wrong version, wrong nonce length.
      const ct = Uint8Array.from(atob(sealed.ciphertext), (c) => c.charCodeAt(0));
      ct[0] ^= 0x80;
      const tampered = await spike([
        "cipher",
        "decrypt",
        "--version",
        "1",
        "--nonce",
        sealed.nonce,
        "--ciphertext",
        btoa(String.fromCharCode(...ct)),
      ]);
      assertExit(tampered, 5, "tampered JSON"); // the same code as a tampered stream
      assert.equal(tampered.stdout, "");
      assert.match(tampered.stderr, /could not decrypt/);
      const version = await spike([
        "cipher",
        "decrypt",
        "--version",
        "2",
        "--nonce",
        sealed.nonce,
        "--ciphertext",
        sealed.ciphertext,
      ]);
      assertExit(version, 5, "version 2");
      const nonce = await spike([
        "cipher",
        "decrypt",
        "--version",
        "1",
        "--nonce",
        "AAAA",
        "--ciphertext",
        sealed.ciphertext,
      ]);
      assertExit(nonce, 5, "short nonce");
    });

    await t.step("cipher JSON mode: bad flags and bad input are usage errors", async () => {
      const nonce = ["--nonce", "AAAA"];
      const ct = ["--ciphertext", "AAAA"];
      const cases: [string[], RegExp, string?][] = [
        [["encrypt", "--plaintext", "not base64!"], /Invalid --plaintext base64\./],
        [["decrypt", "--version", "300", ...nonce, ...ct], /Invalid --version, must be 0-255\./],
        [["decrypt", "--version", "x", ...nonce, ...ct], /Invalid --version, must be 0-255\./],
        [["decrypt", "--version", "1", "--nonce", "A", ...ct], /Invalid --nonce base64\./],
        [["decrypt", "--version", "1", ...nonce, "--ciphertext", "*"], /Invalid --ciphertext/],
        [["decrypt", ...nonce], /missing: --version, --ciphertext/],
        [["decrypt", "--json"], /is not the JSON that spike cipher encrypt --json/, "{}"],
        [["decrypt", "--json"], /is not the JSON/, "hello"],
        [["decrypt", "--json", ...nonce], /not both/],
        [["encrypt", "--plaintext", "AAAA", "-f", "/x"], /not both/],
      ];
      for (const [args, message, stdin] of cases) {
        const result = await spike(["cipher", ...args], { stdin });
        assertExit(result, 2, args.join(" "));
        assert.equal(result.stdout, "");
        assert.match(result.stderr, message, args.join(" "));
      }
    });

    await t.step("cipher files: -f and -o, output mode 0600", async () => {
      const input = join(files, "plain.bin");
      const sealedFile = join(files, "sealed.bin");
      const output = join(files, "plain.out");
      await Deno.writeFile(input, allBytes);
      await Deno.writeFile(output, new TextEncoder().encode("old content, much longer than x"), {
        mode: 0o644,
      });
      await Deno.chmod(output, 0o644);
      const enc = await spike(["cipher", "encrypt", "-f", input, "-o", sealedFile], {
        folders: [files],
      });
      assertExit(enc, 0, "encrypt -f -o");
      assert.equal(enc.stdout, "");
      assert.equal((await Deno.stat(sealedFile)).mode! & 0o777, 0o600);
      const sealed = await Deno.readFile(sealedFile);
      assert.equal(sealed[0], 1);
      assert.equal(sealed.length, 1 + 12 + allBytes.length + 16);

      const dec = await spike(["cipher", "decrypt", "--file", sealedFile, "--out", output], {
        folders: [files],
      });
      assertExit(dec, 0, "decrypt -f -o");
      assert.equal(dec.stdout, "");
      assert.equal((await Deno.stat(output)).mode! & 0o777, 0o600);
      assert.deepEqual(await Deno.readFile(output), allBytes);

      // JSON mode to and from files.
      const jsonFile = join(files, "sealed.json");
      const encJson = await spike(["cipher", "encrypt", "--json", "-f", input, "-o", jsonFile], {
        folders: [files],
      });
      assertExit(encJson, 0, "encrypt --json to a file");
      assert.equal((await Deno.stat(jsonFile)).mode! & 0o777, 0o600);
      assert.equal(JSON.parse(await Deno.readTextFile(jsonFile)).version, 1);
      const back = await spikeBytes(
        stack,
        ["cipher", "decrypt", "--json", "-f", jsonFile],
        new Uint8Array(0),
        [files],
      );
      assertExit(back, 0, "decrypt --json from a file");
      assert.deepEqual(back.stdout, allBytes);

      const missing = join(files, "nope.bin");
      const none = await spike(["cipher", "encrypt", "-f", missing], { folders: [files] });
      assertExit(none, 7, "missing input");
      assert.match(none.stderr, new RegExp(`Input file does not exist: ${missing}`));
      // Run with fixed flags, as by hand (the tasks grant the files a command names).
      const outside = await spike(["cipher", "encrypt", "-f", input], { byHand: true });
      assertExit(outside, 7, "input outside the permissions");
      assert.match(outside.stderr, /not allowed to read/);
      const noWrite = await spike(["cipher", "encrypt", "-o", join(files, "x")], {
        stdin: "x",
        byHand: true,
      });
      assertExit(noWrite, 7, "output outside the permissions");
      assert.match(noWrite.stderr, /not allowed to write/);
      // A refused request leaves the output file alone.
      const kept = join(files, "kept.bin");
      await Deno.writeTextFile(kept, "keep me");
      const refused = await spikeBytes(
        stack,
        ["cipher", "decrypt", "-o", kept],
        new Uint8Array([1, 2, 3]),
        [files],
      );
      assertExit(refused, 5, "refused decrypt");
      assert.equal(await Deno.readTextFile(kept), "keep me");
    });

    await t.step("cipher -f is the format, as everywhere; -f FILE still works", async () => {
      const json = await spike(["cipher", "encrypt", "--plaintext", "aGk=", "-f", "json"]);
      assertExit(json, 0, "encrypt -f json");
      const sealed = JSON.parse(json.stdout);
      assert.equal(sealed.version, 1);
      const back = await spike(["cipher", "decrypt", "-f", "json"], { stdin: json.stdout });
      assertExit(back, 0, "decrypt -f json");
      assert.equal(back.stdout, "hi");
      const yaml = await spike(["cipher", "encrypt", "-f", "yaml"], { stdin: "x" });
      assertExit(yaml, 2, "encrypt -f yaml");
      assert.match(yaml.stderr, /raw bytes or JSON/);
    });

    await t.step(
      "cipher size limit: 65520 bytes pass, one more is Nexus's 400 (exit 5)",
      async () => {
        const largest = new Uint8Array(MAX_PLAINTEXT).fill(7);
        const ok = await spikeBytes(stack, ["cipher", "encrypt"], largest);
        assertExit(ok, 0, "largest plaintext");
        const back = await spikeBytes(stack, ["cipher", "decrypt"], ok.stdout);
        assertExit(back, 0, "largest plaintext back");
        assert.deepEqual(back.stdout, largest);
        const over = await spikeBytes(
          stack,
          ["cipher", "encrypt"],
          new Uint8Array(MAX_PLAINTEXT + 1),
        );
        assertExit(over, 5, "one byte too many");
        assert.equal(over.stdout.length, 0);
        assert.match(over.stderr, /larger than Nexus accepts/);
        const overJson = await spikeBytes(
          stack,
          ["cipher", "encrypt", "--json"],
          new Uint8Array(MAX_PLAINTEXT + 1),
        );
        assertExit(overJson, 5, "one byte too many, JSON");
        const huge = await spikeBytes(
          stack,
          ["cipher", "encrypt"],
          new Uint8Array(1024 * 1024 + 1),
        );
        assertExit(huge, 5, "more than a request may carry");
      },
    );

    // ------------------------------------------------------------ usage

    await t.step("--help on every command prints usage and exits 0", async () => {
      const commands = [
        ["policy", "create"],
        ["policy", "apply"],
        ["policy", "list"],
        ["policy", "get"],
        ["policy", "delete"],
        ["cipher", "encrypt"],
        ["cipher", "decrypt"],
      ];
      for (const command of commands) {
        const help = await spike([...command, "--help"]);
        assertExit(help, 0, `${command.join(" ")} --help`);
        assert.match(help.stdout, new RegExp(`Usage: spike ${command.join(" ")} `));
      }
      for (const group of ["policy", "cipher"]) {
        const help = await spike([group, "--help"]);
        assertExit(help, 0, `${group} --help`);
        assert.match(help.stdout, /Commands:/);
      }
    });

    await t.step("bad format and unknown flags exit 2", async () => {
      for (const args of [["policy", "list", "-f", "xml"], ["policy", "get", "x", "-f", "toml"]]) {
        const bad = await spike(args);
        assertExit(bad, 2, args.join(" "));
        assert.match(bad.stderr, /invalid format '.*'\. Valid formats are: human\/h\/plain\/p/);
      }
      for (
        const args of [
          ["policy", "list", "--bogus"],
          ["policy", "create", "--path", "x"],
          ["cipher", "encrypt", "--bogus"],
          ["cipher", "decrypt", "-x"],
        ]
      ) {
        const bad = await spike(args);
        assertExit(bad, 2, args.join(" "));
        assert.match(bad.stderr, /Usage: spike /);
      }
    });
  } finally {
    await stack.stop();
  }
});
