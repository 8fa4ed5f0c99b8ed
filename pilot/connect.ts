/**
 * How Pilot reaches Nexus: its SVID from the Workload API (checked for the
 * Pilot role the command needs, as upstream does), the client library, and
 * errors turned into one sentence and an exit code.
 *
 * @module
 */

import { nexusUrlsFromEnv } from "../lib/config/nexus_url.ts";
import { hostOf, requireAccess } from "../lib/config/permissions.ts";
import { ApiResponseError, TransportError } from "../lib/client/errors.ts";
import { errorMessage } from "../lib/std/errors.ts";
import { ValidationError } from "../lib/api/errors.ts";
import { describeValidation } from "./errors.ts";
import { connectNexus, httpClientSettingsFromEnv } from "../lib/client/connect.ts";
import type { NexusClient } from "../lib/client/nexus.ts";
import { type Role, RoleSet } from "../lib/identity/roles.ts";
import { ENDPOINT_SOCKET_ENV, endpointAddressFromEnv } from "../lib/spiffe/endpoint.ts";
import type { SpiffeId } from "../lib/spiffe/id.ts";
import {
  checkSocketPath,
  type IdentitySource,
  openIdentitySource,
  parseEndpointSetting,
  svidFilesFromEnv,
} from "../lib/identity/source.ts";
import { ConfigError } from "../lib/config/env.ts";
import { CliError } from "./cli.ts";
import { Exit, exitForCode } from "./exit.ts";
import { pathExists } from "../lib/std/fs.ts";
import { missingAgentHint, unreachableHint } from "./hints.ts";

const ROLE_WORDS: Partial<Record<Role, string>> = {
  "pilot-superuser": "pilot",
  "pilot-recover": "recover",
  "pilot-restore": "restore",
};

/**
 * The Workload API address: `SPIFFE_ENDPOINT_SOCKET`, else
 * `SPIKE_PILOT_DEFAULT_SOCKET` (the `spike` task sets it to the dev agent's
 * superuser socket), else SPIRE's default.
 */
export function pilotEndpointAddress(): string {
  const configured = Deno.env.get(ENDPOINT_SOCKET_ENV);
  if (configured) return configured;
  return Deno.env.get("SPIKE_PILOT_DEFAULT_SOCKET") || endpointAddressFromEnv();
}

/** What a missing thing is called in "not found" messages, per command. */
export interface Subject {
  notFound?: string;
}

/** Turns an error into the sentence and exit code a user should see. */
export function explain(
  e: unknown,
  nexusUrl: string,
  id?: SpiffeId,
  subject: Subject = {},
): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof ValidationError) return new CliError(describeValidation(e), Exit.usage);
  if (e instanceof ApiResponseError) {
    const code = exitForCode(e.code);
    switch (e.code) {
      case "access_unauthorized":
        return new CliError(`Nexus refused ${id ?? "this identity"} for this operation`, code);
      case "state_not_ready":
        return new CliError(
          "SPIKE Nexus is not ready yet: it does not have its root key; try again shortly " +
            "(if it never comes back, see spike operator restore)",
          code,
        );
      case "api_rate_limited":
        return new CliError(
          `Nexus is limiting the requests of ${id ?? "this identity"}; try again in a few seconds`,
          code,
        );
      case "api_not_found":
        return new CliError(subject.notFound ?? "not found", code);
      case "api_bad_request":
        return new CliError("Nexus refused the request as invalid", code);
      default:
        return new CliError(`Nexus failed to answer (HTTP ${e.status}); see its logs`, code);
    }
  }
  const text = errorMessage(e);
  if (e instanceof TransportError) {
    switch (e.kind) {
      case "unauthorized":
        return new CliError(
          `the server at ${nexusUrl} is not a SPIKE Nexus (${text}); check SPIKE_NEXUS_API_URL`,
          Exit.unavailable,
        );
      case "refused":
      case "reset":
      case "unreachable":
      case "timeout":
        return new CliError(unreachableHint(nexusUrl, text), Exit.unavailable);
    }
  }
  return new CliError(text, Exit.failure);
}

/**
 * Connects as `role` (`"any"`: whatever identity Pilot has; Nexus decides),
 * runs `fn` with a Nexus client, and closes everything. Every failure comes
 * out as a {@link CliError}.
 */
export async function withNexus<T>(
  role: Role | "any",
  fn: (nexus: NexusClient, id: SpiffeId) => Promise<T>,
  subject: Subject = {},
): Promise<T> {
  let roles: RoleSet;
  let nexusUrls: string[];
  let settings;
  let files;
  try {
    roles = RoleSet.fromEnv();
    nexusUrls = nexusUrlsFromEnv();
    settings = httpClientSettingsFromEnv();
    files = svidFilesFromEnv();
    for (const url of nexusUrls) {
      requireAccess("SPIKE_NEXUS_API_URL", { kind: "net", host: hostOf(url) });
    }
  } catch (e) {
    throw new CliError(errorMessage(e), Exit.config);
  }
  const address = pilotEndpointAddress();
  if (!files) {
    let endpoint;
    try {
      endpoint = parseEndpointSetting("SPIFFE_ENDPOINT_SOCKET", address);
    } catch (e) {
      throw new CliError(errorMessage(e), Exit.config);
    }
    if (endpoint.scheme === "unix") {
      try {
        requireAccess("SPIFFE_ENDPOINT_SOCKET", { kind: "unix-socket", path: endpoint.path });
        checkSocketPath("SPIFFE_ENDPOINT_SOCKET", endpoint.path);
      } catch (e) {
        throw new CliError(errorMessage(e), Exit.config);
      }
      if (!(await pathExists(endpoint.path))) {
        // A person is waiting: say so at once instead of retrying for the source timeout.
        throw new CliError(missingAgentHint(endpoint.path), Exit.unauthorized);
      }
    }
  }
  let source: IdentitySource;
  try {
    source = await openIdentitySource({ address });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, Exit.config);
    throw new CliError(`no identity: ${errorMessage(e)}`, Exit.unauthorized);
  }
  const id = source.getX509Svid().id;
  if (role !== "any" && !roles.has(id, role)) {
    source.close();
    const word = ROLE_WORDS[role] ?? role;
    throw new CliError(
      `you need a '${word}' SPIFFE ID to use this command (this identity is ${id}); ` +
        "point SPIFFE_ENDPOINT_SOCKET at a Workload API that gives Pilot that role",
      Exit.unauthorized,
    );
  }
  const nexus = await connectNexus({ url: nexusUrls, source, settings });
  try {
    return await fn(nexus, id);
  } catch (e) {
    throw explain(e, nexusUrls.join(", "), id, subject);
  } finally {
    nexus.close();
    source.close();
  }
}
