/**
 * `SPIKE_NEXUS_DB_URL` for the postgres backend: a libpq connection URL
 * (`postgresql://user@host:5432/db?sslmode=verify-full&sslrootcert=/ca.pem`)
 * or a libpq key/value string (`host=db port=5432 dbname=spike user=nexus`),
 * reduced to the parameters this backend understands. Anything else is an
 * error naming it, so a setting is never silently ignored.
 *
 * TEMPORARY: `lib/config/postgres_url.ts` (`parsePostgresUrl`, written in
 * parallel for the permission launcher) is to replace this module at merge.
 *
 * @module
 */

/** libpq's `sslmode`s that this backend honours (pg has no "prefer"/"allow" fallback). */
export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";

/** What a connection string says. */
export interface PgConnInfo {
  host: string;
  port: number;
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

const KNOWN = new Set([
  "host",
  "hostaddr",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "application_name",
]);
const SSL_MODES = new Set(["disable", "require", "verify-ca", "verify-full"]);

/** Parses a libpq URL or key/value string; throws an Error naming what is wrong (never the password). */
export function parsePgConnInfo(text: string): PgConnInfo {
  const trimmed = text.trim();
  if (trimmed === "") throw new Error("the connection string is empty");
  const params = /^postgres(ql)?:\/\//i.test(trimmed) ? fromUrl(trimmed) : fromKeyValue(trimmed);
  for (const key of params.keys()) {
    if (!KNOWN.has(key)) throw new Error(`the connection parameter "${key}" is not supported`);
  }
  const host = params.get("hostaddr") || params.get("host") || "";
  if (host === "") throw new Error("the connection string names no host");
  if (host.includes(",")) {
    throw new Error("several hosts in one connection string are not supported");
  }
  if (host.startsWith("/")) throw new Error("unix socket hosts are not supported; use host:port");
  const portText = params.get("port") || "5432";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`the port ${JSON.stringify(portText)} is not a TCP port`);
  }
  const user = params.get("user") || "";
  if (user === "") throw new Error("the connection string names no user");
  const sslmode = params.get("sslmode") || "verify-full";
  if (!SSL_MODES.has(sslmode)) {
    throw new Error(
      `sslmode=${JSON.stringify(sslmode)} is not supported: use disable, require, verify-ca or ` +
        "verify-full",
    );
  }
  return {
    host,
    port,
    database: params.get("dbname") || user,
    user,
    password: params.get("password") || undefined,
    sslmode: sslmode as SslMode,
    sslrootcert: params.get("sslrootcert") || undefined,
    applicationName: params.get("application_name") || undefined,
  };
}

function fromUrl(text: string): Map<string, string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error("the connection URL is not a valid URL");
  }
  const params = new Map<string, string>();
  // A bracketed IPv6 host keeps its brackets in URL.hostname; libpq wants them off.
  if (url.hostname) params.set("host", decodeURIComponent(url.hostname.replace(/^\[|\]$/g, "")));
  if (url.port) params.set("port", url.port);
  if (url.username) params.set("user", decodeURIComponent(url.username));
  if (url.password) params.set("password", decodeURIComponent(url.password));
  const db = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (db) params.set("dbname", db);
  for (const [key, value] of url.searchParams) params.set(key, value);
  return params;
}

/** `key=value` pairs separated by spaces; values may be single-quoted with `\'` and `\\`. */
function fromKeyValue(text: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  while (true) {
    skipSpace();
    if (i >= text.length) return params;
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i])) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (key === "" || text[i] !== "=") {
      throw new Error(`the connection string is malformed near character ${keyStart + 1}`);
    }
    i++;
    skipSpace();
    let value = "";
    if (text[i] === "'") {
      i++;
      while (i < text.length && text[i] !== "'") {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i++];
      }
      if (text[i] !== "'") throw new Error(`the quoted value of "${key}" is not closed`);
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i])) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i++];
      }
    }
    params.set(key, value);
  }
}
