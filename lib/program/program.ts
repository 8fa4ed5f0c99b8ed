/**
 * What every SPIKE program does at start: get its SVID from the Workload API
 * and check that it is its own role, read its listen address, and stop
 * cleanly on SIGINT/SIGTERM. Failures are one sentence on stderr and exit 1.
 *
 * @module
 */

import { ConfigError } from "../config/env.ts";
import { requireAccess } from "../config/permissions.ts";
import type { ListenAddress } from "../config/listen.ts";
import { hasRole, type Role } from "../identity/roles.ts";
import { type IdentitySource, openIdentitySource } from "../identity/source.ts";
import type { Logger } from "../log/log.ts";
import { errorMessage } from "../std/errors.ts";

/** Prints `<program>: <message>` and exits with code 1. */
export function fatal(program: string, message: string): never {
  console.error(`${program}: ${message}`);
  Deno.exit(1);
}

/** Runs `main`, turning configuration and startup failures into one clear line. */
export async function runProgram(program: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    fatal(program, errorMessage(e));
  }
}

export { type ListenAddress, parseListenAddress } from "../config/listen.ts";

/** How often a Workload API outage that goes on is told again. */
const REMIND_MS = 10 * 60_000;

/**
 * Connects to the Workload API and checks that this program's SVID has
 * `role`; otherwise stops with a message naming the ID it got.
 */
export async function identityFor(role: Role, log: Logger): Promise<IdentitySource> {
  // An outage of the Workload API is told once (and again every REMIND_MS while it lasts),
  // not at every retry; its end is told too. Meanwhile the SVID held keeps serving.
  const opened: { source?: IdentitySource } = {};
  let outage: { failures: number; toldAt: number } | undefined;
  const onError = (e: Error) => {
    if (outage) {
      outage.failures++;
      if (Date.now() - outage.toldAt < REMIND_MS) return;
    }
    outage = { failures: outage?.failures ?? 1, toldAt: Date.now() };
    const held = opened.source?.getX509Svid();
    log.warn("identity source unavailable; retrying with backoff", {
      error: e.message,
      failures: outage.failures,
      ...(held ? { servingWithSvidValidUntil: held.notAfter.toISOString() } : {}),
    });
  };
  const source = await openIdentitySource({ onError });
  opened.source = source;
  outage = undefined; // waiting for the first SVID is the start's business, and it is over
  source.onUpdate(() => {
    if (!outage) return;
    log.notice("identity source back", { failures: outage.failures });
    outage = undefined;
  });
  const id = source.getX509Svid().id;
  if (!hasRole(id, role)) {
    source.close();
    throw new ConfigError(
      `this program needs a ${role} SPIFFE ID, but ${source.origin} gave ${id}; point ` +
        `SPIFFE_ENDPOINT_SOCKET (or SPIKE_SVID_*_FILE) at the ${role}'s identity`,
    );
  }
  log.info("identity", { spiffeId: id.toString() });
  return source;
}

/** Checks that the program may listen on `address` (named by `setting`). */
export function requireListen(setting: string, address: ListenAddress): void {
  requireAccess(setting, { kind: "net", host: `${address.hostname}:${address.port}` });
}

/** Calls `stop` once on SIGINT or SIGTERM, then exits 0. */
export function onShutdown(stop: () => Promise<void> | void): void {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await stop();
    } finally {
      Deno.exit(0);
    }
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
}
