/**
 * Clients in the test process, with one of the stack's identities.
 *
 * @module
 */

import { ApiResponseError } from "../../lib/client/errors.ts";
import { KeeperClient } from "../../lib/client/keeper.ts";
import { within } from "../../lib/std/async.ts";
import { NexusClient } from "../../lib/client/nexus.ts";
import { RoleSet } from "../../lib/identity/roles.ts";
import { createX509Source } from "../../lib/spiffe/workloadapi/x509source.ts";
import { adaptMatcher } from "../../lib/tls/authorize.ts";
import { createMtlsAgent, type MtlsAgent } from "../../lib/tls/client.ts";
import type { Identity, Stack } from "./harness.ts";

/** An mTLS agent with `identity`, accepting servers with `serverRole`. */
export async function agentAs(
  stack: Stack,
  identity: Identity,
  serverRole: "nexus" | "keeper",
): Promise<{ agent: MtlsAgent; close(): void }> {
  const source = await createX509Source({
    address: stack.agent.address(identity),
    timeoutMs: 10_000,
  });
  const roles = RoleSet.fromEnv();
  const agent = createMtlsAgent({
    source,
    authorizer: adaptMatcher((id) => roles.has(id, serverRole), serverRole),
  });
  return {
    agent,
    close() {
      agent.close();
      source.close();
    },
  };
}

/** A Nexus client with `identity`. */
export async function nexusAs(
  stack: Stack,
  identity: Identity,
): Promise<{ nexus: NexusClient; close(): void }> {
  const { agent, close } = await agentAs(stack, identity, "nexus");
  return { nexus: new NexusClient({ url: stack.nexusUrl, agent, timeoutMs: 10_000 }), close };
}

/** A Keeper client with `identity`. */
export async function keeperAs(
  stack: Stack,
  identity: Identity,
): Promise<{ keepers: KeeperClient; close(): void }> {
  const { agent, close } = await agentAs(stack, identity, "keeper");
  return { keepers: new KeeperClient(agent, 5_000), close };
}

/**
 * Calls `call` until Nexus stops answering 503 (not ready yet) and returns its result;
 * any other failure, or `ms` passing, is thrown.
 */
export function untilServed<T>(
  call: () => Promise<T>,
  ms = 30_000,
  what = "Nexus serving",
): Promise<T> {
  return within(
    (async () => {
      for (;;) {
        try {
          return await call();
        } catch (e) {
          if (!(e instanceof ApiResponseError && e.status === 503)) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })(),
    ms,
    what,
  );
}
