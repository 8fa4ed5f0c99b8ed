/**
 * The Nexus configuration of in-process route tests (`server_test.ts`,
 * `routes/*_test.ts`): the kv profile on a memory store, no Keepers, no
 * rate limits, default limits elsewhere.
 */

import { LISTENER_DEFAULTS } from "../lib/config/http_server.ts";
import { BACKENDS } from "../lib/config/programs.ts";
import type { NexusConfig } from "./config.ts";

/** A complete configuration that no test needs to vary. */
export const TEST_CONFIG: NexusConfig = {
  listen: { hostname: "127.0.0.1", port: 0 },
  listener: LISTENER_DEFAULTS,
  rateLimits: { readsPerSecond: 0, writesPerSecond: 0, exemptSuperuser: true },
  storeTimeoutMs: 15_000,
  backend: "kv",
  profile: BACKENDS.kv,
  dataDir: "",
  keepers: [],
  shares: 3,
  threshold: 2,
  keeperUpdateIntervalMs: 60_000,
  maxBodyBytes: 1 << 20,
  maxCiphertextBytes: 65536,
  maxSecretVersions: 10,
  busyTimeoutMs: 5000,
};
