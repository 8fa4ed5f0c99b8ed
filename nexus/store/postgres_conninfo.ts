/**
 * What the postgres backend takes from `SPIKE_NEXUS_DB_URL`. The string is
 * read by `lib/config/postgres_url.ts` (the same parser the launcher uses to
 * grant the database's address and files); this module applies the
 * backend's own rules on top: TLS with the server's name checked unless told
 * otherwise, a user named, and only the parameters this backend honours.
 * Anything else is an error naming it, so a setting is never silently
 * ignored. Errors never repeat the string: it may hold a password.
 *
 * @module
 */

import { ConfigError } from "../../lib/config/env.ts";
import { DB_URL_ENV, parsePostgresUrl } from "../../lib/config/postgres_url.ts";

/** libpq's `sslmode`s that this backend honours (pg has no "prefer"/"allow" fallback). */
export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";

/** What a connection string says, as this backend uses it. */
export interface PgConnInfo {
  /** A host name or IP, or (starting with `/`) the folder of the server's unix socket. */
  host: string;
  port: number;
  /** The unix socket file (`<host>/.s.PGSQL.<port>`) when `host` is a folder. */
  socketPath?: string;
  database: string;
  user: string;
  /** A password written into the string itself (libpq allows it; a file or PGPASSWORD is better). */
  password?: string;
  /** Defaults to `verify-full`: TLS with the server's name checked, unless told otherwise. */
  sslmode: SslMode;
  /** CA file for `verify-ca`/`verify-full` (system roots when absent). */
  sslrootcert?: string;
  applicationName?: string;
}

const SSL_MODES: readonly string[] = ["disable", "require", "verify-ca", "verify-full"];
/** Parameters beyond the parser's own fields that this backend honours. */
const OPTIONS = new Set(["application_name"]);

/** Parses a libpq URL or key/value string; throws a ConfigError naming what is wrong. */
export function parsePgConnInfo(text: string, name = DB_URL_ENV): PgConnInfo {
  const target = parsePostgresUrl(text, name);
  const bad = (why: string) => new ConfigError(`${name} is invalid: ${why}`);
  for (const key of Object.keys(target.options)) {
    if (!OPTIONS.has(key)) throw bad(`the connection parameter "${key}" is not supported`);
  }
  if (target.sslcert || target.sslkey) {
    throw bad("client certificates (sslcert, sslkey) are not supported; use a password");
  }
  if (!target.user) throw bad("the connection string names no user");
  // As in libpq, sslmode does not apply to a unix socket: it is local, and servers offer no TLS there.
  const sslmode = target.socketPath ? "disable" : target.sslmode ?? "verify-full";
  if (!SSL_MODES.includes(sslmode)) {
    throw bad(
      `sslmode="${sslmode}" is not supported: use disable, require, verify-ca or verify-full`,
    );
  }
  return {
    host: target.host,
    port: target.port,
    ...(target.socketPath ? { socketPath: target.socketPath } : {}),
    database: target.database ?? target.user,
    user: target.user,
    password: target.password,
    sslmode: sslmode as SslMode,
    sslrootcert: target.sslrootcert,
    applicationName: target.options.application_name,
  };
}
