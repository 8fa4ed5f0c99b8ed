/**
 * The `postgres` backend: the {@link Store} interface on one PostgreSQL
 * database, so that several Nexus replicas can share their data. The table
 * `spike_kv(k bytea PRIMARY KEY, v bytea, ver bigint)` holds the encoded key
 * (byte order = tuple order, the sqlite backend's encoding), the sealed value
 * and the version of the commit that wrote it; versionstamps are that bigint
 * (from one sequence) as 20 hex digits, like Deno KV's.
 *
 * Compare-and-set across replicas: a commit takes a transaction-scoped
 * advisory lock on every key it checks or writes (in one sorted order, so two
 * commits never deadlock), then reads the checked versions, then writes. All
 * writes go through this path, so nobody can change a locked key in between,
 * not even an absent one, which `SELECT ... FOR UPDATE` cannot lock (two
 * writers that both saw "absent" would both insert and one version would be
 * lost). Serializable isolation would also be correct, but turns every
 * contended write into an abort and a retry; a lock makes the second writer
 * wait a fraction of a millisecond and then see the first one's version.
 *
 * Durability: `synchronous_commit=on` for every connection, so a commit is
 * acknowledged only once PostgreSQL has flushed it (PostgreSQL already groups
 * the WAL flushes of concurrent commits, so no batching here).
 *
 * Bounded: at most `maxOpenConns` connections, and every operation (waiting
 * for a connection included) gives up after `operationTimeoutMs` with a
 * {@link StoreUnavailableError}; the server is asked to do the same
 * (`statement_timeout`), and a connection that timed out is thrown away.
 * When PostgreSQL is down, operations fail at once or within the timeout,
 * and the pool connects anew by itself when it is back.
 *
 * Client: npm `pg` (node-postgres), chosen over `postgres` (porsager) after
 * measuring both inside Deno 2.9.6 on a loopback PostgreSQL 15 (fsync on,
 * pool of 10, 300-byte values; medians of five runs on a shared, loaded
 * 2-core machine, so only large gaps mean anything): get by key, sequential
 * 5 400 op/s (postgres: 3 100), 32 concurrent 7 000 (postgres: 7 200, a tie);
 * transaction of lock + read + upsert, sequential 250 (postgres: 195, both
 * bound by the commit's fsync), 32 concurrent 1 290 (postgres: 920). Both run
 * under `--allow-net=127.0.0.1:PORT` (both read `PG*` variables, so they need
 * those granted or ignored) and from a `deno bundle`. Beyond speed: pg checks
 * out one connection explicitly for a transaction (what the lock-then-check
 * protocol needs), has client-side query and connection timeouts built in,
 * guards its environment reads for Deno without `--allow-env`, and is the
 * most widely used PostgreSQL client for JavaScript. Numbers are from a
 * throwaway script, not kept: `deno task bench` is where measurements live.
 * Every connection parameter is given explicitly, so pg reads no `PG*`
 * variable of its own except two whose "off" it cannot be told: `PGBINARY`
 * and `PGREPLICATION`. Nexus runs with `--ignore-env=PGBINARY,PGREPLICATION`
 * so that they read as unset (a stray PGREPLICATION must not switch the
 * connection into replication mode); `PGPASSWORD` is read by the configuration.
 *
 * Key encoding: `encodeKey`/`decodeKey` of `./keys.ts`, shared with the sqlite backend.
 *
 * @module
 */

import { createHash } from "node:crypto";
// @ts-types="@types/pg"
import pg from "pg";
import { ApiError } from "../../lib/api/errors.ts";
import { errorMessage } from "../../lib/std/errors.ts";
import { RecordDigest } from "./digest.ts";
import { decodeKey, encodeKey } from "./keys.ts";
import type { CommitResult, Store, StoreEntry, StoreKey, StoreTransaction } from "./store.ts";
import type { PgConnInfo } from "./postgres_conninfo.ts";

/** The schema version this code creates and understands. */
export const SCHEMA_VERSION = 1;

/** Both halves of the advisory lock that serializes schema changes (distinct from key locks). */
const SCHEMA_LOCK = [0x5350494b, 0x4e455855] as const; // "SPIK", "NEXU"

/** How to reach the database and how hard to use it. */
export interface PostgresOptions {
  conninfo: PgConnInfo;
  /** The password (from PGPASSWORD or a password file), when the string has none. */
  password?: string;
  /** The CA certificates for `verify-ca`/`verify-full` (the `sslrootcert` file's text). */
  ca?: string;
  /** `SPIKE_NEXUS_DB_MAX_OPEN_CONNS`. */
  maxOpenConns: number;
  /** `SPIKE_NEXUS_DB_OPERATION_TIMEOUT`, in milliseconds. */
  operationTimeoutMs: number;
  /** Told about connection errors outside any operation (an idle connection cut). */
  onIdleError?: (error: Error) => void;
  /**
   * Told once each time the database stops answering (`up` false, with why: never a password)
   * and once when it answers again, so that an outage is one log line, not one per request.
   */
  onAvailability?: (up: boolean, reason?: string) => void;
}

/** The backend's settings, from Nexus's configuration (upstream's variable names). */
export interface PostgresSettings {
  /** `SPIKE_NEXUS_DB_URL`, parsed (it may hold a password: never log it). */
  conninfo: PgConnInfo;
  /** `SPIKE_NEXUS_DB_PASSWORD_FILE`; without it, PGPASSWORD is used (when the URL has none). */
  passwordFile?: string;
  /** `SPIKE_NEXUS_DB_MAX_OPEN_CONNS`. */
  maxOpenConns: number;
  /** `SPIKE_NEXUS_DB_OPERATION_TIMEOUT`, in milliseconds. */
  operationTimeoutMs: number;
}

/**
 * The database did not answer in time, or could not be reached. It is a
 * `state_not_ready` {@link ApiError} (as a ValidationError is a 400), so the
 * one error mapping answers 503: the request may succeed later or through
 * another replica, and the client library retries only what is safe to retry
 * (a write that failed this way may have been committed, and is never re-sent).
 */
export class StoreUnavailableError extends ApiError {
  override name = "StoreUnavailableError";
  readonly reason: string;

  constructor(message: string, options?: ErrorOptions) {
    super("state_not_ready", message);
    this.reason = message;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** A migration's target already holds records (nothing was written). */
export class TargetNotEmptyError extends Error {
  constructor(readonly records: number) {
    super(
      `the PostgreSQL database already holds ${records} records: migrate only into an empty ` +
        "database (nothing was written)",
    );
    this.name = "TargetNotEmptyError";
  }
}

/** The database holds a schema newer than this code knows. */
export class SchemaTooNewError extends Error {
  constructor(found: number) {
    super(
      `the PostgreSQL database has schema version ${found}, newer than version ` +
        `${SCHEMA_VERSION} that this Nexus knows: upgrade Nexus before pointing it at this database`,
    );
    this.name = "SchemaTooNewError";
  }
}

function stamp(ver: string | number | bigint): string {
  return BigInt(ver).toString(16).padStart(20, "0");
}

/** A 64-bit advisory-lock id for an encoded key (collisions only make two keys share a lock). */
function lockId(key: Uint8Array): bigint {
  return createHash("sha256").update(key).digest().readBigInt64BE(0);
}

/** A byte string that sorts after every key under `prefix`. */
function rangeEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix.length + 1);
  end.set(prefix);
  end[prefix.length] = 0xff; // above every element type byte
  return end;
}

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE spike_kv (k bytea PRIMARY KEY, v bytea NOT NULL, ver bigint NOT NULL);
    CREATE SEQUENCE spike_versions AS bigint;
  `,
};

type Write = { key: Uint8Array; value: Uint8Array | null };

/** Records per statement when importing (and per page when reading them back). */
const IMPORT_BATCH = 500;

/** The PostgreSQL {@link Store}; open it with {@link openPostgresStore}. */
export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #timeoutMs: number;
  readonly #onAvailability: ((up: boolean, reason?: string) => void) | undefined;
  #down = false;
  #ended: Promise<void> | undefined;

  constructor(
    pool: pg.Pool,
    timeoutMs: number,
    onAvailability?: (up: boolean, reason?: string) => void,
  ) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
    this.#onAvailability = onAvailability;
  }

  #availability(up: boolean, reason?: string): void {
    if (this.#down === !up) return;
    this.#down = !up;
    this.#onAvailability?.(up, reason);
  }

  /**
   * Runs `op` on one pooled connection within the operation timeout. A
   * connection that failed or timed out is closed instead of reused.
   */
  async #withClient<T>(what: string, op: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(
          new StoreUnavailableError(
            `PostgreSQL did not answer ${what} within ${this.#timeoutMs}ms`,
          ),
        );
      }, this.#timeoutMs);
    });
    const work = (async () => {
      client = await this.#checkout(what);
      if (timedOut) throw new StoreUnavailableError("timed out");
      return await op(client);
    })();
    work.catch(() => {}); // its failure is reported through the race below (or was too late)
    try {
      const result = await Promise.race([work, deadline]);
      if (client) giveBack(client);
      client = undefined;
      this.#availability(true);
      return result;
    } catch (e) {
      // Broken, mid-transaction or still busy: never hand this connection out again.
      client?.release(e instanceof Error ? e : new Error(String(e)));
      client = undefined;
      const unavailable = e instanceof StoreUnavailableError
        ? e
        : isConnectionError(e)
        ? new StoreUnavailableError(`PostgreSQL failed during ${what}: ${errorMessage(e)}`, {
          cause: e,
        })
        : undefined;
      if (!unavailable) throw e;
      this.#availability(false, unavailable.reason);
      throw unavailable;
    } finally {
      clearTimeout(timer);
      // A late connection (after the deadline) goes back to the pool closed.
      work.then(() => {}, () => {}).finally(() => client?.release(true));
    }
  }

  /**
   * A pooled connection, listened to while it is out: the server cutting it
   * (a restart, a failover) makes pg emit "error" on it, which with nobody
   * listening would end the whole process. The failure reaches the caller
   * anyway, through the statement in progress or the next one.
   */
  async #checkout(what: string): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      // A refused login or a missing database is a setting to fix, not an outage to wait out.
      if (!isConnectionError(e)) throw e;
      throw new StoreUnavailableError(`cannot reach PostgreSQL for ${what}: ${errorMessage(e)}`, {
        cause: e,
      });
    }
    client.on("error", whileCheckedOut);
    return client;
  }

  get(key: StoreKey): Promise<StoreEntry | null> {
    const k = encodeKey(key);
    return this.#withClient("a read", async (c) => {
      const { rows } = await c.query<{ v: Uint8Array; ver: string }>({
        name: "spike-get",
        text: "SELECT v, ver FROM spike_kv WHERE k = $1",
        values: [k],
      });
      return rows.length
        ? { key, value: bytes(rows[0].v), versionstamp: stamp(rows[0].ver) }
        : null;
    });
  }

  list(
    prefix: StoreKey,
    options: { limit?: number; reverse?: boolean } = {},
  ): Promise<StoreEntry[]> {
    const low = encodeKey(prefix);
    const limit = options.limit === undefined ? null : Math.max(0, Math.trunc(options.limit));
    return this.#withClient("a listing", async (c) => {
      const { rows } = await c.query<{ k: Uint8Array; v: Uint8Array; ver: string }>({
        name: options.reverse ? "spike-list-rev" : "spike-list",
        text: `SELECT k, v, ver FROM spike_kv WHERE k >= $1 AND k < $2 ORDER BY k ${
          options.reverse ? "DESC" : "ASC"
        } LIMIT $3`,
        values: [low, rangeEnd(low), limit],
      });
      return rows.map((r) => ({
        key: decodeKey(bytes(r.k)),
        value: bytes(r.v),
        versionstamp: stamp(r.ver),
      }));
    });
  }

  /**
   * Every record as of one moment: one `SELECT`, so one MVCC snapshot
   * (writers are not blocked), under the operation timeout.
   */
  snapshot(): Promise<StoreEntry[]> {
    return this.list([]);
  }

  atomic(): StoreTransaction {
    const checks: [Uint8Array, string | null][] = [];
    const writes: Write[] = [];
    const tx: StoreTransaction = {
      check: (key, versionstamp) => {
        checks.push([encodeKey(key), versionstamp]);
        return tx;
      },
      set: (key, value) => {
        writes.push({ key: encodeKey(key), value });
        return tx;
      },
      delete: (key) => {
        writes.push({ key: encodeKey(key), value: null });
        return tx;
      },
      commit: () => this.#commit(checks, writes),
    };
    return tx;
  }

  #commit(checks: [Uint8Array, string | null][], writes: Write[]): Promise<CommitResult> {
    // The last write to a key wins, as in Deno KV; one statement may touch a key only once.
    const final = new Map<string, Write>();
    for (const w of writes) final.set(hex(w.key), w);
    const locks = [...new Set([...checks.map(([k]) => k), ...writes.map((w) => w.key)].map(lockId))]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.#withClient("a commit", async (c) => {
      await c.query("BEGIN");
      try {
        if (locks.length > 0) {
          await c.query({
            name: "spike-lock",
            text: "SELECT pg_advisory_xact_lock(id) FROM unnest($1::bigint[]) AS l(id)",
            values: [locks.map(String)],
          });
        }
        if (checks.length > 0) {
          const { rows } = await c.query<{ k: Uint8Array; ver: string }>({
            name: "spike-check",
            text: "SELECT k, ver FROM spike_kv WHERE k = ANY($1::bytea[])",
            values: [checks.map(([k]) => k)],
          });
          const found = new Map(rows.map((r) => [hex(bytes(r.k)), stamp(r.ver)]));
          if (!checks.every(([k, expected]) => (found.get(hex(k)) ?? null) === expected)) {
            await c.query("ROLLBACK");
            return { ok: false };
          }
        }
        const sets = [...final.values()].filter((w) => w.value !== null);
        const deletes = [...final.values()].filter((w) => w.value === null);
        if (deletes.length > 0) {
          await c.query({
            name: "spike-delete",
            text: "DELETE FROM spike_kv WHERE k = ANY($1::bytea[])",
            values: [deletes.map((w) => w.key)],
          });
        }
        let versionstamp: string | undefined;
        if (sets.length > 0) {
          const { rows } = await c.query<{ ver: string }>({
            name: "spike-put",
            text: `INSERT INTO spike_kv (k, v, ver)
              SELECT k, v, (SELECT nextval('spike_versions')) FROM unnest($1::bytea[], $2::bytea[]) AS t(k, v)
              ON CONFLICT (k) DO UPDATE SET v = excluded.v, ver = excluded.ver
              RETURNING ver`,
            values: [sets.map((w) => w.key), sets.map((w) => w.value)],
          });
          versionstamp = stamp(rows[0].ver);
        }
        await c.query("COMMIT");
        return { ok: true, versionstamp };
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      }
    });
  }

  /**
   * Copies `records` (as another backend handed them out: key and sealed
   * value) into this store in one transaction, refusing when it already holds
   * any record. Writers on the table (a Nexus already pointed at it) wait
   * until the copy is done. Before committing, reads back everything the
   * table holds and hands its count and digest to `verify`: a throw from it,
   * as any other failure, rolls everything back, so the database ends either
   * a full, checked copy or as empty as it was. Each statement is bounded by
   * the operation timeout; the copy as a whole is not.
   */
  async importAll(
    records: Iterable<StoreEntry>,
    verify: (target: RecordDigest) => void | Promise<void>,
  ): Promise<RecordDigest> {
    const c = await this.#checkout("the copy");
    try {
      await c.query("BEGIN");
      await c.query("SET LOCAL idle_in_transaction_session_timeout = 0");
      await c.query("LOCK TABLE spike_kv IN EXCLUSIVE MODE");
      const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM spike_kv");
      if (Number(rows[0].n) > 0) throw new TargetNotEmptyError(Number(rows[0].n));
      let batch: StoreEntry[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        // No ON CONFLICT: a key given twice is an error, never a silent overwrite.
        await c.query({
          name: "spike-import",
          text: `INSERT INTO spike_kv (k, v, ver)
            SELECT k, v, (SELECT nextval('spike_versions')) FROM unnest($1::bytea[], $2::bytea[]) AS t(k, v)`,
          values: [batch.map((r) => encodeKey(r.key)), batch.map((r) => r.value)],
        });
        batch = [];
      };
      for (const record of records) {
        batch.push(record);
        if (batch.length >= IMPORT_BATCH) await flush();
      }
      await flush();
      const target = new RecordDigest();
      let after: Uint8Array = new Uint8Array(0);
      for (;;) {
        const page = await c.query<{ k: Uint8Array; v: Uint8Array }>({
          name: "spike-import-read",
          text: "SELECT k, v FROM spike_kv WHERE k > $1 ORDER BY k LIMIT $2",
          values: [after, IMPORT_BATCH],
        });
        for (const r of page.rows) target.add(bytes(r.k), bytes(r.v));
        if (page.rows.length < IMPORT_BATCH) break;
        after = bytes(page.rows[page.rows.length - 1].k);
      }
      await verify(target);
      await c.query("COMMIT");
      giveBack(c);
      return target;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      c.release(true);
      if (isConnectionError(e)) {
        throw new StoreUnavailableError(`PostgreSQL failed during the copy: ${errorMessage(e)}`, {
          cause: e,
        });
      }
      throw e;
    }
  }

  /** Runs the schema check and migrations (see {@link openPostgresStore}). */
  async migrate(): Promise<void> {
    await this.#withClient("the schema check", async (c) => {
      await c.query("BEGIN");
      try {
        // Two replicas starting together: the second waits here until the first has committed.
        await c.query("SELECT pg_advisory_xact_lock($1, $2)", [...SCHEMA_LOCK]);
        await c.query(
          `CREATE TABLE IF NOT EXISTS spike_schema (
            id int PRIMARY KEY CHECK (id = 1), version int NOT NULL)`,
        );
        const { rows } = await c.query<{ version: number }>(
          "SELECT version FROM spike_schema WHERE id = 1",
        );
        const found = rows[0]?.version ?? 0;
        if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found);
        for (let v = found + 1; v <= SCHEMA_VERSION; v++) await c.query(MIGRATIONS[v]);
        if (found < SCHEMA_VERSION) {
          await c.query(
            `INSERT INTO spike_schema (id, version) VALUES (1, $1)
              ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
            [SCHEMA_VERSION],
          );
        }
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      }
    });
  }

  /** Closes every connection; resolves when they are closed. */
  end(): Promise<void> {
    return this.#ended ??= this.#pool.end().catch(() => {});
  }

  close(): Promise<void> {
    return this.end();
  }
}

/** The "error" listener of a checked-out connection (see `#checkout`). */
function whileCheckedOut(): void {}

/** Returns a healthy connection to the pool, which listens to it itself while it is idle. */
function giveBack(client: pg.PoolClient): void {
  client.removeListener("error", whileCheckedOut);
  client.release();
}

/** Errors that mean the database is unreachable or unable to serve now (not a bad statement). */
function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof SchemaTooNewError) return false;
  const code = (e as { code?: string }).code ?? "";
  // Class 08: connection exceptions; 53: out of resources (too many connections...);
  // 57: operator intervention (shutting down, starting, our statement_timeout: 57014).
  if (/^(08|53|57)...$/.test(code)) return true;
  if (/^E[A-Z]+$/.test(code)) return true; // a socket error (ECONNREFUSED, ECONNRESET, EPIPE...)
  return code === "" && /connection|terminated|not queryable|timeout/i.test(e.message);
}

function bytes(b: Uint8Array): Uint8Array {
  // pg hands out Buffers; the rest of Nexus expects plain Uint8Arrays.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** pg's TLS settings for a libpq `sslmode`. */
function tlsFor(info: PgConnInfo, ca: string | undefined): pg.ClientConfig["ssl"] {
  switch (info.sslmode) {
    case "disable":
      return false;
    case "require": // encrypted, server not authenticated: libpq's meaning
      return { rejectUnauthorized: false };
    case "verify-ca":
      return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full": // pg checks the name (or IP address) against the host it connects to
      return { ca, rejectUnauthorized: true };
  }
}

/**
 * Connects to PostgreSQL, creates or migrates the schema (under an advisory
 * lock, in one transaction), and returns the store. Fails with one clear
 * sentence when the database has a newer schema than this code knows, and
 * with {@link StoreUnavailableError} when it cannot be reached in time.
 */
export async function openPostgresStore(options: PostgresOptions): Promise<PostgresStore> {
  const { conninfo: info, operationTimeoutMs: timeout } = options;
  const pool = new pg.Pool({
    host: info.host,
    port: info.port,
    database: info.database,
    user: info.user,
    // A function, so that pg never looks for PGPASSWORD or ~/.pgpass itself (no grant for them).
    password: () => info.password ?? options.password ?? "",
    ssl: tlsFor(info, options.ca),
    application_name: info.applicationName ?? "spike-nexus",
    options: "-c synchronous_commit=on",
    // Given, so that pg does not look for PGCLIENT_ENCODING and PGSSLNEGOTIATION.
    client_encoding: "UTF8",
    sslnegotiation: "postgres",
    max: options.maxOpenConns,
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
    statement_timeout: timeout,
    idle_in_transaction_session_timeout: timeout,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle connection cut by the server (restart, failover) must not crash Nexus:
  // the pool drops it and connects anew when next needed.
  pool.on("error", (e) => options.onIdleError?.(e));
  const store = new PostgresStore(pool, timeout, options.onAvailability);
  try {
    await store.migrate();
  } catch (e) {
    await store.end();
    throw e;
  }
  return store;
}

/**
 * Opens the store from Nexus's settings: the password from the password file
 * or PGPASSWORD (never from a command line), the CA from `sslrootcert`.
 */
export async function openPostgresFromSettings(
  settings: PostgresSettings,
  events: Pick<PostgresOptions, "onIdleError" | "onAvailability"> = {},
): Promise<PostgresStore> {
  const { conninfo } = settings;
  let password: string | undefined;
  if (settings.passwordFile) {
    if (conninfo.password) {
      throw new Error(
        "SPIKE_NEXUS_DB_URL has a password and SPIKE_NEXUS_DB_PASSWORD_FILE is set too",
      );
    }
    password = readSecretFile(settings.passwordFile, "SPIKE_NEXUS_DB_PASSWORD_FILE");
  } else if (!conninfo.password) {
    try {
      password = Deno.env.get("PGPASSWORD") || undefined;
    } catch {
      password = undefined; // not granted: no password from the environment
    }
  }
  const ca = conninfo.sslrootcert && conninfo.sslmode.startsWith("verify-")
    ? readSecretFile(conninfo.sslrootcert, "sslrootcert")
    : undefined;
  return await openPostgresStore({
    conninfo,
    password,
    ca,
    maxOpenConns: settings.maxOpenConns,
    operationTimeoutMs: settings.operationTimeoutMs,
    ...events,
  });
}

function readSecretFile(path: string, setting: string): string {
  try {
    // One trailing newline is the file's, not the password's.
    return Deno.readTextFileSync(path).replace(/\r?\n$/, "");
  } catch (e) {
    throw new Error(`${setting} ${path} cannot be read: ${errorMessage(e)}`);
  }
}
