import assert from "node:assert/strict";
import { parsePostgresUrl } from "./postgres_url.ts";

Deno.test("parsePostgresUrl reads libpq URLs", () => {
  assert.deepEqual(
    parsePostgresUrl(
      "postgres://spike@db.internal:6432/secrets?sslmode=verify-full&sslrootcert=/etc/spike/ca.pem",
    ),
    {
      host: "db.internal",
      port: 6432,
      user: "spike",
      database: "secrets",
      sslmode: "verify-full",
      sslrootcert: "/etc/spike/ca.pem",
      options: {},
    },
  );
  const plain = parsePostgresUrl("postgresql://localhost/spike");
  assert.equal(plain.port, 5432);
  assert.equal(plain.socketPath, undefined);
  assert.equal(parsePostgresUrl("postgres://[::1]:5433/x").host, "::1");
  const withPassword = parsePostgresUrl("postgres://u:p%40ss@h/d?application_name=spike");
  assert.equal(withPassword.password, "p@ss");
  assert.deepEqual(withPassword.options, { application_name: "spike" });
});

Deno.test("a host that is a folder is a unix socket, in both forms", () => {
  const url = parsePostgresUrl("postgres://spike@%2Fvar%2Frun%2Fpostgresql/spike");
  assert.equal(url.host, "/var/run/postgresql");
  assert.equal(url.socketPath, "/var/run/postgresql/.s.PGSQL.5432");
  const query = parsePostgresUrl("postgres:///spike?host=/run/pg/&port=5433");
  assert.equal(query.socketPath, "/run/pg/.s.PGSQL.5433");
  const kv = parsePostgresUrl("host=/run/pg port=5499 dbname=spike");
  assert.equal(kv.socketPath, "/run/pg/.s.PGSQL.5499");
});

Deno.test("parsePostgresUrl reads libpq key/value strings", () => {
  const target = parsePostgresUrl(
    "host=db port=5432 dbname=spike user=nexus sslmode=verify-ca sslrootcert='/etc/my ca.pem' " +
      "password='it\\'s' connect_timeout=5",
  );
  assert.equal(target.host, "db");
  assert.equal(target.user, "nexus");
  assert.equal(target.sslrootcert, "/etc/my ca.pem");
  assert.equal(target.password, "it's");
  assert.deepEqual(target.options, { connect_timeout: "5" });
  assert.equal(parsePostgresUrl("host = db  port= 7").port, 7);
  assert.equal(parsePostgresUrl("dbname=x").host, "localhost");
});

Deno.test("bad strings are refused without repeating them", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["postgres://u:hunter2@h:0/d", /port must be/],
    ["postgres://u:hunter2@h/d?sslmode=sometimes", /sslmode must be one of/],
    ["host=a,b", /several hosts/],
    ["host=db password='hunter2", /no closing quote/],
    ["just words hunter2", /key=value/],
    ["host=a host=b", /given twice/],
    ["host=db port=99999 password=hunter2", /port must be/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parsePostgresUrl(text), (e: Error) => {
      assert.match(e.message, /^SPIKE_NEXUS_DB_URL is invalid: /);
      assert.match(e.message, expected);
      assert.ok(!e.message.includes("hunter2"), e.message);
      return true;
    });
  }
});
