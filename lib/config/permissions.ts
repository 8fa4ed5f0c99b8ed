/**
 * Checks, at start, that a configured path or socket lies inside what the
 * program was granted, so a misconfiguration is one clear sentence naming the
 * setting and the flag to add, not a `NotCapable` stack trace later.
 *
 * @module
 */

import { resolve } from "node:path";
import { ConfigError } from "./env.ts";

/** Something a program needs to be allowed. */
export type Need =
  | { kind: "read" | "write"; path: string }
  | { kind: "unix-socket"; path: string }
  | { kind: "net"; host: string };

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** The `host:port` a URL connects to (default port 443 for https). */
export function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

/**
 * Throws {@link ConfigError} unless every need is granted.
 * @param setting how the user configured it, e.g. `SPIKE_NEXUS_DATA_DIR` or `--data-dir`.
 */
export function requireAccess(setting: string, ...needs: Need[]): void {
  for (const need of needs) {
    if (need.kind === "net") {
      if (granted({ name: "net", host: need.host })) continue;
      throw new ConfigError(
        `${setting} needs ${need.host}, which this program is not allowed to reach; ` +
          `run it with --allow-net=${need.host}`,
      );
    }
    const path = resolve(need.path);
    // A unix socket needs net access to its exact path, and read and write on the file.
    const descriptors: Deno.PermissionDescriptor[] = need.kind === "unix-socket"
      ? [
        { name: "net", host: `unix:${path}` } as unknown as Deno.PermissionDescriptor,
        { name: "read", path },
        { name: "write", path },
      ]
      : [{ name: need.kind, path }];
    const state = descriptors.every((d) => {
        try {
          return Deno.permissions.querySync(d).state === "granted";
        } catch {
          return false;
        }
      })
      ? "granted"
      : "denied";
    if (state === "granted") continue;
    const flag = need.kind === "unix-socket"
      ? `--allow-net=unix:${path} --allow-read=${path} --allow-write=${path}`
      : `--allow-${need.kind}=${path}`;
    throw new ConfigError(
      `${setting} points at ${path}, which this program is not allowed to ${
        need.kind === "unix-socket" ? "connect to" : need.kind
      }; run it with ${flag}`,
    );
  }
}
