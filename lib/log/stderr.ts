/**
 * Lines for stderr (audit records and operational logs), written together:
 * the lines of one turn of the event loop go out in one write, at the end of
 * that turn's microtasks. A write to a pipe costs a system call and wakes
 * its reader (another process, on a shared CPU); under load a Nexus answers
 * several requests per turn, and one write per turn instead of one per line
 * is what makes the audit trail cheap (measured: README, Performance).
 *
 * Nothing is reordered (one queue for every line) and nothing waits past its
 * turn: a request's audit line is written in the turn its answer was sent.
 * Log lines are written at once ({@link LineBatcher.writeNow}, after the
 * queued lines): a log line may be the last thing a failing process says.
 * The queue is also written when the process exits (`Deno.exit` dispatches
 * `unload`). When stderr refuses a write, the lines stay queued and are
 * written with the next ones; only beyond {@link MAX_QUEUED_BYTES} are they
 * dropped, and the next write that succeeds says how many bytes were lost.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Bytes kept for a stderr that refuses writes, before the oldest are dropped. */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/** Where the bytes go: a synchronous write that may write only part (`Deno.stderr.writeSync`). */
export type WriteSync = (bytes: Uint8Array) => number;

/** A queue of lines written together at the end of each turn (see module notes). */
export class LineBatcher {
  #lines: string[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  #dropped = 0;

  constructor(
    readonly writeSync: WriteSync,
    /** Bytes kept while stderr refuses writes (tests give a small one). */
    readonly maxQueuedBytes = MAX_QUEUED_BYTES,
  ) {}

  /** Queues one line (ending in a newline); it is written at the end of this turn. */
  write(line: string): void {
    this.#lines.push(line);
    this.#queuedBytes += line.length;
    if (this.#queuedBytes > this.maxQueuedBytes) {
      // stderr has refused writes for a long time: keep the newest lines, count the rest.
      while (this.#queuedBytes > this.maxQueuedBytes / 2 && this.#lines.length > 1) {
        const old = this.#lines.shift()!;
        this.#queuedBytes -= old.length;
        this.#dropped += old.length;
      }
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Writes `line` now, after the queued ones (for logs, which may be a process's last words). */
  writeNow(line: string): void {
    this.#lines.push(line);
    this.#queuedBytes += line.length;
    this.flush();
  }

  /** Writes every queued line now. Never throws: what stderr refuses stays queued. */
  flush(): void {
    this.#scheduled = false;
    if (this.#lines.length === 0) return;
    let text = this.#lines.join("");
    if (this.#dropped > 0) {
      text = `{"msg":"stderr refused writes: ${this.#dropped} bytes of log and audit lines ` +
        `were dropped"}\n${text}`;
    }
    const bytes = encoder.encode(text);
    let written = 0;
    try {
      while (written < bytes.length) written += this.writeSync(bytes.subarray(written));
    } catch {
      // Keep what was not written (a part-written line is completed first) and try again soon.
      const rest = new TextDecoder().decode(bytes.subarray(written));
      this.#lines = [rest];
      this.#queuedBytes = rest.length;
      this.#dropped = 0;
      this.#retryLater();
      return;
    }
    this.#lines = [];
    this.#queuedBytes = 0;
    this.#dropped = 0;
  }

  #retryLater(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const timer = setTimeout(() => this.flush(), 50);
    Deno.unrefTimer(timer); // a stuck stderr never keeps the process alive
  }
}

let shared: LineBatcher | undefined;

/**
 * The process's stderr queue, shared by the audit trail and the logs so that
 * their lines keep their order; flushed when the process exits.
 */
export function stderrLines(): LineBatcher {
  if (!shared) {
    const batcher = new LineBatcher((bytes) => Deno.stderr.writeSync(bytes));
    globalThis.addEventListener("unload", () => batcher.flush());
    shared = batcher;
  }
  return shared;
}
