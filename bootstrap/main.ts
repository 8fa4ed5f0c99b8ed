/**
 * SPIKE Bootstrap: makes the root key once, splits it into Shamir shares,
 * gives share i to Keeper i, and waits until Nexus proves it holds the key.
 * Exits 0 only when Nexus has verified the key. It refuses, changing nothing,
 * when Nexus already holds a root key, unless `SPIKE_BOOTSTRAP_FORCE=true`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { BOOTSTRAP_VERIFY_AAD, Keyring } from "../lib/crypto/keyring.ts";
import { splitRootKey } from "../lib/crypto/shamir.ts";
import { ApiResponseError } from "../lib/client/errors.ts";
import { KeeperClient } from "../lib/client/keeper.ts";
import { NexusClient } from "../lib/client/nexus.ts";
import { hostOf, requireAccess } from "../lib/config/permissions.ts";
import { createLogger } from "../lib/log/log.ts";
import { errorMessage } from "../lib/std/errors.ts";
import { fatal, identityFor, runProgram } from "../lib/program/program.ts";
import { retry } from "../lib/std/retry.ts";
import { RoleSet } from "../lib/identity/roles.ts";
import { adaptMatcher } from "../lib/tls/authorize.ts";
import { createMtlsAgent } from "../lib/tls/client.ts";
import { loadBootstrapConfig } from "./config.ts";

const PROGRAM = "bootstrap";

/** Errors that another attempt cannot fix: our identity is refused. */
function isFinal(e: unknown): boolean {
  return e instanceof ApiResponseError && (e.status === 401 || e.status === 400);
}

await runProgram(PROGRAM, async () => {
  const log = createLogger(PROGRAM);
  const config = loadBootstrapConfig();
  const roles = RoleSet.fromEnv();
  if (config.timeoutMs > 0) {
    setTimeout(
      () => fatal(PROGRAM, `gave up after SPIKE_BOOTSTRAP_TIMEOUT (${config.timeoutMs}ms)`),
      config.timeoutMs,
    );
  }
  for (const url of config.nexusUrls) {
    requireAccess("SPIKE_NEXUS_API_URL", { kind: "net", host: hostOf(url) });
  }
  for (const keeper of config.keepers) {
    requireAccess("SPIKE_NEXUS_KEEPER_PEERS", { kind: "net", host: hostOf(keeper.url) });
  }
  const source = await identityFor("bootstrap", log);
  const nexusAgent = createMtlsAgent({
    source,
    authorizer: adaptMatcher((id) => roles.has(id, "nexus"), "a SPIKE Nexus ID"),
  });
  const keeperAgent = createMtlsAgent({
    source,
    authorizer: adaptMatcher((id) => roles.has(id, "keeper"), "a SPIKE Keeper ID"),
  });
  const nexus = new NexusClient({ url: config.nexusUrls, agent: nexusAgent, timeoutMs: 30_000 });
  const keepers = new KeeperClient(keeperAgent, config.keeperTimeoutMs);
  const started = Date.now();
  const verifyDeadline = () => config.verificationTimeoutMs - (Date.now() - started);

  // 1. Nexus must say whether it already has a root key before anything changes.
  const state = await retry(() => nexus.bootstrapState(), {
    initialMs: 500,
    maxMs: 60_000,
    deadlineMs: config.verificationTimeoutMs,
    retryable: (e) => !isFinal(e),
    onRetry: (e) =>
      log.warn("waiting for Nexus", { nexus: config.nexusUrl, error: errorMessage(e) }),
  }).catch((e) => {
    throw new Error(`could not ask Nexus at ${config.nexusUrl} for its state: ${errorMessage(e)}`);
  });
  if (state.initialized && state.ready === false && !config.force) {
    // Say what is true: the data is there, the key is not loaded (Nexus answers 503).
    throw new Error(
      `Nexus at ${config.nexusUrl} has data under a root key that it does not hold now (it ` +
        "answers 503 until it gets it back); nothing was changed. Bring the key back: start " +
        "the Keepers that hold its shares, or give Nexus its break-the-glass shares with " +
        "spike operator restore, once per share (the dev stack keeps them in " +
        ".spike/dev/recover). To abandon that data and make a new root key, set " +
        "SPIKE_BOOTSTRAP_FORCE=true",
    );
  }
  if (state.initialized && !config.force) {
    throw new Error(
      `Nexus at ${config.nexusUrl} already holds a root key and may hold data; nothing was ` +
        "changed. To make a new root key anyway (data under the old one becomes unreadable), " +
        "set SPIKE_BOOTSTRAP_FORCE=true",
    );
  }
  if (state.initialized) log.warn("SPIKE_BOOTSTRAP_FORCE=true: replacing an existing root key");

  // 2. A new root key, split; share i to Keeper i.
  const rootKey = crypto.getRandomValues(new Uint8Array(32));
  const shares = await splitRootKey(rootKey, config.shares, config.threshold);
  try {
    await Promise.all(
      config.keepers.map((keeper) =>
        retry(() => keepers.contribute(keeper.url, shares[keeper.index - 1]), {
          initialMs: config.keeperRetryInitialMs,
          maxMs: config.keeperRetryMaxMs,
          maxAttempts: config.keeperMaxRetries,
          retryable: (e) => !isFinal(e),
          onRetry: (e, attempt) =>
            log.warn("keeper not reachable; retrying", {
              keeper: keeper.url,
              attempt,
              error: errorMessage(e),
            }),
        }).catch((e) => {
          throw new Error(
            `Keeper ${keeper.url} did not take its share after ${config.keeperMaxRetries} ` +
              `attempts (${errorMessage(e)}); start the Keepers and run Bootstrap again`,
          );
        })
      ),
    );
  } finally {
    for (const share of shares) share.fill(0);
  }
  log.notice("shares delivered", { keepers: config.keepers.length });

  // 3. Nexus must decrypt a random challenge with the key it assembled from the Keepers.
  const keyring = new Keyring(rootKey);
  rootKey.fill(0);
  const challenge = new TextEncoder().encode(
    Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0"))
      .join(""),
  );
  const { nonce, ciphertext } = keyring.key("bootstrap-verify").encrypt(
    challenge,
    BOOTSTRAP_VERIFY_AAD,
  );
  keyring.destroy();
  const expected = createHash("sha256").update(challenge).digest("hex");
  const hash = await retry(() => nexus.bootstrapVerify(nonce, ciphertext), {
    initialMs: 500,
    maxMs: 60_000,
    deadlineMs: Math.max(verifyDeadline(), 1),
    retryable: (e) => !isFinal(e),
    onRetry: (e) => log.info("waiting for Nexus to verify", { error: errorMessage(e) }),
  }).catch((e) => {
    throw new Error(
      `Nexus did not verify the root key within SPIKE_BOOTSTRAP_INIT_VERIFICATION_TIMEOUT ` +
        `(${errorMessage(e)})`,
    );
  });
  if (hash !== expected) {
    throw new Error("Nexus answered the challenge with the wrong hash: it holds another root key");
  }
  nexusAgent.close();
  keeperAgent.close();
  source.close();
  console.error(`${PROGRAM}: done: Nexus at ${config.nexusUrl} verified the new root key`);
  Deno.exit(0);
});
