/**
 * The postgres backend against a real PostgreSQL (a throwaway cluster):
 * connection strings, compare-and-set across processes, schema creation
 * racing and refusal, the pool bound, the operation timeout, and a server
 * stopped and started under the store.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
// @ts-types="@types/pg"
import pg from "pg";
import { errorReply } from "../../lib/http/dispatch.ts";
import { createPki } from "../../lib/spiffe/_test_pki.ts";
import { PgCluster, POSTGRES_BIN } from "../../tests/support/postgres.ts";
import {
  openPostgresFromSettings,
  openPostgresStore,
  type PostgresOptions,
  PostgresStore,
  SCHEMA_VERSION,
  SchemaTooNewError,
  StoreUnavailableError,
  TargetNotEmptyError,
} from "./postgres.ts";
import { RecordDigest } from "./digest.ts";
import { encodeKey } from "./keys.ts";
import { parsePgConnInfo } from "./postgres_conninfo.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("postgres connection strings: URL and key/value, checked", () => {
  assert.deepEqual(
    parsePgConnInfo(
      "postgresql://nexus%40x@db.example:6432/spike?sslmode=verify-full&sslrootcert=/ca.pem",
    ),
    {
      host: "db.example",
      port: 6432,
      database: "spike",
      user: "nexus@x",
      password: undefined,
      sslmode: "verify-full",
      sslrootcert: "/ca.pem",
      applicationName: undefined,
    },
  );
  const kv = parsePgConnInfo(
    "host=127.0.0.1 port = 5433 user=nexus dbname='my db' password='it\\'s' sslmode=disable",
  );
  assert.equal(kv.database, "my db");
  assert.equal(kv.password, "it's");
  assert.equal(kv.port, 5433);
  assert.equal(kv.sslmode, "disable");
  // TLS with the server's name checked unless told otherwise; the database defaults to the user.
  const plain = parsePgConnInfo("postgres://nexus@[::1]");
  assert.equal(plain.sslmode, "verify-full");
  assert.equal(plain.host, "::1");
  assert.equal(plain.database, "nexus");
  for (
    const [bad, why] of [
      ["", /empty/],
      ["host=a user=b sslmode=prefer", /sslmode="prefer" is not supported/],
      ["host=a user=b port=99999", /port must be a number/],
      ["host=a,b user=c", /several hosts/],
      ["host=a user=c sslcert=/c.pem", /client certificates/],
      ["host=a", /no user/],
      ["host=a user=b target_session_attrs=any", /"target_session_attrs" is not supported/],
      ["host=a user=b password='unclosed", /no closing quote/],
      ["host=a user", /key=value pairs/],
    ] as const
  ) {
    assert.throws(() => parsePgConnInfo(bad), why, bad);
  }
  // A unix socket host, as libpq: the folder, its socket file, and no TLS (sslmode is moot there).
  const local = parsePgConnInfo("host=/run/postgresql port=5433 user=nexus sslmode=verify-full");
  assert.equal(local.host, "/run/postgresql");
  assert.equal(local.socketPath, "/run/postgresql/.s.PGSQL.5433");
  assert.equal(local.sslmode, "disable");
  assert.equal(
    parsePgConnInfo("postgresql://nexus@%2Fvar%2Frun%2Fpg/db").socketPath,
    "/var/run/pg/.s.PGSQL.5432",
  );
  // A password never appears in an error.
  assert.throws(
    () => parsePgConnInfo("postgresql://u:hunter2@h/d?sslmode=nope"),
    (e: Error) => !e.message.includes("hunter2"),
  );
});

Deno.test({
  name: "postgres store on a real server",
  ignore: !POSTGRES_BIN,
  fn: async (t) => {
    const cluster = await PgCluster.start();
    let n = 0;
    const options = async (extra: Partial<PostgresOptions> = {}): Promise<PostgresOptions> => ({
      conninfo: parsePgConnInfo(await cluster.createDatabase(`t${++n}`)),
      password: cluster.password,
      maxOpenConns: 4,
      operationTimeoutMs: 15_000,
      ...extra,
    });
    const open: PostgresStore[] = [];
    const track = (s: PostgresStore) => (open.push(s), s);
    try {
      await t.step("two separate processes writing one key lose no version", async () => {
        const url = cluster.url(`t${++n}`);
        await cluster.createDatabase(`t${n}`);
        const rounds = 25, workers = 4;
        const writer = () =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              `--allow-net=${cluster.hostPort}`,
              "--allow-env=SPIKE_NEXUS_DB_URL,PGPASSWORD",
              "--ignore-env=PGBINARY,PGREPLICATION",
              join(import.meta.dirname!, "../../tests/support/pg_writer.ts"),
              String(rounds),
              String(workers),
            ],
            env: { SPIKE_NEXUS_DB_URL: url, PGPASSWORD: cluster.password, NO_COLOR: "1" },
            clearEnv: true,
            stdout: "piped",
            stderr: "piped",
          }).output();
        // Both also create the schema at once: the advisory lock keeps them from racing.
        const outs = await Promise.all([writer(), writer()]);
        const reports = outs.map((o) => {
          assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
          return JSON.parse(new TextDecoder().decode(o.stdout));
        });
        const store = track(
          await openPostgresStore({ ...(await options()), conninfo: parsePgConnInfo(url) }),
        );
        const final = (await store.get(["counter"]))!;
        assert.equal(new TextDecoder().decode(final.value), String(2 * rounds * workers));
        assert.match(final.versionstamp, /^[0-9a-f]{20}$/);
        // They did contend: otherwise this test would prove nothing.
        assert.ok(reports[0].conflicts + reports[1].conflicts > 0, JSON.stringify(reports));
      });

      await t.step(
        "concurrent opens create the schema once; a newer schema is refused",
        async () => {
          const opts = await options();
          const stores = await Promise.all(
            Array.from({ length: 4 }, () => openPostgresStore(opts)),
          );
          stores.forEach(track);
          assert.ok((await stores[0].atomic().set(["x"], bytes("1")).commit()).ok);
          assert.equal(new TextDecoder().decode((await stores[3].get(["x"]))!.value), "1");
          const db = opts.conninfo.database;
          assert.equal(
            (await cluster.psql("SELECT version FROM spike_schema", db)).trim(),
            String(SCHEMA_VERSION),
          );
          await cluster.psql(`UPDATE spike_schema SET version = ${SCHEMA_VERSION + 1}`, db);
          await assert.rejects(
            openPostgresStore(opts),
            (e: Error) =>
              e instanceof SchemaTooNewError &&
              e.message ===
                `the PostgreSQL database has schema version ${SCHEMA_VERSION + 1}, newer than ` +
                  `version ${SCHEMA_VERSION} that this Nexus knows: upgrade Nexus before pointing ` +
                  "it at this database",
          );
          // Nothing was changed by the refusal.
          assert.equal(
            (await cluster.psql("SELECT version FROM spike_schema", db)).trim(),
            String(SCHEMA_VERSION + 1),
          );
        },
      );

      await t.step("an import is all or nothing, and only into an empty store", async () => {
        const store = track(await openPostgresStore(await options()));
        const records = Array.from({ length: 1203 }, (_, i) => ({
          key: ["r", i] as const,
          value: bytes(`v${i}`),
          versionstamp: "",
        }));
        const source = new RecordDigest();
        for (const r of records) source.add(encodeKey(r.key), r.value);
        // A verification that fails rolls the whole copy back.
        await assert.rejects(
          store.importAll(records, (target) => {
            assert.equal(target.count, records.length);
            assert.equal(target.hex, source.hex);
            throw new Error("refused by the check");
          }),
          /refused by the check/,
        );
        assert.deepEqual(await store.list([]), []);
        // A key given twice is an error, not an overwrite; nothing is left either.
        await assert.rejects(store.importAll([...records, records[0]], () => {}));
        assert.deepEqual(await store.list([]), []);
        const done = await store.importAll(records, () => {});
        assert.equal(done.hex, source.hex);
        assert.equal((await store.list(["r"])).length, records.length);
        assert.equal(new TextDecoder().decode((await store.get(["r", 7]))!.value), "v7");
        // The store works as usual afterwards (versions go on from the sequence).
        assert.ok((await store.atomic().set(["r", 7], bytes("new")).commit()).ok);
        await assert.rejects(store.importAll(records, () => {}), TargetNotEmptyError);
      });

      await t.step("over the server's unix socket (host is its folder)", async () => {
        const tcp = await options();
        const store = track(
          await openPostgresStore({
            ...tcp,
            conninfo: parsePgConnInfo(
              `host=${cluster.dir} port=${cluster.port} user=${cluster.user} ` +
                `dbname=${tcp.conninfo.database}`,
            ),
          }),
        );
        assert.ok((await store.atomic().set(["via"], bytes("socket")).commit()).ok);
        const peers = await cluster.psql(
          `SELECT count(*) FROM pg_stat_activity WHERE datname = '${tcp.conninfo.database}' ` +
            "AND application_name = 'spike-nexus' AND client_port = -1",
        );
        assert.ok(Number(peers) >= 1, "connected over the unix socket");
      });

      await t.step("a wrong password is refused at open", async () => {
        await assert.rejects(
          openPostgresStore({ ...(await options()), password: "wrong" }),
          /password/,
        );
      });

      await t.step("the pool stays within SPIKE_NEXUS_DB_MAX_OPEN_CONNS", async () => {
        const opts = await options({ maxOpenConns: 2 });
        const store = track(await openPostgresStore(opts));
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => store.atomic().set(["k", i], bytes("v")).commit()),
        );
        assert.equal((await store.list(["k"])).length, 40);
        const count = Number(
          await cluster.psql(
            `SELECT count(*) FROM pg_stat_activity WHERE datname = '${opts.conninfo.database}' AND application_name = 'spike-nexus'`,
          ),
        );
        assert.ok(count >= 1 && count <= 2, `${count} connections`);
      });

      await t.step("an operation the database does not answer fails at the timeout", async () => {
        const opts = await options({ operationTimeoutMs: 700 });
        const store = track(await openPostgresStore(opts));
        assert.ok((await store.atomic().set(["a"], bytes("1")).commit()).ok);
        // Another session holds the table: every read and write must wait for it.
        const blocker = new pg.Client({
          host: "127.0.0.1",
          port: cluster.port,
          user: cluster.user,
          password: cluster.password,
          database: opts.conninfo.database,
        });
        await blocker.connect();
        try {
          await blocker.query("BEGIN");
          await blocker.query("LOCK TABLE spike_kv IN ACCESS EXCLUSIVE MODE");
          for (
            const op of [
              () => store.get(["a"]),
              () => store.atomic().set(["a"], bytes("2")).commit(),
            ]
          ) {
            const started = performance.now();
            await assert.rejects(op(), StoreUnavailableError);
            const ms = performance.now() - started;
            assert.ok(ms >= 650 && ms < 3000, `failed after ${ms}ms`);
          }
          await blocker.query("ROLLBACK");
        } finally {
          await blocker.end();
        }
        // Nothing was half-done, and the store works again.
        assert.equal(new TextDecoder().decode((await store.get(["a"]))!.value), "1");
      });

      await t.step("PostgreSQL stopped: operations fail fast; started: they resume", async () => {
        const opts = await options({ operationTimeoutMs: 3000 });
        const idleErrors: Error[] = [];
        const changes: string[] = [];
        const store = track(
          await openPostgresStore({
            ...opts,
            onIdleError: (e) => idleErrors.push(e),
            onAvailability: (up) => changes.push(up ? "up" : "down"),
          }),
        );
        assert.ok((await store.atomic().set(["kept"], bytes("1")).commit()).ok);
        await cluster.pause();
        for (
          const op of [
            () => store.get(["kept"]),
            () => store.atomic().set(["b"], bytes("2")).commit(),
          ]
        ) {
          const started = performance.now();
          await assert.rejects(op(), (e: unknown) => {
            // What a request meeting it answers: 503 state_not_ready, and nothing more.
            const { reply, code, unexpected } = errorReply(undefined, e);
            assert.deepEqual([reply.status, code, unexpected], [503, "state_not_ready", false]);
            assert.deepEqual((reply as { json: unknown }).json, { err: "state_not_ready" });
            return e instanceof StoreUnavailableError;
          });
          assert.ok(performance.now() - started < 3500, "failed within the timeout");
        }
        // Told once, not once per failed operation.
        assert.deepEqual(changes, ["down"]);
        await cluster.resume();
        // The pool connects anew by itself; what was acknowledged before the stop is there.
        let value: string | undefined;
        for (let i = 0; i < 50 && value === undefined; i++) {
          try {
            value = new TextDecoder().decode((await store.get(["kept"]))!.value);
          } catch (e) {
            if (!(e instanceof StoreUnavailableError)) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        assert.equal(value, "1");
        assert.deepEqual(changes, ["down", "up"]);
        assert.equal(await store.get(["b"]), null);
        assert.ok((await store.atomic().set(["b"], bytes("3")).commit()).ok);
      });
    } finally {
      for (const s of open) await s.end();
      await cluster.close();
    }
  },
});

Deno.test({
  name:
    "postgres over TLS: verify-full and verify-ca with sslrootcert; a wrong CA or name is refused",
  ignore: !POSTGRES_BIN,
  fn: async () => {
    const pki = await createPki("spike-pg-tls-");
    const ca = await pki.ca("ca", {});
    const other = await pki.ca("other", {});
    const server = await pki.leaf("server", {
      uris: [],
      issuer: ca,
      extra: ["subjectAltName = DNS:localhost, IP:127.0.0.1"],
    });
    const cluster = await PgCluster.start({ tls: server });
    const stores: PostgresStore[] = [];
    const open = async (host: string, query: string, passwordFile?: string) => {
      const store = await openPostgresFromSettings({
        conninfo: parsePgConnInfo(cluster.url("postgres", host, query)),
        passwordFile,
        maxOpenConns: 2,
        operationTimeoutMs: 10_000,
      });
      stores.push(store);
      return store;
    };
    try {
      const passwordFile = join(pki.dir, "db-password");
      await Deno.writeTextFile(passwordFile, `${cluster.password}\n`, { mode: 0o600 });
      for (const host of ["localhost", "127.0.0.1"]) {
        const store = await open(
          host,
          `sslmode=verify-full&sslrootcert=${ca.certFile}`,
          passwordFile,
        );
        assert.ok((await store.atomic().set(["tls", host], bytes("1")).commit()).ok);
      }
      // Every connection of the backend is encrypted.
      assert.equal(
        (await cluster.psql(
          "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'spike-nexus'",
        )).trim(),
        "t",
      );
      await assert.rejects(
        open("127.0.0.1", `sslmode=verify-full&sslrootcert=${other.certFile}`, passwordFile),
        /certificate/,
      );
      // A name the certificate does not carry: refused by verify-full, accepted by verify-ca.
      const named = await pki.leaf("named", {
        uris: [],
        issuer: ca,
        extra: ["subjectAltName = DNS:db.example"],
      });
      await cluster.close();
      const renamed = await PgCluster.start({ tls: named });
      try {
        const url = (q: string) => renamed.url("postgres", "127.0.0.1", q);
        await Deno.writeTextFile(passwordFile, renamed.password);
        await assert.rejects(
          openPostgresFromSettings({
            conninfo: parsePgConnInfo(url(`sslmode=verify-full&sslrootcert=${ca.certFile}`)),
            passwordFile,
            maxOpenConns: 1,
            operationTimeoutMs: 10_000,
          }),
          /IP|altnames|match/i,
        );
        const store = await openPostgresFromSettings({
          conninfo: parsePgConnInfo(url(`sslmode=verify-ca&sslrootcert=${ca.certFile}`)),
          passwordFile,
          maxOpenConns: 1,
          operationTimeoutMs: 10_000,
        });
        stores.push(store);
        assert.equal(await store.get(["nothing"]), null);
      } finally {
        for (const s of stores) await s.end();
        await renamed.close();
      }
    } finally {
      for (const s of stores) await s.end();
      await cluster.close();
      await pki.cleanup();
    }
  },
});
