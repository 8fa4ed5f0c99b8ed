/**
 * An X.509 source fed by the Workload API, as go-spiffe's `X509Source`: it
 * holds the latest SVID and bundles, tells listeners on every rotation, and
 * is created only once the first SVID has arrived.
 *
 * @module
 */

import type { X509Bundle, X509BundleSet } from "../bundle.ts";
import type { TrustDomain } from "../id.ts";
import type { X509Source } from "../source.ts";
import type { X509Svid } from "../x509svid.ts";
import { type Backoff, WorkloadApiClient, WorkloadApiError, type X509Context } from "./client.ts";

/** How long to wait for the first SVID when nothing else is said. */
export const DEFAULT_SOURCE_TIMEOUT_MS = 30_000;

/** Options for {@link createX509Source}. */
export interface X509SourceOptions {
  /** Endpoint address; defaults to `SPIFFE_ENDPOINT_SOCKET`. */
  address?: string;
  /** How long to wait for the first SVID; defaults to {@link DEFAULT_SOURCE_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Picks the SVID to use among several; defaults to the first. */
  pick?: (svids: readonly X509Svid[]) => X509Svid;
  /** Told about failures after the first SVID (the source keeps the last good one). */
  onError?: (error: WorkloadApiError) => void;
  /** Reconnection backoff; defaults to go-spiffe's linear 1s..30s. */
  backoff?: Backoff;
}

/** An {@link X509Source} that follows the Workload API stream until closed. */
export class WorkloadX509Source implements X509Source {
  #context: X509Context;
  readonly #pick: (svids: readonly X509Svid[]) => X509Svid;
  readonly #listeners = new Set<() => void>();
  readonly #abort: AbortController;
  readonly #client: WorkloadApiClient;
  #closed = false;

  /** @internal Use {@link createX509Source}. */
  constructor(
    client: WorkloadApiClient,
    abort: AbortController,
    first: X509Context,
    pick: (svids: readonly X509Svid[]) => X509Svid,
  ) {
    this.#client = client;
    this.#abort = abort;
    this.#context = first;
    this.#pick = pick;
  }

  /** @internal Called by the watch with each new snapshot. */
  update(context: X509Context): void {
    if (this.#closed) return;
    this.#context = context;
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure must not stop others from hearing of the rotation.
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new Error("x509source: source is closed");
  }

  /** The endpoint address this source reads from. */
  get address(): string {
    return this.#client.endpoint.address;
  }

  /** The current default SVID. */
  getX509Svid(): X509Svid {
    this.#check();
    return this.#pick(this.#context.svids);
  }

  /** Every SVID the Workload API currently offers. */
  getX509Svids(): readonly X509Svid[] {
    this.#check();
    return this.#context.svids;
  }

  /** The current bundles (own trust domain and federated). */
  getBundles(): X509BundleSet {
    this.#check();
    return this.#context.bundles;
  }

  /** The bundle for a trust domain, if any. */
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    this.#check();
    return this.#context.bundles.get(td);
  }

  /** Registers a listener called after each rotation; returns its removal. */
  onUpdate(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops watching; getters throw afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#abort.abort();
    this.#client.close();
  }
}

/**
 * Connects to the Workload API and resolves once the first SVID arrives.
 * Rejects at once on INVALID_ARGUMENT; otherwise keeps retrying (UNAVAILABLE,
 * PERMISSION_DENIED...) until the timeout, then rejects with an error that
 * names the socket and the last failure.
 */
export function createX509Source(options: X509SourceOptions = {}): Promise<WorkloadX509Source> {
  const client = new WorkloadApiClient(options.address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
  const pick = options.pick ?? ((svids) => svids[0]);
  const abort = new AbortController();
  let source: WorkloadX509Source | undefined;
  let lastError: WorkloadApiError | undefined;

  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      abort.abort();
      client.close();
      reject(error);
    };
    const timer = setTimeout(() => {
      const why = lastError ? ` (last error: ${lastError.message})` : "";
      fail(
        new WorkloadApiError(
          `no X.509-SVID from the Workload API at ${client.endpoint.address} after ${timeoutMs}ms${why}; ` +
            "check that the agent runs, that SPIFFE_ENDPOINT_SOCKET names its socket, " +
            "and that this workload is registered",
        ),
      );
    }, timeoutMs);

    client.watchX509Context(
      {
        onUpdate(context) {
          if (source) return source.update(context);
          clearTimeout(timer);
          source = new WorkloadX509Source(client, abort, context, pick);
          resolve(source);
        },
        onError(error) {
          lastError = error;
          if (source) options.onError?.(error);
        },
      },
      abort.signal,
      options.backoff,
    ).catch((error: WorkloadApiError) => {
      if (!source) return fail(error);
      options.onError?.(error);
    });
  });
}
