import assert from "node:assert/strict";
import { permissionFlags } from "./flags.ts";
import { type Configuration, optionValues, reachFor } from "./reach.ts";
import { commandLine, launchCommand, shellQuote } from "./command.ts";

const config = (env: Record<string, string>, args: string[] = []): Configuration => ({
  env: { HOME: "/home/op", ...env },
  args,
  cwd: "/work/here",
});

Deno.test("Nexus gets its socket, listen address, Keepers by name and its data folder", () => {
  const reach = reachFor(
    "nexus",
    config({
      SPIFFE_ENDPOINT_SOCKET: "unix:///run/spire/sockets/agent.sock",
      SPIKE_NEXUS_TLS_PORT: ":9553",
      SPIKE_NEXUS_KEEPER_PEERS: "https://keeper-1:8443,https://keeper-2,https://[::1]:7443",
      SPIKE_NEXUS_DATA_DIR: "/var/lib/spike",
    }),
  );
  assert.deepEqual(reach.sockets, ["/run/spire/sockets/agent.sock"]);
  assert.deepEqual(reach.hosts, ["0.0.0.0:9553", "keeper-1:8443", "keeper-2:443", "[::1]:7443"]);
  assert.deepEqual(reach.folders, ["/var/lib/spike"]);
  // Defaults: SPIRE's socket, :8553, ~/.spike/data; relative folders resolve in the caller's folder.
  const defaults = reachFor("nexus", config({ SPIKE_NEXUS_DATA_DIR: "data" }));
  assert.deepEqual(defaults.sockets, ["/tmp/spire-agent/public/api.sock"]);
  assert.deepEqual(defaults.hosts, ["0.0.0.0:8553"]);
  assert.deepEqual(defaults.folders, ["/work/here/data"]);
  assert.deepEqual(reachFor("nexus", config({})).folders, ["/home/op/.spike/data"]);
  // The memory backend has no folder and no Keepers.
  const memory = reachFor(
    "nexus",
    config({ SPIKE_NEXUS_BACKEND_STORE: "memory", SPIKE_NEXUS_KEEPER_PEERS: "https://k:1" }),
  );
  assert.deepEqual([memory.folders, memory.hosts], [[], ["0.0.0.0:8553"]]);
});

Deno.test("Nexus on PostgreSQL: the database host or socket, its files, PGPASSWORD, no folder", () => {
  const tcp = reachFor(
    "nexus",
    config({
      SPIKE_NEXUS_BACKEND_STORE: "postgres",
      SPIKE_NEXUS_DB_URL:
        "postgres://spike@db.internal:6432/spike?sslmode=verify-full&sslrootcert=/etc/spike/ca.pem",
      SPIKE_NEXUS_DB_PASSWORD_FILE: "secrets/pg.pass",
    }),
  );
  assert.deepEqual(tcp.folders, []);
  assert.ok(tcp.hosts!.includes("db.internal:6432"));
  assert.deepEqual(tcp.reads, ["/work/here/secrets/pg.pass", "/etc/spike/ca.pem"]);
  assert.deepEqual(tcp.env, ["PGPASSWORD"]);
  assert.ok(permissionFlags("nexus", tcp).some((f) => /^--allow-env=.*,PGPASSWORD$/.test(f)));
  const socket = reachFor(
    "nexus",
    config({ SPIKE_NEXUS_BACKEND_STORE: "postgres", SPIKE_NEXUS_DB_URL: "host=/run/pg dbname=s" }),
  );
  assert.ok(socket.sockets.includes("/run/pg/.s.PGSQL.5432"));
});

Deno.test("nexus migrate: the folder it copies from and the database, no identity or network", () => {
  const pg = {
    SPIKE_NEXUS_DB_URL: "postgres://spike@db.internal:6432/spike",
    SPIKE_NEXUS_DB_PASSWORD_FILE: "/etc/spike/pg.pass",
    SPIKE_NEXUS_KEEPER_PEERS: "https://k1:8443",
    SPIKE_NEXUS_DATA_DIR: "/var/lib/spike",
  };
  const from = reachFor("nexus", config(pg, ["migrate", "--from", "kv:old/data"]));
  assert.deepEqual(from.folders, ["/work/here/old/data"]);
  assert.deepEqual(from.hosts, ["db.internal:6432"]);
  assert.deepEqual(from.sockets, []);
  assert.deepEqual(from.reads, ["/etc/spike/pg.pass"]);
  // Without a folder: SPIKE_NEXUS_DATA_DIR, then the default under HOME.
  assert.deepEqual(
    reachFor("nexus", config(pg, ["migrate", "--from=sqlite"])).folders,
    ["/var/lib/spike"],
  );
  const { SPIKE_NEXUS_DATA_DIR: _, ...noDir } = pg;
  assert.deepEqual(
    reachFor("nexus", config(noDir, ["migrate", "--from", "kv"])).folders,
    ["/home/op/.spike/data"],
  );
  // Arguments that do not parse grant nothing.
  assert.deepEqual(reachFor("nexus", config(pg, ["migrate", "--from", "floppy"])), {
    sockets: [],
    hosts: [],
    folders: [],
    reads: [],
    writes: [],
    env: [],
  });
});

Deno.test("what does not parse grants nothing, for the program to report", () => {
  const reach = reachFor(
    "nexus",
    config({
      SPIKE_NEXUS_TLS_PORT: "nonsense",
      SPIKE_NEXUS_KEEPER_PEERS: "http://plain:1",
      SPIFFE_ENDPOINT_SOCKET: "unix:relative",
    }),
  );
  assert.deepEqual([reach.sockets, reach.hosts], [[], []]);
  assert.deepEqual(reachFor("nexus", config({ SPIKE_NEXUS_BACKEND_STORE: "floppy" })).folders, []);
});

Deno.test("SVID files grant their folders instead of a socket", () => {
  const reach = reachFor(
    "keeper",
    config({
      SPIKE_SVID_CERT_FILE: "/etc/svid/cert.pem",
      SPIKE_SVID_KEY_FILE: "/etc/svid/key.pem",
      SPIKE_SVID_BUNDLE_FILE: "/etc/bundle/b.pem",
      SPIKE_KEEPER_TLS_PORT: "127.0.0.1:9443",
    }),
  );
  assert.deepEqual(reach.sockets, []);
  assert.deepEqual(reach.reads, ["/etc/svid", "/etc/svid", "/etc/bundle"]);
  assert.deepEqual(reach.hosts, ["127.0.0.1:9443"]);
  assert.deepEqual(reachFor("keeper", config({ SPIKE_SVID_CERT_FILE: "/x" })).reads, []);
});

Deno.test("Pilot gets Nexus, its socket, and exactly the files its command line names", () => {
  const env = { SPIKE_NEXUS_API_URL: "https://nexus.internal:9553" };
  const put = reachFor("spike", config(env, ["secret", "put", "a/b", "k=@in.txt", "p=-"]));
  assert.deepEqual(put.hosts, ["nexus.internal:9553"]);
  assert.deepEqual(put.reads, ["/work/here/in.txt"]);
  assert.deepEqual([put.folders, put.writes], [[], []]);
  const cipher = reachFor("spike", config(env, ["cipher", "encrypt", "-f", "/d/plain", "--out=c"]));
  assert.deepEqual([cipher.reads, cipher.writes], [["/d/plain"], ["/work/here/c"]]);
  const recover = reachFor(
    "spike",
    config({ SPIKE_PILOT_RECOVERY_DIR: "/safe" }, [
      "operator",
      "recover",
    ]),
  );
  assert.deepEqual(recover.folders, ["/safe"]);
  assert.deepEqual(recover.hosts, ["localhost:8553"]);
  // `spike run` hands everything after `--` to another program.
  const run = reachFor("spike", config(env, ["run", "--secret", "a", "--", "cat", "-f", "x"]));
  assert.deepEqual(run.reads, []);
  // SPIKE_PILOT_DEFAULT_SOCKET when SPIFFE_ENDPOINT_SOCKET is unset.
  const dflt = reachFor("spike", config({ SPIKE_PILOT_DEFAULT_SOCKET: "unix:///s/pilot.sock" }));
  assert.deepEqual(dflt.sockets, ["/s/pilot.sock"]);
});

Deno.test("the dev agent gets its folders and each socket it serves", () => {
  const reach = reachFor(
    "agent",
    config({}, ["serve", "--data-dir=/a", "--socket-dir", "/s", "--identity", "x=spiffe://t/x"]),
  );
  assert.deepEqual(reach.folders, ["/a", "/s"]);
  assert.deepEqual(reach.sockets, ["/s/x.sock"]);
  const file = reachFor("agent", {
    ...config({}, ["serve", "--registration", "reg.json"]),
    readFile: () => '{"identities":[{"socket":"n"}],"federatedBundles":{"o.org":"/b.pem"}}',
  });
  assert.deepEqual(file.sockets, ["/work/here/.spike/agent/sockets/n.sock"]);
  assert.deepEqual(file.reads, ["/work/here/reg.json", "/b.pem"]);
  assert.equal(reachFor("agent", config({}, ["serve"])).sockets.length, 8);
});

Deno.test("optionValues reads long, long=, short and attached short forms", () => {
  assert.deepEqual(optionValues(["--file", "a", "--file=b", "-f", "c", "-fd"], "file", "f"), [
    "a",
    "b",
    "c",
    "d",
  ]);
  assert.deepEqual(optionValues(["--", "--file", "x"], "file"), []);
});

Deno.test("the command line is the exact deno run command, quoted for sh", () => {
  assert.equal(shellQuote("a/b:c"), "a/b:c");
  assert.equal(shellQuote("it's *"), `'it'\\''s *'`);
  const launch = launchCommand("keeper", { kind: "checkout", root: "/repo" }, config({}), {
    deno: "deno",
  });
  assert.equal(
    commandLine(launch),
    "cd /work/here && deno run --config /repo/deno.json --no-prompt " +
      "'--allow-env=SPIKE_*,SPIFFE_ENDPOINT_SOCKET,HOME,GRPC_*,grpc_proxy,https_proxy,http_proxy," +
      "no_grpc_proxy,no_proxy' --allow-net=unix:/tmp/spire-agent/public/api.sock,0.0.0.0:8443 " +
      "--allow-read=/tmp/spire-agent/public/api.sock --allow-write=/tmp/spire-agent/public/api.sock " +
      "/repo/keeper/main.ts",
  );
  // From a checkout, Pilot without a socket uses the dev stack's.
  const pilot = launchCommand("spike", { kind: "checkout", root: "/repo" }, config({}));
  assert.equal(
    pilot.env.SPIKE_PILOT_DEFAULT_SOCKET,
    "unix:///repo/.spike/agent/sockets/pilot.sock",
  );
  assert.ok(pilot.argv.some((a) => a.includes("unix:/repo/.spike/agent/sockets/pilot.sock")));
});

Deno.test("Pilot and Bootstrap get every Nexus replica SPIKE_NEXUS_API_URL lists", () => {
  const env = {
    SPIKE_NEXUS_API_URL: "https://n1.internal:9553, https://[::1]:8553,https://n3.internal",
    SPIKE_NEXUS_KEEPER_PEERS: "https://k1:8443",
  };
  const replicas = ["n1.internal:9553", "[::1]:8553", "n3.internal:443"];
  assert.deepEqual(reachFor("spike", config(env, ["secret", "list"])).hosts, replicas);
  assert.deepEqual(reachFor("bootstrap", config(env)).hosts, [...replicas, "k1:8443"]);
  // A list that does not parse grants no Nexus at all (the program stops on it).
  const bad = { SPIKE_NEXUS_API_URL: "https://n1:1,http://n2:2" };
  assert.deepEqual(reachFor("spike", config(bad, ["secret", "list"])).hosts, []);
});

Deno.test("Nexus's metrics listener and audit file are granted when set, and only then", () => {
  const reach = reachFor(
    "nexus",
    config({
      SPIKE_NEXUS_METRICS_PORT: "9090",
      SPIKE_NEXUS_AUDIT_FILE: "/var/log/spike/audit.log",
    }),
  );
  assert.deepEqual(reach.hosts, ["0.0.0.0:8553", "127.0.0.1:9090"]);
  assert.ok(reach.folders!.includes("/var/log/spike/audit.log"));
  for (const kind of ["read", "write"]) {
    assert.ok(
      permissionFlags("nexus", reach).some((f) =>
        f.startsWith(`--allow-${kind}=`) && f.includes("/var/log/spike/audit.log")
      ),
      kind,
    );
  }
  const exposed = reachFor("nexus", config({ SPIKE_NEXUS_METRICS_PORT: "0.0.0.0:9100" }));
  assert.ok(exposed.hosts!.includes("0.0.0.0:9100"));
  const off = reachFor("nexus", config({}));
  assert.deepEqual([off.hosts, off.folders], [["0.0.0.0:8553"], ["/home/op/.spike/data"]]);
  // A setting that does not parse grants nothing; Nexus then stops on it.
  assert.deepEqual(reachFor("nexus", config({ SPIKE_NEXUS_METRICS_PORT: ":9090" })).hosts, [
    "0.0.0.0:8553",
  ]);
  const relative = reachFor("nexus", config({ SPIKE_NEXUS_AUDIT_FILE: "audit.log" }));
  assert.deepEqual(relative.folders, ["/home/op/.spike/data"]);
});
