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
import { createFileX509Source } from "../spiffe/filesource.ts";
import type { X509Source } from "../spiffe/source.ts";
import type { WorkloadApiError } from "../spiffe/workloadapi/client.ts";
import { createX509Source, DEFAULT_SOURCE_TIMEOUT_MS } from "../spiffe/workloadapi/x509source.ts";
import { endpointAddressFromEnv, parseEndpointAddress } from "../spiffe/endpoint.ts";

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

/** `SPIKE_SPIFFE_SOURCE_TIMEOUT` (Go duration): how long to wait for the first SVID; 30s. */
export function sourceTimeoutFromEnv(): number {
  return envDuration("SPIKE_SPIFFE_SOURCE_TIMEOUT", DEFAULT_SOURCE_TIMEOUT_MS, { min: 1 });
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
 * Opens the configured identity source: SVID files when configured, else
 * the Workload API at `address` (default `SPIFFE_ENDPOINT_SOCKET`), waiting
 * `SPIKE_SPIFFE_SOURCE_TIMEOUT` for the first SVID. Checks
 * first that the files or the socket are inside the program's permissions.
 */
export async function openIdentitySource(
  options: { address?: string; onError?: (e: Error) => void } = {},
): Promise<IdentitySource> {
  const files = svidFilesFromEnv();
  if (files) {
    // The file source watches the folders (writers replace files by renaming).
    for (const [name, path] of FILE_VARS.map((v, i) => [v, Object.values(files)[i]] as const)) {
      requireAccess(name, { kind: "read", path: dirname(path) });
    }
    const source = await createFileX509Source(files, { onError: options.onError });
    return Object.assign(source, { origin: `the files ${files.certFile}, ${files.keyFile}` });
  }
  const address = options.address ?? endpointAddressFromEnv();
  const endpoint = parseEndpointAddress(address);
  requireAccess(
    "SPIFFE_ENDPOINT_SOCKET",
    endpoint.scheme === "unix"
      ? { kind: "unix-socket", path: endpoint.path }
      : { kind: "net", host: `${endpoint.host}:${endpoint.port}` },
  );
  const source = await createX509Source({
    address,
    timeoutMs: sourceTimeoutFromEnv(),
    onError: options.onError as ((e: WorkloadApiError) => void) | undefined,
  });
  return Object.assign(source, { origin: `the Workload API at ${source.address}` });
}
