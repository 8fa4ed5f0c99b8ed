/**
 * Where a SPIKE program gets its SVID: the SPIFFE Workload API
 * (`SPIFFE_ENDPOINT_SOCKET`, as usual), or files that spiffe-helper or
 * cert-manager keep up to date, when `SPIKE_SVID_CERT_FILE`,
 * `SPIKE_SVID_KEY_FILE` and `SPIKE_SVID_BUNDLE_FILE` are set (all three).
 *
 * @module
 */

import { dirname } from "node:path";
import { ConfigError, envDuration, envString } from "../config/env.ts";
import { requireAccess } from "../config/permissions.ts";
import type { X509Source } from "../spiffe/source.ts";
import type { WorkloadApiError } from "../spiffe/workloadapi/client.ts";
import {
  ENDPOINT_SOCKET_ENV,
  endpointAddressFromEnv,
  parseEndpointAddress,
  type WorkloadEndpoint,
} from "../spiffe/endpoint.ts";

/** An identity source that can be closed, and says where it reads from. */
export interface IdentitySource extends X509Source {
  /** Where the SVID comes from, for messages. */
  readonly origin: string;
  close(): void;
}

const FILE_VARS = [
  "SPIKE_SVID_CERT_FILE",
  "SPIKE_SVID_KEY_FILE",
  "SPIKE_SVID_BUNDLE_FILE",
] as const;

/** The Workload API source's own default (`DEFAULT_SOURCE_TIMEOUT_MS` there), kept equal by a test. */
export const SOURCE_TIMEOUT_DEFAULT_MS = 30_000;

/** `SPIKE_SPIFFE_SOURCE_TIMEOUT` (Go duration): how long to wait for the first SVID; 30s. */
export function sourceTimeoutFromEnv(): number {
  return envDuration("SPIKE_SPIFFE_SOURCE_TIMEOUT", SOURCE_TIMEOUT_DEFAULT_MS, { min: 1 });
}

/** The three SVID files, or undefined when none is configured; a partial set is an error. */
export function svidFilesFromEnv():
  | { certFile: string; keyFile: string; bundleFile: string }
  | undefined {
  const [certFile, keyFile, bundleFile] = FILE_VARS.map((name) => envString(name, ""));
  const given = [certFile, keyFile, bundleFile].filter((v) => v !== "").length;
  if (given === 0) return undefined;
  if (given < 3) {
    throw new ConfigError(
      `set all of ${FILE_VARS.join(", ")} to read the SVID from files, or none`,
    );
  }
  return { certFile, keyFile, bundleFile };
}

/**
 * Parses a Workload API address named by `setting`; a malformed one is a
 * {@link ConfigError} naming the setting and what is wrong.
 */
export function parseEndpointSetting(setting: string, address: string): WorkloadEndpoint {
  try {
    return parseEndpointAddress(address);
  } catch (e) {
    throw new ConfigError(
      `${setting}=${JSON.stringify(address)} is invalid: ${(e as Error).message}`,
    );
  }
}

/**
 * Refuses a unix socket path that exists but is not a socket (a folder, a
 * file), at once: connecting would only retry until the source timeout. A
 * missing one is fine: the agent may not have started yet. Needs read
 * permission on the path (which the socket's grant includes).
 */
export function checkSocketPath(setting: string, path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return; // missing, or not ours to look at: the connection attempt says why
  }
  if (info.isSocket) return;
  const what = info.isDirectory ? "a folder" : info.isFile ? "a regular file" : "not a socket";
  throw new ConfigError(
    `${setting} points at ${path}, which is ${what}, not the Workload API's unix socket`,
  );
}

/**
 * Opens the configured identity source: SVID files when configured, else
 * the Workload API at `address` (default `SPIFFE_ENDPOINT_SOCKET`), waiting
 * `SPIKE_SPIFFE_SOURCE_TIMEOUT` for the first SVID. Checks
 * first that the files or the socket are inside the program's permissions.
 */
export async function openIdentitySource(
  options: {
    address?: string;
    /** The setting `address` came from, for messages (default `SPIFFE_ENDPOINT_SOCKET`). */
    setting?: string;
    onError?: (e: Error) => void;
  } = {},
): Promise<IdentitySource> {
  const files = svidFilesFromEnv();
  if (files) {
    // The file source watches the folders (writers replace files by renaming).
    for (const [name, path] of FILE_VARS.map((v, i) => [v, Object.values(files)[i]] as const)) {
      requireAccess(name, { kind: "read", path: dirname(path) });
    }
    // Loaded here, not at import: a program stops on a bad setting before paying for them.
    const { createFileX509Source } = await import("../spiffe/filesource.ts");
    const source = await createFileX509Source(files, { onError: options.onError });
    return Object.assign(source, { origin: `the files ${files.certFile}, ${files.keyFile}` });
  }
  const address = options.address ?? endpointAddressFromEnv();
  const setting = options.setting ?? ENDPOINT_SOCKET_ENV;
  const endpoint = parseEndpointSetting(setting, address);
  requireAccess(
    setting,
    endpoint.scheme === "unix"
      ? { kind: "unix-socket", path: endpoint.path }
      : { kind: "net", host: `${endpoint.host}:${endpoint.port}` },
  );
  if (endpoint.scheme === "unix") checkSocketPath(setting, endpoint.path);
  const timeoutMs = sourceTimeoutFromEnv();
  const { createX509Source } = await import("../spiffe/workloadapi/x509source.ts");
  const source = await createX509Source({
    address,
    timeoutMs,
    onError: options.onError as ((e: WorkloadApiError) => void) | undefined,
  });
  return Object.assign(source, { origin: `the Workload API at ${source.address}` });
}
