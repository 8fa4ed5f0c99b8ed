/**
 * The SPIKE client library: what a workload imports to read secrets (and use
 * the rest of the Nexus API) with its own SPIFFE identity.
 *
 * ```ts
 * import { connectNexus } from "spike/client";
 *
 * const nexus = await connectNexus(); // SPIFFE_ENDPOINT_SOCKET, SPIKE_NEXUS_API_URL
 * try {
 *   const { user, pass } = await nexus.getSecret("tenants/demo/db/creds");
 * } finally {
 *   nexus.close();
 * }
 * ```
 *
 * @module
 */

export {
  connectNexus,
  type ConnectOptions,
  type HttpClientSettings,
  httpClientSettingsFromEnv,
  NexusConnection,
} from "./connect.ts";
export { NexusClient, type NexusClientOptions, type PolicyInput } from "./nexus.ts";
export {
  ApiResponseError,
  isTransient,
  TransportError,
  type TransportErrorKind,
} from "./errors.ts";
export type { ErrorCode } from "../api/errors.ts";
