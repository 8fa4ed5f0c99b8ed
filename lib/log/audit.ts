/**
 * The audit trail: one JSON line per request on stderr, naming the caller's
 * SPIFFE ID, the route, action, secret path (when there is one), status and
 * duration. It never holds a value: routes only note paths and versions.
 *
 * Nexus can also keep the trail in a file ({@link AuditFile},
 * `SPIKE_NEXUS_AUDIT_FILE`), durably and failing closed, as Vault's audit
 * devices do: a `request` record is written before the route runs and a
 * `response` record before the answer is sent, each forced to disk
 * (fdatasync) first; a request whose record cannot be written is refused.
 *
 * @module
 */

import type { Completion } from "../http/dispatch.ts";
import { stderrLines } from "./stderr.ts";

const encoder = new TextEncoder();

export { AUDIT_FILE_ENV } from "../config/audit_file.ts";

/** The JSON line of one audit record. */
export function auditLine(
  component: string,
  completion: Readonly<Partial<Completion>>,
  phase?: string,
): string {
  const head = phase === undefined
    ? { time: new Date().toISOString(), audit: true, component }
    : { time: new Date().toISOString(), audit: true, component, phase };
  return JSON.stringify({ ...head, ...completion }) + "\n";
}

/**
 * A sink for completion records that writes audit lines for `component`; by
 * default to stderr, one write per turn of the event loop (`./stderr.ts`).
 */
export function createAuditTrail(
  component: string,
  write: (line: string) => void = (line) => stderrLines().write(line),
): (completion: Completion) => void {
  return (completion) => write(auditLine(component, completion));
}

interface Pending {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * An append-only audit file, mode 0600. Every {@link append} resolves only
 * once its line is written and fdatasync'ed; lines that arrive while a sync
 * runs share the next one (group commit), so the cost is one sync per batch,
 * not per request. A failed write or sync rejects every line of its batch.
 * A line only partly written (a full disk) is ended before the next write,
 * so a reader sees it as one broken line, never glued to the next record.
 */
/** What {@link AuditFile} needs of an open file. */
export type AppendFile = Pick<Deno.FsFile, "write" | "syncData" | "close">;

export class AuditFile {
  readonly #file: AppendFile;
  readonly #queue: Pending[] = [];
  #flushing = false;
  #broken = false;
  #closed = false;

  private constructor(readonly path: string, file: AppendFile) {
    this.#file = file;
  }

  /** @internal An audit file over an already open file (tests give a failing one). */
  static over(path: string, file: AppendFile): AuditFile {
    return new AuditFile(path, file);
  }

  /**
   * Opens (creating, mode 0600) `path` for appending. A file that exists with
   * a wider mode is narrowed to 0600. It must be a regular file: a device
   * such as `/dev/null` would accept records and keep none. Throws the file
   * system's error.
   */
  static async open(path: string): Promise<AuditFile> {
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    try {
      const info = await file.stat();
      if (!info.isFile) throw new Error(`${path} is not a regular file`);
      if (info.mode !== null && (info.mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
    } catch (e) {
      file.close();
      throw e;
    }
    return new AuditFile(path, file);
  }

  /** Appends `line` (one record ending in a newline); resolves once it is on disk. */
  append(line: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the audit file is closed"));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ bytes: encoder.encode(line), resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      const parts = batch.map((p) => p.bytes);
      if (this.#broken) parts.unshift(encoder.encode("\n"));
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        bytes.set(p, at);
        at += p.length;
      }
      let written = 0;
      try {
        while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
        await this.#file.syncData();
        this.#broken = false;
        for (const p of batch) p.resolve();
      } catch (e) {
        if (written > 0) this.#broken = true;
        for (const p of batch) p.reject(e);
      }
    }
    this.#flushing = false;
  }

  /** Waits for queued lines, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing) await new Promise((r) => setTimeout(r, 5));
    this.#file.close();
  }
}
