/**
 * Load for end-to-end tests that change the key under writers (rotation,
 * replicas): paced writers to paths of their own, and the key generation a
 * Nexus reports once it is ready.
 */

import type { StatusResponse } from "../../lib/api/status.ts";
import { ApiResponseError } from "../../lib/client/errors.ts";
import type { NexusClient } from "../../lib/client/nexus.ts";
import { untilServed } from "./clients.ts";

/** How the writers of {@link startWriters} go. */
export interface WriterOptions {
  /** First path element and value prefix. */
  tag: string;
  /** Pause after each acknowledged write (the point is writes in every phase, not volume). */
  pauseMs: number;
  /** Pause after a refused write (Nexus down or not ready). */
  retryMs: number;
}

/** `perClient` writers through each client, each to paths of its own; only acknowledged writes count. */
export function startWriters(clients: NexusClient[], perClient: number, options: WriterOptions) {
  const { tag, pauseMs, retryMs } = options;
  const acked = new Map<string, string>();
  let failed = 0;
  let stop = false;
  const runs = clients.flatMap((nexus, c) =>
    Array.from({ length: perClient }, async (_, w) => {
      for (let n = 0; !stop; n++) {
        const path = `${tag}/r${c}w${w}/${n}`;
        const value = `${tag}-${c}-${w}-${n}-${crypto.randomUUID()}`;
        try {
          await nexus.putSecret(path, { v: value });
          acked.set(path, value);
          await new Promise((r) => setTimeout(r, pauseMs));
        } catch {
          failed++;
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    })
  );
  return {
    acked,
    failed: () => failed,
    async stop() {
      stop = true;
      await Promise.all(runs);
    },
  };
}

/** Nexus's first ready status (it may answer 503 a while first). */
export async function readyStatus(nexus: NexusClient, ms = 30_000): Promise<StatusResponse> {
  return await untilServed(() =>
    nexus.status().then((s) => {
      if (!s.ready) throw new ApiResponseError(503, "status");
      return s;
    }), ms);
}

/** The generation Nexus reports in its first ready status. */
export async function readyGeneration(nexus: NexusClient, ms = 30_000): Promise<number> {
  return (await readyStatus(nexus, ms)).keyGeneration;
}
