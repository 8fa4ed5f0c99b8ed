/**
 * Every Nexus route refuses a caller that nothing allows, and the refusal is
 * the guard's (the dispatcher runs it between read and act). A new route
 * added to the contract without a sample body here, or with a rule that lets
 * a stranger through, fails this test. The routes open to every member of
 * SPIKE's trust domains (status) are listed here: they refuse an ID of a
 * foreign trust domain, and only they admit a member without a role.
 */

import assert from "node:assert/strict";
import { ApiError } from "../lib/api/errors.ts";
import { NEXUS_ROUTES, type NexusRouteName } from "../lib/api/routes.ts";
import { type RouteRequest, runRoute } from "../lib/http/dispatch.ts";
import { createLogger } from "../lib/log/log.ts";
import { RoleSet } from "../lib/identity/roles.ts";
import { parseSpiffeId, type SpiffeId } from "../lib/spiffe/id.ts";
import { TEST_CONFIG } from "./_test_config.ts";
import type { NexusContext } from "./context.ts";
import { contextGuard, nexusHandlers } from "./server.ts";
import { Policies } from "./state/policies.ts";
import { RestoreCollector } from "./state/restore.ts";
import { RootKeyState } from "./state/rootkey.ts";
import { Secrets } from "./state/secrets.ts";
import { KvStore, openMemoryStore } from "./store/kv.ts";
import type { Store } from "./store/store.ts";

/** A well-formed body for every route, so that only the guard can refuse it. */
const SAMPLE_BODIES: Record<NexusRouteName, unknown> = {
  "secret.put": { path: "app/db", values: { user: "u" } },
  "secret.get": { path: "app/db" },
  "secret.delete": { path: "app/db", versions: [] },
  "secret.undelete": { path: "app/db", versions: [1] },
  "secret.list": {},
  "secret.destroy": { path: "app/db", versions: [] },
  "backup.take": {},
  "backup.restore": {},
  "secret.metadata": { path: "app/db" },
  "policy.put": {
    name: "p",
    spiffeidPattern: "^spiffe://spike\\.ist/x$",
    pathPattern: "^app/",
    permissions: ["read"],
  },
  "policy.get": { id: "p" },
  "policy.delete": { id: "p" },
  "policy.list": {},
  "cipher.encrypt": { plaintext: "aGk=" },
  "cipher.decrypt": {
    version: 1,
    nonce: "AAAAAAAAAAAAAAAA",
    ciphertext: "AAAAAAAAAAAAAAAAAAAAAA==",
  },
  "operator.recover": {},
  "operator.restore": { id: 1, shard: [...new Array(32).fill(7), 1] },
  "bootstrap.verify": { nonce: "AAAAAAAAAAAAAAAA", ciphertext: "AAAAAAAAAAAAAAAAAAAAAA==" },
  "bootstrap.state": {},
  "status.get": {},
  "rootkey.rotate": { generation: 1 },
  "rootkey.rekey": { shares: 3, threshold: 2 },
};

/** The routes any member of SPIKE's trust domains may call without a role or policy. */
const MEMBER_ROUTES: readonly NexusRouteName[] = ["status.get"];

async function testContext(given?: Store) {
  const store = given ?? await openMemoryStore();
  const state = new RootKeyState(2, 3, store);
  state.useRandomKey();
  const ctx: NexusContext = {
    config: TEST_CONFIG,
    state,
    roles: RoleSet.fromEnv(),
    store,
    keepers: undefined,
    log: createLogger("test", "ERROR", () => {}),
    secrets: new Secrets(store, () => state.key("secrets"), () => 10),
    policies: new Policies(store, () => state.key("policies")),
    restore: new RestoreCollector(state),
  };
  return { ctx, store };
}

const member = parseSpiffeId("spiffe://spike.ist/workload/stranger");
const foreigner = parseSpiffeId("spiffe://elsewhere.test/spike/pilot/role/superuser");

function request(name: NexusRouteName, peer: SpiffeId): RouteRequest<NexusRouteName> {
  const body = new TextEncoder().encode(JSON.stringify(SAMPLE_BODIES[name]));
  return {
    route: NEXUS_ROUTES.find((r) => r.name === name)!,
    peer,
    headers: {},
    body: () => Promise.resolve(body),
    json: () => Promise.resolve(JSON.parse(new TextDecoder().decode(body))),
    note: () => {},
  };
}

Deno.test("every route refuses a caller without a role or policy (401)", async () => {
  const { ctx, store } = await testContext();
  const handlers = nexusHandlers(ctx);
  const guard = contextGuard(ctx);
  try {
    for (const route of NEXUS_ROUTES) {
      assert.ok(
        route.name in SAMPLE_BODIES,
        `route ${route.name} has no sample body here: add one, and make sure it is guarded`,
      );
      // The guard, not the route, refuses: with it, 401; its rule is consulted once.
      const rules: unknown[] = [];
      await assert.rejects(
        runRoute(handlers[route.name], async (peer, rule) => {
          rules.push(rule);
          await guard(peer, rule);
        }, request(route.name, MEMBER_ROUTES.includes(route.name) ? foreigner : member)),
        (e: unknown) => {
          assert.ok(e instanceof ApiError, `${route.name}: ${e}`);
          assert.equal(e.status, 401, `${route.name} answered ${e.code}, not 401`);
          return true;
        },
        `${route.name} let an unauthorized caller through`,
      );
      assert.equal(rules.length, 1, `${route.name} was not guarded exactly once`);
    }
  } finally {
    await store.close();
  }
});

Deno.test("only the member routes admit a member of the trust domain without a role", async () => {
  const { ctx, store } = await testContext();
  const handlers = nexusHandlers(ctx);
  const guard = contextGuard(ctx);
  try {
    for (const name of MEMBER_ROUTES) {
      const rules: unknown[] = [];
      const reply = await runRoute(handlers[name], async (peer, rule) => {
        rules.push(rule);
        await guard(peer, rule);
      }, request(name, member));
      assert.equal(reply.status ?? 200, 200, name);
      assert.equal(rules.length, 1, `${name} was not guarded exactly once`);
    }
  } finally {
    await store.close();
  }
});

/** A Deno KV database in memory whose reads (each `get` or `getMany` round trip) are counted. */
async function countedKv() {
  const kv = await Deno.openKv(":memory:");
  const reads: number[] = [];
  const counted = new Proxy(kv, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      if (name !== "get" && name !== "getMany") return value.bind(target);
      return (...args: unknown[]) => {
        reads.push(name === "get" ? 1 : (args[0] as unknown[]).length);
        return value.apply(target, args);
      };
    },
  });
  return { kv: counted, reads };
}

Deno.test("a policy-checked secret get reads the policies and the secret in one round trip", async () => {
  const { kv, reads } = await countedKv();
  const { ctx, store } = await testContext(new KvStore(kv));
  const handlers = nexusHandlers(ctx);
  const guard = contextGuard(ctx);
  const reader = parseSpiffeId("spiffe://spike.ist/workload/reader");
  try {
    await ctx.policies.put({
      name: "reader",
      spiffeIdPattern: "^spiffe://spike\\.ist/workload/reader$",
      pathPattern: "^app/",
      permissions: ["read"],
    });
    await ctx.secrets.put("app/db", new TextEncoder().encode(JSON.stringify({ user: "u" })));
    const get = async () => {
      const reply = await runRoute(handlers["secret.get"], guard, request("secret.get", reader));
      assert.ok("encoded" in reply);
      return JSON.parse(new TextDecoder().decode(reply.encoded));
    };
    assert.deepEqual(await get(), { data: { user: "u" } }); // the policy set is now known
    reads.length = 0;
    assert.deepEqual(await get(), { data: { user: "u" } });
    // The policy generation and the secret's record, together: one getMany of two keys.
    assert.deepEqual(reads, [2]);
    reads.length = 0;
    const meta = await runRoute(
      handlers["secret.metadata"],
      guard,
      request("secret.metadata", reader),
    );
    assert.equal(
      (meta as { json: { metadata: { currentVersion: number } } }).json.metadata.currentVersion,
      1,
    );
    assert.deepEqual(reads, [2]);
  } finally {
    await store.close();
  }
});

Deno.test("a refused caller's get reads nothing it is shown, and a bad path is not read early", async () => {
  const { kv, reads } = await countedKv();
  const { ctx, store } = await testContext(new KvStore(kv));
  const handlers = nexusHandlers(ctx);
  const guard = contextGuard(ctx);
  try {
    await ctx.secrets.put("app/db", new TextEncoder().encode(JSON.stringify({ user: "u" })));
    const acts: unknown[] = [];
    const route = handlers["secret.get"];
    const watched = {
      ...route,
      act: (...args: Parameters<typeof route.act>) => {
        acts.push(args);
        return route.act(...args);
      },
    };
    await assert.rejects(
      runRoute(watched, guard, request("secret.get", member)),
      (e: unknown) => e instanceof ApiError && e.status === 401,
    );
    assert.equal(acts.length, 0, "act ran for a refused caller");
    // A path act would refuse (400) is not read early, and the guard still answers first.
    reads.length = 0;
    const bad = request("secret.get", member);
    bad.json = () => Promise.resolve({ path: "" });
    await assert.rejects(
      runRoute(watched, guard, bad),
      (e: unknown) => e instanceof ApiError && e.status === 401,
    );
    assert.deepEqual(reads, [1], "only the guard's policy read");
  } finally {
    await store.close();
  }
});
