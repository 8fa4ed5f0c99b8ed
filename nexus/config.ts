/**
 * Nexus configuration, from environment variables with upstream's names and
 * defaults. A bad value stops Nexus at start with a message naming it.
 *
 * @module
 */

import { join } from "node:path";
import { ConfigError, envBool, envDuration, envInt, envString } from "../lib/config/env.ts";
import { type ListenerLimits, listenerLimitsFromEnv } from "../lib/config/http_server.ts";
import { type KeeperPeer, keeperPeersFromEnv } from "../lib/config/peers.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../lib/http/body.ts";
import { type ListenAddress, parseListenAddress } from "../lib/program/program.ts";
import { shamirFromEnv } from "../lib/config/shamir.ts";
import { METRICS_PORT_ENV, parseMetricsAddress } from "../lib/config/metrics.ts";
import { AUDIT_FILE_ENV, parseAuditFile } from "../lib/config/audit_file.ts";
import {
  type BackendKind,
  type BackendProfile,
  BACKENDS,
  DEFAULT_BACKEND,
  DEFAULT_DATA_DIR_IN_HOME,
  PROGRAMS,
} from "../lib/config/programs.ts";
import type { PostgresSettings } from "./store/postgres.ts";
import { parsePgConnInfo } from "./store/postgres_conninfo.ts";

/** Everything Nexus reads from its environment. */
export interface NexusConfig {
  listen: ListenAddress;
  /** Timeouts and connection caps of the listener (`SPIKE_HTTP_SERVER_*`). */
  listener: ListenerLimits;
  /** Requests per second per SPIFFE ID (0: no limit), by route class. */
  rateLimits: RateLimits;
  backend: BackendKind;
  /** What the backend implies: its profile in `BACKENDS` (lib/config/programs.ts). */
  profile: Readonly<BackendProfile>;
  /** Folder of the database file (backends whose profile has `dataDir`). */
  dataDir: string;
  /** How long a sqlite write waits for another process's lock. */
  busyTimeoutMs: number;
  /** `SPIKE_NEXUS_DB_OPERATION_TIMEOUT`: the deadline of every store operation, any backend. */
  storeTimeoutMs: number;
  /** The Keepers, in share-index order (empty for a backend without Keepers). */
  keepers: KeeperPeer[];
  shares: number;
  threshold: number;
  keeperUpdateIntervalMs: number;
  /** Largest request body. */
  maxBodyBytes: number;
  /** Largest ciphertext the cipher and verify routes accept. */
  maxCiphertextBytes: number;
  /** Versions kept per secret path. */
  maxSecretVersions: number;
  /** Set for the postgres backend only. */
  postgres?: PostgresSettings;
  /** Where to serve Prometheus metrics (`SPIKE_NEXUS_METRICS_PORT`); unset: no metrics listener. */
  metrics?: ListenAddress;
  /** The durable audit file (`SPIKE_NEXUS_AUDIT_FILE`, an absolute path); unset: stderr only. */
  auditFile?: string;
}

/** Rate limits per caller, by route class: reads are the routes safe to retry. */
export interface RateLimits {
  readsPerSecond: number;
  writesPerSecond: number;
  /** Pilot's superuser is never limited (an operator must be able to act in an incident). */
  exemptSuperuser: boolean;
}

function rateLimitsFromEnv(): RateLimits {
  return {
    readsPerSecond: envInt("SPIKE_NEXUS_RATE_LIMIT_READS", 0, { min: 0, max: 1_000_000 }),
    writesPerSecond: envInt("SPIKE_NEXUS_RATE_LIMIT_WRITES", 0, { min: 0, max: 1_000_000 }),
    exemptSuperuser: envBool("SPIKE_NEXUS_RATE_LIMIT_EXEMPT_SUPERUSER", true),
  };
}

const NEXUS_LISTEN = PROGRAMS.nexus.listen!;

function parseBackend(): BackendKind {
  const raw = envString("SPIKE_NEXUS_BACKEND_STORE", DEFAULT_BACKEND).toLowerCase();
  if (Object.hasOwn(BACKENDS, raw)) return raw as BackendKind;
  throw new ConfigError(
    `SPIKE_NEXUS_BACKEND_STORE=${
      JSON.stringify(raw)
    } is invalid: use kv, sqlite, postgres, memory or lite`,
  );
}

/** The postgres backend's settings (`SPIKE_NEXUS_DB_*`), also read by `nexus migrate`. */
export function postgresFromEnv(): PostgresSettings {
  const url = envString("SPIKE_NEXUS_DB_URL", "");
  if (url === "") {
    throw new ConfigError("SPIKE_NEXUS_BACKEND_STORE=postgres needs SPIKE_NEXUS_DB_URL");
  }
  return {
    // Its errors name the variable, never the value: it may hold a password.
    conninfo: parsePgConnInfo(url),
    passwordFile: envString("SPIKE_NEXUS_DB_PASSWORD_FILE", "") || undefined,
    maxOpenConns: envInt("SPIKE_NEXUS_DB_MAX_OPEN_CONNS", 10, { min: 1, max: 1000 }),
    operationTimeoutMs: envDuration("SPIKE_NEXUS_DB_OPERATION_TIMEOUT", 15_000, { min: 1 }),
  };
}

/** `~/.spike/data`: the data folder when `SPIKE_NEXUS_DATA_DIR` is not set. */
export function defaultDataDir(): string {
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new ConfigError("SPIKE_NEXUS_DATA_DIR is not set and HOME is unknown; set one of them");
  }
  return join(home, DEFAULT_DATA_DIR_IN_HOME);
}

/**
 * Refuses a data folder that exists but is not a folder, at start: the store
 * would fail later, after the wait for an identity, with a file-system error.
 */
function checkDataDir(dataDir: string): string {
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(dataDir);
  } catch {
    // Missing (the store creates it) or not readable (the grant check says so).
  }
  if (info && !info.isDirectory) {
    throw new ConfigError(
      `SPIKE_NEXUS_DATA_DIR=${JSON.stringify(dataDir)} is invalid: it is a file, not a folder`,
    );
  }
  return dataDir;
}

/** Reads and checks the configuration. */
export function loadNexusConfig(): NexusConfig {
  const backend = parseBackend();
  const profile: BackendProfile = BACKENDS[backend];
  const keepers = profile.keepers ? keeperPeersFromEnv() : [];
  // More Keepers than shares: the extra ones are there for a rekey to hand shares to.
  const { shares, threshold } = shamirFromEnv(
    profile.keepers ? keepers.length : undefined,
    true,
  );
  return {
    listen: parseListenAddress(
      "SPIKE_NEXUS_TLS_PORT",
      envString(NEXUS_LISTEN.env, NEXUS_LISTEN.default),
    ),
    listener: listenerLimitsFromEnv(),
    rateLimits: rateLimitsFromEnv(),
    backend,
    profile,
    dataDir: profile.dataDir
      ? checkDataDir(envString("SPIKE_NEXUS_DATA_DIR", "") || defaultDataDir())
      : envString("SPIKE_NEXUS_DATA_DIR", ""),
    keepers,
    shares,
    threshold,
    keeperUpdateIntervalMs: envDuration("SPIKE_NEXUS_KEEPER_UPDATE_INTERVAL", 5 * 60_000, {
      min: 100,
    }),
    maxBodyBytes: envInt("SPIKE_NEXUS_MAX_REQUEST_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, {
      min: 1024,
    }),
    maxCiphertextBytes: envInt("SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE", 65536, { min: 64 }),
    maxSecretVersions: envInt("SPIKE_NEXUS_MAX_SECRET_VERSIONS", 10, { min: 1, max: 1000 }),
    busyTimeoutMs: envInt("SPIKE_NEXUS_DB_BUSY_TIMEOUT_MS", 5000, { min: 1 }),
    storeTimeoutMs: envDuration("SPIKE_NEXUS_DB_OPERATION_TIMEOUT", 15_000, { min: 1 }),
    postgres: backend === "postgres" ? postgresFromEnv() : undefined,
    metrics: parseMetricsAddress(envString(METRICS_PORT_ENV, "")),
    auditFile: parseAuditFile(envString(AUDIT_FILE_ENV, "")),
  };
}

export type { BackendKind, BackendProfile };
