/**
 * The routes that read no record (status, cipher) on a replica that took no part in another
 * replica's rotation: status names the generation the store is at, encrypt seals under it, and
 * decrypt opens what the other replica made under it, with no write or Keeper update between;
 * a replica left with only a retired key says it is not ready rather than serving it.
 */

import assert from "node:assert/strict";
import type { DecryptResponse, EncryptResponse } from "../../lib/api/cipher.ts";
import { ApiError } from "../../lib/api/errors.ts";
import { fromBase64, toBase64 } from "../../lib/api/json.ts";
import { NEXUS_ROUTES, type NexusRouteName } from "../../lib/api/routes.ts";
import type { StatusResponse } from "../../lib/api/status.ts";
import { splitRootKey } from "../../lib/crypto/shamir.ts";
import { type Reply, type RouteRequest, runRoute } from "../../lib/http/dispatch.ts";
import { RoleSet } from "../../lib/identity/roles.ts";
import { createLogger } from "../../lib/log/log.ts";
import { parseSpiffeId } from "../../lib/spiffe/id.ts";
import { TEST_CONFIG } from "../_test_config.ts";
import type { NexusContext } from "../context.ts";
import { fakeKeepers, json, nexus, sharesByIndex, untilReady } from "../state/_test_replicas.ts";
import { RotationWaiting } from "../state/rotation.ts";
import { RestoreCollector } from "../state/restore.ts";
import { openMemoryStore } from "../store/kv.ts";
import { cipherHandlers } from "./cipher.ts";
import { statusHandlers } from "./status.ts";

const superuser = parseSpiffeId("spiffe://spike.ist/spike/pilot/role/superuser");

function request(name: NexusRouteName, body: unknown): RouteRequest<NexusRouteName> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return {
    route: NEXUS_ROUTES.find((r) => r.name === name)!,
    peer: superuser,
    headers: {},
    body: () => Promise.resolve(bytes),
    json: () => Promise.resolve(JSON.parse(new TextDecoder().decode(bytes))),
    note: () => {},
  };
}

const allow = () => Promise.resolve();
const body = <T>(reply: Reply) => (reply as { json: T }).json;

Deno.test("status and cipher on a replica learn another replica's rotation when asked", async () => {
  const store = await openMemoryStore();
  const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
  const keepers = fakeKeepers(shares);
  const a = nexus(store, keepers.client);
  const b = nexus(store, keepers.client);
  try {
    const pick = (from: number) => sharesByIndex(shares.slice(from, from + 2));
    await a.state.adopt(pick(0), "restore");
    await b.state.adopt(pick(1), "keepers");
    await a.secrets.put("app/x", json({ v: "1" }));
    const ctx: NexusContext = {
      config: TEST_CONFIG,
      state: b.state,
      roles: RoleSet.fromEnv(),
      store,
      keepers: undefined,
      log: createLogger("test", "ERROR", () => {}),
      secrets: b.secrets,
      policies: b.policies,
      restore: new RestoreCollector(b.state),
    };
    const status = statusHandlers(ctx)["status.get"];
    const cipher = cipherHandlers(ctx);
    const statusAtB = async () =>
      body<StatusResponse>(await runRoute(status, allow, request("status.get", {})));
    const encryptAtB = async (text: string) =>
      body<EncryptResponse>(
        await runRoute(
          cipher["cipher.encrypt"],
          allow,
          request("cipher.encrypt", { plaintext: btoa(text) }),
        ),
      );
    const decryptAtB = async (sealed: EncryptResponse) =>
      atob(
        body<DecryptResponse>(
          await runRoute(cipher["cipher.decrypt"], allow, request("cipher.decrypt", sealed)),
        ).plaintext,
      );
    /** Opens a cipher-route ciphertext with A's key of the generation A is at. */
    const openAtA = (sealed: EncryptResponse) =>
      new TextDecoder().decode(
        a.state.key("cipher").decrypt(
          fromBase64(sealed.nonce),
          fromBase64(sealed.ciphertext),
          "spike/cipher/v1",
        ),
      );
    const encryptAtA = (text: string): EncryptResponse => {
      const { nonce, ciphertext } = a.state.key("cipher").encrypt(
        new TextEncoder().encode(text),
        "spike/cipher/v1",
      );
      return { version: 1, nonce: toBase64(nonce), ciphertext: toBase64(ciphertext) };
    };
    assert.equal((await statusAtB()).keyGeneration, 1);
    const before = await encryptAtB("made under 1");

    // A's rotation waits for a Keeper in the handover; B, asked its status, learns generation 2's
    // key (wrapped under 1) but still names 1, the one records are sealed under.
    keepers.down.add(3);
    await assert.rejects(a.rotation.begin(), RotationWaiting);
    assert.equal((await statusAtB()).keyGeneration, 1);
    keepers.down.delete(3);
    assert.equal((await a.rotation.resume()).to, 2);
    // Asked nothing since: status names 2 at once, and encrypt seals under 2.
    assert.equal(b.state.generation, 1, "B learned the rotation before it was asked");
    assert.deepEqual([(await statusAtB()).ready, (await statusAtB()).keyGeneration], [true, 2]);
    assert.equal(openAtA(await encryptAtB("B under 2")), "B under 2");
    assert.equal(await decryptAtB(before), "made under 1");

    // A rotates again while B is asked nothing: B holds only the retired generation 2. It never
    // answers "ready" with it, and a ciphertext of generation 3 is a 503 (not "decryption
    // failed") until B has the new key from the Keepers; then it opens.
    assert.equal((await a.rotation.begin()).to, 3);
    const at3 = encryptAtA("made under 3");
    const stale = await statusAtB();
    assert.deepEqual([stale.ready, stale.keyGeneration], [false, 0]);
    await untilReady(b);
    assert.equal((await statusAtB()).keyGeneration, 3);
    assert.equal(await decryptAtB(at3), "made under 3");
    assert.equal(await decryptAtB(before), "made under 1");
    assert.equal(openAtA(await encryptAtB("B under 3")), "B under 3");
  } finally {
    for (const n of [a, b]) {
      n.keepers.stop();
      n.rotation.stop();
    }
    await store.close();
  }
});

Deno.test("decrypt at a replica holding only a retired key answers 503, not a failure", async () => {
  const store = await openMemoryStore();
  const shares = await splitRootKey(crypto.getRandomValues(new Uint8Array(32)), 3, 2);
  const keepers = fakeKeepers(shares);
  const a = nexus(store, keepers.client);
  const b = nexus(store, keepers.client);
  try {
    const pick = (from: number) => sharesByIndex(shares.slice(from, from + 2));
    await a.state.adopt(pick(0), "restore");
    await b.state.adopt(pick(1), "keepers");
    b.keepers.stop(); // no recovery from the Keepers: B stays without a key
    await a.rotation.begin();
    const { nonce, ciphertext } = a.state.key("cipher").encrypt(
      new TextEncoder().encode("new"),
      "spike/cipher/v1",
    );
    const ctx = { state: b.state, config: TEST_CONFIG } as unknown as NexusContext;
    const decrypt = cipherHandlers(ctx)["cipher.decrypt"];
    await assert.rejects(
      runRoute(
        decrypt,
        allow,
        request("cipher.decrypt", {
          version: 1,
          nonce: toBase64(nonce),
          ciphertext: toBase64(ciphertext),
        }),
      ),
      (e: unknown) => e instanceof ApiError && e.status === 503,
    );
  } finally {
    for (const n of [a, b]) {
      n.keepers.stop();
      n.rotation.stop();
    }
    await store.close();
  }
});
