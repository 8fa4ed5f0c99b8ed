/**
 * What the dev agent hands out: one unix socket per registered identity. A
 * registration names a socket and the SPIFFE ID served on it; a socket with
 * no ID answers PERMISSION_DENIED, like SPIRE for an unregistered workload.
 *
 * The file form is JSON:
 *
 * ```json
 * {
 *   "trustDomain": "spike.ist",
 *   "identities": [
 *     { "socket": "nexus", "spiffeId": "spiffe://spike.ist/spike/nexus" },
 *     { "socket": "stranger" }
 *   ],
 *   "federatedBundles": { "other.org": "/path/to/other-bundle.pem" }
 * }
 * ```
 *
 * @module
 */

import {
  parseSpiffeId,
  parseTrustDomain,
  type SpiffeId,
  type TrustDomain,
} from "../../lib/spiffe/id.ts";
import { DEV_IDENTITIES } from "../../lib/config/programs.ts";

/** One socket and the identity it serves (none: PERMISSION_DENIED). */
export interface Registration {
  /** Socket file name without `.sock`: `[a-zA-Z0-9._-]+`. */
  readonly socket: string;
  readonly spiffeId?: SpiffeId;
}

/** Everything the agent serves. */
export interface AgentRegistrations {
  readonly trustDomain: TrustDomain;
  readonly identities: readonly Registration[];
  /** Federated trust domain name to bundle PEM file. */
  readonly federatedBundles: Readonly<Record<string, string>>;
}

/** The SPIKE identities a local stack needs: socket name and SPIFFE ID path. */
export const SPIKE_IDENTITIES = DEV_IDENTITIES;

/** The socket names the agent serves by default (tasks grant exactly these). */
export const DEFAULT_SOCKETS: readonly string[] = SPIKE_IDENTITIES.map((i) => i.socket);

/** The SPIKE identities a local stack needs, by socket name. */
export function defaultRegistrations(td: TrustDomain): Registration[] {
  return SPIKE_IDENTITIES.map(({ socket, path }) => ({
    socket,
    spiffeId: parseSpiffeId(`spiffe://${td.name}${path}`),
  }));
}

const SOCKET_NAME = /^[a-zA-Z0-9._-]+$/;

/** Thrown for a registration that cannot be served. */
export class RegistrationError extends Error {
  override name = "RegistrationError";
}

/**
 * Checks a list of registrations: socket names are plain file names and
 * unique, and every ID belongs to the agent's trust domain.
 */
export function validateRegistrations(td: TrustDomain, identities: readonly Registration[]): void {
  const seen = new Set<string>();
  for (const { socket, spiffeId } of identities) {
    if (!SOCKET_NAME.test(socket) || socket === "." || socket === "..") {
      throw new RegistrationError(
        `socket name "${socket}" may contain only letters, digits, ".", "-" and "_"`,
      );
    }
    if (seen.has(socket)) throw new RegistrationError(`socket "${socket}" is registered twice`);
    seen.add(socket);
    if (spiffeId && !spiffeId.memberOf(td)) {
      throw new RegistrationError(
        `${spiffeId} is not in the agent's trust domain ${td.name}; the agent signs only its own`,
      );
    }
    if (spiffeId?.isTrustDomainId()) {
      throw new RegistrationError(`${spiffeId} has no path; a workload SVID needs one`);
    }
  }
}

/** Parses the JSON registration file's text. */
export function parseRegistrationFile(text: string, fileName: string): AgentRegistrations {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RegistrationError(`${fileName} is not valid JSON: ${(e as Error).message}`);
  }
  const bad = (why: string) => new RegistrationError(`${fileName}: ${why}`);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw bad("the top level must be an object");
  }
  const { trustDomain, identities, federatedBundles } = doc as Record<string, unknown>;
  if (typeof trustDomain !== "string") throw bad('"trustDomain" must be a string');
  const td = parseTrustDomain(trustDomain);
  if (!Array.isArray(identities)) throw bad('"identities" must be an array');
  const parsed: Registration[] = identities.map((entry, i) => {
    if (typeof entry !== "object" || entry === null) {
      throw bad(`identities[${i}] must be an object`);
    }
    const { socket, spiffeId } = entry as Record<string, unknown>;
    if (typeof socket !== "string") throw bad(`identities[${i}].socket must be a string`);
    if (spiffeId !== undefined && typeof spiffeId !== "string") {
      throw bad(`identities[${i}].spiffeId must be a string`);
    }
    return { socket, spiffeId: spiffeId === undefined ? undefined : parseSpiffeId(spiffeId) };
  });
  const federated: Record<string, string> = {};
  if (federatedBundles !== undefined) {
    if (typeof federatedBundles !== "object" || federatedBundles === null) {
      throw bad('"federatedBundles" must be an object of trust domain to PEM file');
    }
    for (const [name, file] of Object.entries(federatedBundles)) {
      if (typeof file !== "string") throw bad(`federatedBundles["${name}"] must be a file path`);
      const other = parseTrustDomain(name);
      if (other.equals(td)) {
        throw bad(`federatedBundles must not name the agent's own trust domain`);
      }
      federated[other.name] = file;
    }
  }
  try {
    validateRegistrations(td, parsed);
  } catch (e) {
    throw bad((e as Error).message);
  }
  return { trustDomain: td, identities: parsed, federatedBundles: federated };
}
