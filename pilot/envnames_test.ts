import assert from "node:assert/strict";
import { envName, envNames, shellQuote } from "./envnames.ts";

Deno.test("keys become upper-case, sanitized variable names", () => {
  assert.equal(envName("db-user"), "DB_USER");
  assert.equal(envName("api key"), "API_KEY");
  assert.equal(envName("9lives"), "_9LIVES");
  assert.equal(envName("Ünïcode"), "_N_CODE");
});

Deno.test("conflicting names are refused, naming both keys but no value", () => {
  assert.deepEqual(
    envNames([{ source: "a", values: { x: "1" } }, { source: "b", values: { y: "2" } }]),
    [
      { name: "X", value: "1" },
      { name: "Y", value: "2" },
    ],
  );
  assert.throws(
    () =>
      envNames([
        { source: "app/db", values: { "db-user": "secret1" } },
        { source: "app/other", values: { db_user: "secret2" } },
      ]),
    (e: Error) => {
      assert.match(e.message, /DB_USER \(from app\/db:db-user and app\/other:db_user\)/);
      assert.ok(!e.message.includes("secret1") && !e.message.includes("secret2"));
      return true;
    },
  );
});

Deno.test("shell quoting survives any value", async () => {
  const nasty = `it's "$(rm -rf /)" \`x\` \\ \n end`;
  const out = await new Deno.Command("sh", {
    args: ["-c", `V=${shellQuote(nasty)}; printf %s "$V"`],
    stdout: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout), nasty);
});
