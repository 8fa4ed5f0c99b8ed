/**
 * Fault drill: one workload floods Nexus. With per-identity rate limits set,
 * its requests over the rate answer 429 `api_rate_limited` with `Retry-After`
 * (seen by curl, an outside client), before their bodies are read; another
 * workload and the superuser keep being served.
 */

import assert from "node:assert/strict";
import { nexusAs } from "./support/clients.ts";
import { curlAs } from "./support/curl.ts";
import { Stack } from "./support/stack.ts";

const READS = 5;

Deno.test("rate limits: a flooding workload gets 429 with Retry-After, others are served", async () => {
  const stack = await Stack.start({
    nexusEnv: { SPIKE_NEXUS_RATE_LIMIT_READS: String(READS), SPIKE_NEXUS_RATE_LIMIT_WRITES: "2" },
  });
  const admin = await nexusAs(stack, "pilot");
  const b = await nexusAs(stack, "workload-b");
  try {
    await admin.nexus.putSecret("tenants/a/db", { user: "a" });
    for (const [name, id] of [["a", "workload/a"], ["b", "workload/b"]]) {
      await admin.nexus.putPolicy({
        name: `read-${name}`,
        spiffeidPattern: `^spiffe://spike\\.ist/${id}$`,
        pathPattern: "^tenants/",
        permissions: ["read"],
      });
    }
    // 30 reads at once by workload a, through curl: its burst is served, the rest get 429.
    const curl = (data: string) =>
      curlAs(stack, "workload-a", "/v1/store/secrets?action=get", { data, headers: true });
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => curl('{"path":"tenants/a/db"}')),
    );
    const limited = answers.filter((a) => /^HTTP\/1\.1 429/.test(a.headers));
    const served = answers.filter((a) => /^HTTP\/1\.1 200/.test(a.headers));
    assert.ok(served.length >= READS && served.length < 30, `${served.length} served`);
    assert.equal(limited.length + served.length, 30);
    assert.match(limited[0].headers, /\r\nretry-after: \d+\r\n/i);
    assert.match(limited[0].body, /\{"data":null,"err":"api_rate_limited"\}$/);
    // Refused before the body is read: in a flood of invalid bodies, those over the rate get
    // 429, not the 400 that parsing them would give.
    const invalid = await Promise.all(Array.from({ length: 30 }, () => curl("{not json")));
    assert.ok(
      invalid.some((a) => /^HTTP\/1\.1 429/.test(a.headers)),
      "no 429 among invalid bodies",
    );
    // Another workload and the superuser are not limited by a's flood.
    assert.deepEqual(await b.nexus.getSecret("tenants/a/db"), { user: "a" });
    for (let i = 0; i < 20; i++) await admin.nexus.getSecret("tenants/a/db");
    console.log(
      `drill ratelimit: 30 reads at once at ${READS}/s: ${served.length} served, ` +
        `${limited.length} answered 429 with Retry-After; others unaffected`,
    );
  } finally {
    admin.close();
    b.close();
    await stack.stop();
  }
});
