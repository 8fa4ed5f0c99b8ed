/**
 * `SPIKE_NEXUS_DB_URL`: where the PostgreSQL backend connects, in either of
 * libpq's forms: a URL (`postgres://user@host:5432/db?sslmode=verify-full&sslrootcert=/ca.pem`)
 * or a key/value string (`host=db port=5432 dbname=spike sslrootcert=/ca.pem`).
 * A host starting with `/` is the folder of a unix socket, as in libpq: the
 * socket file is `<host>/.s.PGSQL.<port>`.
 *
 * Read by Nexus (to connect) and by the launcher (to grant exactly that
 * host, socket and certificate file). Error messages never repeat the text:
 * it may hold a password.
 *
 * @module
 */

import { ConfigError } from "./env.ts";

/** The variable Nexus reads the connection string from. */
export const DB_URL_ENV = "SPIKE_NEXUS_DB_URL";

/** libpq's default port. */
export const DEFAULT_POSTGRES_PORT = 5432;

/** libpq's `sslmode` values. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
const SSL_MODES: readonly string[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** A parsed connection string. */
export interface PostgresTarget {
  /** Host name or IP, or (starting with `/`) the folder of a unix socket. */
  host: string;
  port: number;
  /** The unix socket file when `host` is a folder. */
  socketPath?: string;
  database?: string;
  user?: string;
  /** A password written in the string itself (prefer PGPASSWORD or a password file). */
  password?: string;
  sslmode?: SslMode;
  /** CA certificate file that verifies the server. */
  sslrootcert?: string;
  /** Client certificate and key files. */
  sslcert?: string;
  sslkey?: string;
  /** Every other parameter, as given (e.g. `application_name`, `connect_timeout`). */
  options: Record<string, string>;
}

const KNOWN = new Set([
  "host",
  "hostaddr",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "sslcert",
  "sslkey",
]);

function bad(why: string, name: string): ConfigError {
  return new ConfigError(`${name} is invalid: ${why}`);
}

/**
 * Parses a libpq connection string (URL or key/value form).
 * @param name how the user set it, for error messages (default `SPIKE_NEXUS_DB_URL`).
 */
export function parsePostgresUrl(text: string, name = DB_URL_ENV): PostgresTarget {
  const trimmed = text.trim();
  if (trimmed === "") throw bad("it is empty", name);
  const params = /^postgres(ql)?:\/\//i.test(trimmed)
    ? fromUrl(trimmed, name)
    : fromKeyValue(trimmed, name);
  return toTarget(params, name);
}

function fromUrl(text: string, name: string): Map<string, string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad("it is not a URL (write postgres://user@host:port/database?...)", name);
  }
  if (url.hash) throw bad("a postgres URL has no #fragment", name);
  const params = new Map<string, string>();
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw bad(`its ${what} has a bad %-escape`, name);
    }
  };
  // WHATWG's URL keeps an authority like `%2Fvar%2Frun%2Fpostgresql` as written.
  if (url.hostname) params.set("host", decode(url.hostname.replace(/^\[|\]$/g, ""), "host"));
  if (url.port) params.set("port", url.port);
  if (url.username) params.set("user", decode(url.username, "user"));
  if (url.password) params.set("password", decode(url.password, "password"));
  const path = url.pathname.replace(/^\//, "");
  if (path) params.set("dbname", decode(path, "database name"));
  for (const [key, value] of url.searchParams) {
    if (params.has(key) && key !== "host" && key !== "port") {
      throw bad(`"${key}" is given twice`, name);
    }
    params.set(key, value);
  }
  return params;
}

/** libpq's key/value form: `key=value` pairs separated by spaces; values may be 'quoted'. */
function fromKeyValue(text: string, name: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  while (skipSpace(), i < text.length) {
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i])) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (key === "" || text[i] !== "=") {
      throw bad(
        'write it as a URL (postgres://...) or as key=value pairs ("host=db port=5432")',
        name,
      );
    }
    i++;
    skipSpace();
    let value = "";
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw bad(`the value of "${key}" has no closing quote`, name);
        const c = text[i++];
        if (c === "'") break;
        if (c === "\\") {
          if (i >= text.length) throw bad(`the value of "${key}" ends in a backslash`, name);
          value += text[i++];
        } else value += c;
      }
    } else {
      while (i < text.length && !/\s/.test(text[i])) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i++];
      }
    }
    if (params.has(key)) throw bad(`"${key}" is given twice`, name);
    params.set(key, value);
  }
  return params;
}

function toTarget(params: Map<string, string>, name: string): PostgresTarget {
  const host = params.get("host") || params.get("hostaddr") || "localhost";
  if (host.includes(",")) {
    throw bad("it lists several hosts; give one (a load balancer or DNS name for many)", name);
  }
  const portText = params.get("port") || String(DEFAULT_POSTGRES_PORT);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw bad("its port must be a number from 1 to 65535", name);
  }
  const sslmode = params.get("sslmode");
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
    throw bad(`sslmode must be one of ${SSL_MODES.join(", ")}`, name);
  }
  const options: Record<string, string> = {};
  for (const [key, value] of params) if (!KNOWN.has(key)) options[key] = value;
  const target: PostgresTarget = { host, port, options };
  if (host.startsWith("/")) target.socketPath = `${host.replace(/\/+$/, "")}/.s.PGSQL.${port}`;
  const set = <K extends keyof PostgresTarget>(key: K, param: string) => {
    const value = params.get(param);
    if (value !== undefined && value !== "") target[key] = value as PostgresTarget[K];
  };
  set("database", "dbname");
  set("user", "user");
  set("password", "password");
  set("sslmode", "sslmode");
  set("sslrootcert", "sslrootcert");
  set("sslcert", "sslcert");
  set("sslkey", "sslkey");
  return target;
}
