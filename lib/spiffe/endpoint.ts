/**
 * The Workload API endpoint address, as the SPIFFE Workload Endpoint spec
 * defines it: `unix:///absolute/path` (or `unix:/absolute/path`) or
 * `tcp://<ip>:<port>`, found in `SPIFFE_ENDPOINT_SOCKET` unless given.
 * Error messages follow go-spiffe's `TargetFromAddress` table.
 *
 * @module
 */

import { ipVersion } from "../std/ip.ts";

/** The variable the spec names for the endpoint address. */
export const ENDPOINT_SOCKET_ENV = "SPIFFE_ENDPOINT_SOCKET";
/** SPIRE's (and SPIKE's) default agent socket. */
export const DEFAULT_ENDPOINT_SOCKET = "unix:///tmp/spire-agent/public/api.sock";

/** A parsed endpoint address. */
export type WorkloadEndpoint =
  | { readonly scheme: "unix"; readonly path: string; readonly address: string }
  | {
    readonly scheme: "tcp";
    readonly host: string;
    readonly port: number;
    readonly address: string;
  };

/** Thrown for an address that the spec does not allow. */
export class EndpointAddressError extends Error {
  override name = "EndpointAddressError";
}

const PREFIX = "workload endpoint";

/** Parses an endpoint address; throws {@link EndpointAddressError} saying what is wrong. */
export function parseEndpointAddress(address: string): WorkloadEndpoint {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(address)) {
    throw new EndpointAddressError(`${PREFIX} socket URI contains a control character`);
  }
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(address);
  const scheme = schemeMatch?.[1];
  if (scheme !== "unix" && scheme !== "tcp") {
    throw new EndpointAddressError(
      `${PREFIX} socket URI must have a "tcp" or "unix" scheme (got ${JSON.stringify(address)})`,
    );
  }
  const what = `${PREFIX} ${scheme} socket URI`;
  const rest = address.slice(scheme.length + 1);
  if (!rest.startsWith("/")) throw new EndpointAddressError(`${what} must not be opaque`);
  if (rest.includes("?")) throw new EndpointAddressError(`${what} must not include query values`);
  if (rest.includes("#")) throw new EndpointAddressError(`${what} must not include a fragment`);

  let authority = "";
  let path = rest;
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    path = slash === -1 ? "" : rest.slice(slash);
  }
  if (authority.includes("@")) throw new EndpointAddressError(`${what} must not include user info`);

  if (scheme === "unix") {
    if (authority !== "") {
      throw new EndpointAddressError(
        `${what} must not include a host (got "${authority}"); write unix:///absolute/path`,
      );
    }
    if (path === "" || path === "/") throw new EndpointAddressError(`${what} must include a path`);
    return { scheme, path, address };
  }

  if (authority === "") throw new EndpointAddressError(`${what} must include a host`);
  if (path !== "") throw new EndpointAddressError(`${what} must not include a path`);
  const hostPort = /^(?:\[([^\]]*)\]|([^:]*))(?::(.*))?$/.exec(authority);
  const host = hostPort?.[1] ?? hostPort?.[2] ?? "";
  const portText = hostPort?.[3];
  if (ipVersion(host) === 0) {
    throw new EndpointAddressError(`${what} host component must be an IP:port`);
  }
  if (portText === undefined) {
    throw new EndpointAddressError(`${what} host component must include a port`);
  }
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new EndpointAddressError(`${what} port must be a number from 1 to 65535`);
  }
  return { scheme, host, port, address };
}

/** The gRPC target string for an endpoint (`unix:///p`, `ipv4:1.2.3.4:5`, `ipv6:[::1]:5`). */
export function grpcTarget(endpoint: WorkloadEndpoint): string {
  if (endpoint.scheme === "unix") return `unix://${endpoint.path}`;
  return ipVersion(endpoint.host) === 6
    ? `ipv6:[${endpoint.host}]:${endpoint.port}`
    : `ipv4:${endpoint.host}:${endpoint.port}`;
}

/** The configured address: `SPIFFE_ENDPOINT_SOCKET`, else SPIRE's default socket. */
export function endpointAddressFromEnv(): string {
  const value = Deno.env.get(ENDPOINT_SOCKET_ENV);
  return value === undefined || value === "" ? DEFAULT_ENDPOINT_SOCKET : value;
}
