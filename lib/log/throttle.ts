/**
 * One log line per burst: an event that may come by the thousand (refused connections
 * during an attack) is told at once the first time, then counted, and the count is told
 * once per window while it goes on. Events are grouped by a key (the kind of refusal),
 * so one kind's flood does not hide another's first line. The log stays readable and
 * cannot fill a disk.
 *
 * @module
 */

interface Burst<T> {
  suppressed: number;
  last: T | undefined;
  timer: ReturnType<typeof setTimeout>;
}

/** Says the first event of each kind and window now, and the rest as one count later. */
export class Throttle<T> {
  readonly #bursts = new Map<string, Burst<T>>();

  /**
   * @param windowMs how long after a told event the next ones of its kind are only counted
   * @param tell gets each told event, with how many like it were counted before it (0 for
   *   the first of a burst)
   * @param kind groups events (default: all one kind)
   */
  constructor(
    readonly windowMs: number,
    readonly tell: (event: T, suppressed: number) => void,
    readonly kind: (event: T) => string = () => "",
  ) {}

  /** An event happened. */
  note(event: T): void {
    const key = this.kind(event);
    const burst = this.#bursts.get(key);
    if (!burst) {
      this.tell(event, 0);
      this.#open(key);
      return;
    }
    burst.suppressed++;
    burst.last = event;
  }

  #open(key: string): void {
    const timer = setTimeout(() => {
      const burst = this.#bursts.get(key)!;
      this.#bursts.delete(key);
      if (burst.suppressed === 0) return;
      this.tell(burst.last!, burst.suppressed);
      this.#open(key);
    }, this.windowMs);
    // A quiet server must still be able to exit.
    Deno.unrefTimer(timer);
    this.#bursts.set(key, { suppressed: 0, last: undefined, timer });
  }

  /** Tells what is still counted, and stops the timers. */
  flush(): void {
    for (const burst of this.#bursts.values()) {
      clearTimeout(burst.timer);
      if (burst.suppressed > 0) this.tell(burst.last!, burst.suppressed);
    }
    this.#bursts.clear();
  }
}

/** The kind of a refusal reason: its words before any address, number or detail. */
export function refusalKind(reason: string): string {
  return reason.split(/ from | \(|: /)[0];
}
