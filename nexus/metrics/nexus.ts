/**
 * Nexus's metrics: requests by route and status, request latency, store
 * operation latency, readiness, key generation, Keeper reachability and how
 * long the root key has been held. Request figures come from the
 * dispatcher's completion records; store figures from {@link instrumentStore}
 * (a wrapper, not code inside each backend); the rest is read from Nexus's
 * state at each scrape.
 *
 * @module
 */

import type { Completion } from "../../lib/http/dispatch.ts";
import { VERSION } from "../../lib/program/version.ts";
import type { KeyStatus } from "../state/rootkey.ts";
import type { KeeperProbe } from "../state/keeper_probe.ts";
import { type Store, wrapStore } from "../store/store.ts";
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, Registry } from "./registry.ts";

/** What the scrape-time gauges read. */
export interface NexusMetricsSources {
  backend: string;
  keyStatus: () => KeyStatus;
  keyGeneration: () => number;
  /** Called first at each scrape: learns another replica's rotation (`RootKeyState.learnLatest`). */
  learnKey?: () => Promise<void>;
  keeperProbe?: Pick<KeeperProbe, "check">;
  now?: () => number;
}

/** The store operations timed, as the `operation` label names them. */
export type StoreOperation = "get" | "list" | "commit";

/** Every Nexus metric, in one registry. */
export class NexusMetrics {
  readonly registry = new Registry();
  readonly requests = this.registry.register(
    new Counter("spike_nexus_requests_total", "Requests answered, by route and HTTP status.", [
      "route",
      "status",
    ]),
  );
  readonly requestDuration = this.registry.register(
    new Histogram(
      "spike_nexus_request_duration_seconds",
      "Time from a request's arrival to its answer, by route.",
      ["route"],
      LATENCY_BUCKETS,
    ),
  );
  readonly storeDuration = this.registry.register(
    new Histogram(
      "spike_nexus_store_operation_duration_seconds",
      "Time of one store operation (get, list, commit), by operation.",
      ["operation"],
      LATENCY_BUCKETS,
    ),
  );
  readonly storeErrors = this.registry.register(
    new Counter(
      "spike_nexus_store_operation_errors_total",
      "Store operations that failed (threw), by operation.",
      ["operation"],
    ),
  );
  readonly #ready = this.registry.register(
    new Gauge("spike_nexus_ready", "1 when Nexus holds its root key and serves, else 0."),
  );
  readonly #generation = this.registry.register(
    new Gauge(
      "spike_nexus_root_key_generation",
      "Generation of the root key in use (1 until root-key rotation exists; 0 before a key).",
    ),
  );
  readonly #held = this.registry.register(
    new Gauge(
      "spike_nexus_root_key_held_seconds",
      "Seconds this Nexus has held the root key in use: a lower bound of the key's age " +
        "(when a key was made is not recorded before rotation exists). Absent before a key.",
    ),
  );
  readonly #reachable = this.registry.register(
    new Gauge(
      "spike_nexus_keeper_reachable",
      "1 when the Keeper answered Nexus within the probe's deadline, else 0.",
      ["keeper", "index"],
    ),
  );
  readonly #holdsShare = this.registry.register(
    new Gauge(
      "spike_nexus_keeper_holds_share",
      "1 when the Keeper holds the share of its position, else 0.",
      ["keeper", "index"],
    ),
  );
  readonly #info = this.registry.register(
    new Gauge("spike_nexus_build_info", "Always 1; labels name the version and backend.", [
      "version",
      "backend",
    ]),
  );
  #readySince: number | undefined;

  constructor(sources: NexusMetricsSources) {
    const now = sources.now ?? (() => Date.now());
    this.#info.set([VERSION, sources.backend], 1);
    this.registry.onCollect(async () => {
      await sources.learnKey?.();
      const ready = sources.keyStatus() === "ready";
      this.#ready.set([], ready ? 1 : 0);
      this.#generation.set([], sources.keyGeneration());
      if (ready) this.#readySince ??= now();
      else this.#readySince = undefined;
      this.#held.reset();
      if (this.#readySince !== undefined) {
        this.#held.set([], Math.max(0, (now() - this.#readySince) / 1000));
      }
      if (sources.keeperProbe) {
        this.#reachable.reset();
        this.#holdsShare.reset();
        for (const k of await sources.keeperProbe.check()) {
          this.#reachable.set([k.url, String(k.index)], k.reachable ? 1 : 0);
          this.#holdsShare.set([k.url, String(k.index)], k.holdsShare ? 1 : 0);
        }
      }
    });
  }

  /** Notes the moment the root key became ready (more precise than the first scrape after). */
  keyReady(at = Date.now()): void {
    this.#readySince = at;
  }

  /** Counts one answered request (the dispatcher's completion record). */
  record(completion: Completion): void {
    // Unknown routes share one label: a caller cannot grow the series with made-up paths.
    const route = completion.route ?? "unknown";
    this.requests.inc([route, String(completion.status)]);
    this.requestDuration.observe([route], completion.durationMs / 1000);
  }

  /** The text exposition. */
  expose(): Promise<string> {
    return this.registry.expose();
  }
}

/**
 * `store` with its get, list and commit timed into `metrics`. Everything
 * else the store has is passed through untouched, so a backend's own
 * additions keep working.
 */
export function instrumentStore(store: Store, metrics: NexusMetrics): Store {
  const timed = async <T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } catch (e) {
      metrics.storeErrors.inc([operation]);
      throw e;
    } finally {
      metrics.storeDuration.observe([operation], (performance.now() - started) / 1000);
    }
  };
  return wrapStore(store, {
    get: (key) => timed("get", () => store.get(key)),
    list: (prefix, options) => timed("list", () => store.list(prefix, options)),
    commit: (inner) => timed("commit", () => inner.commit()),
  });
}
