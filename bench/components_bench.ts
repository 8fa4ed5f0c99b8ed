/**
 * What each piece of a secret get or put costs on its own, in one process
 * (`deno task bench:components`, Deno's own `deno bench`): the AES-GCM opens and
 * seals, a Deno KV read alone and in a group, the audit line, the JSON of a
 * request and an answer, the policy check with 20 policies, and a whole get and
 * put of the state layer on Deno KV. `deno task bench` measures the programs;
 * this says where a request's time can go, so the next profile starts from
 * numbers. Each group's first case is its baseline. Times are wall time per call, one
 * call at a time: a Deno KV operation shows its whole round trip to Deno KV's thread,
 * which many concurrent callers share (the "32 at once" case, per iteration).
 *
 * @module
 */

import { AeadKey } from "../lib/crypto/aead.ts";
import { auditLine } from "../lib/log/audit.ts";
import type { Completion } from "../lib/http/dispatch.ts";
import { policyGrants, type StoredPolicy } from "../nexus/auth/policy.ts";
import { type KvStore, openKvStore } from "../nexus/store/kv.ts";
import { Secrets } from "../nexus/state/secrets.ts";

const encoder = new TextEncoder();
const key = new AeadKey(crypto.getRandomValues(new Uint8Array(32)));
const value = "x".repeat(1000);
const valuesJson = encoder.encode(JSON.stringify({ v: value }));
const sealedMeta = key.seal(crypto.getRandomValues(new Uint8Array(400)), "meta");
const sealedData = key.seal(crypto.getRandomValues(new Uint8Array(1050)), "data");

Deno.bench("aead: open 400 B (a path's metadata)", { group: "aead", baseline: true }, () => {
  key.open(sealedMeta, "meta");
});
Deno.bench("aead: open 1 KiB (a version's values)", { group: "aead" }, () => {
  key.open(sealedData, "data");
});
Deno.bench("aead: seal 1 KiB", { group: "aead" }, () => {
  key.seal(valuesJson, "data");
});

const dir = await Deno.makeTempDir({ prefix: "spike-bench-components-" });
const store = await openKvStore(dir) as KvStore;
const secrets = new Secrets(store, () => key, () => 10);
const PATHS = 1000;
for (let i = 0; i < PATHS; i++) await secrets.put(`bench/s/${i}`, valuesJson);
const kv = store.kv;
let n = 0;
const nextPath = () => `bench/s/${n++ % PATHS}`;

Deno.bench("kv: get of a missing key", { group: "kv", baseline: true }, async () => {
  await kv.get(["nothing", "here"]);
});
Deno.bench("kv: get of a metadata record (with its copy)", { group: "kv" }, async () => {
  await kv.get(["secret-meta", nextPath()]);
});
Deno.bench("kv: getMany of 4 metadata records", { group: "kv" }, async () => {
  await kv.getMany([0, 1, 2, 3].map(() => ["secret-meta", nextPath()]));
});
Deno.bench("kv: 32 gets of metadata records at once", { group: "kv" }, async () => {
  await Promise.all(Array.from({ length: 32 }, () => kv.get(["secret-meta", nextPath()])));
});

Deno.bench("state: secret get (current version)", { group: "state", baseline: true }, async () => {
  await secrets.get(nextPath(), 0);
});
Deno.bench("state: metadata", { group: "state" }, async () => {
  await secrets.metadata(nextPath(), 0);
});
Deno.bench("state: secret put", { group: "state" }, async () => {
  await secrets.put(nextPath(), valuesJson);
});

const completion: Completion = {
  trail: crypto.randomUUID(),
  caller: "spiffe://spike.ist/spike/pilot/role/superuser",
  method: "POST",
  target: "/v1/store/secrets",
  action: "get",
  route: "secret.get",
  status: 200,
  durationMs: 0.412,
  path: "bench/s/1",
};
const requestBody = encoder.encode(JSON.stringify({ path: "bench/s/1", version: 0 }));
const answer = { data: { v: value } };

Deno.bench("json: parse a get request", { group: "http", baseline: true }, () => {
  JSON.parse(new TextDecoder().decode(requestBody));
});
Deno.bench("json: encode a get answer (1 KiB)", { group: "http" }, () => {
  encoder.encode(JSON.stringify(answer));
});
Deno.bench("audit: build one line", { group: "http" }, () => {
  encoder.encode(auditLine("nexus", completion));
});

const policies: StoredPolicy[] = Array.from({ length: 20 }, (_, i) => ({
  name: i < 19 ? `other-${i}` : "bench-read",
  spiffeIdPattern: i < 19
    ? `^spiffe://spike\\.ist/workload/other-${i}$`
    : "^spiffe://spike\\.ist/workload/a$",
  pathPattern: i < 19 ? `^other/${i}/` : "^bench/s/",
  permissions: i < 19 ? ["read", "write"] : ["read"],
  createdAt: new Date(),
  updatedAt: new Date(),
}));
Deno.bench("policy: check 20 policies, the last one grants", { group: "policy" }, () => {
  if (!policyGrants(policies, "spiffe://spike.ist/workload/a", nextPath(), ["read"])) {
    throw new Error("the bench policy should grant");
  }
});

globalThis.addEventListener("unload", () => {
  store.close().catch(() => {});
  Deno.removeSync(dir, { recursive: true });
});
