/**
 * A SPIFFE Workload API client over gRPC (`npm:@grpc/grpc-js`), in the manner
 * of go-spiffe's `workloadapi.Client`: one-shot fetches read the first stream
 * message; watches keep the stream open, reconnect with backoff, and stop
 * only when told to or when the server says the request itself is invalid.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { CANCEL_SETTLE_MS } from "./settle.ts";
import { X509Bundle, X509BundleSet } from "../bundle.ts";
import { parseSpiffeId, parseTrustDomain } from "../id.ts";
import { splitConcatenatedDer } from "../pem.ts";
import { parseX509Svid, type X509Svid } from "../x509svid.ts";
import {
  endpointAddressFromEnv,
  grpcTarget,
  parseEndpointAddress,
  type WorkloadEndpoint,
} from "../endpoint.ts";
import {
  SECURITY_HEADER,
  workloadApiService,
  type X509BundlesResponseMessage,
  type X509SvidResponseMessage,
} from "./proto.ts";

/** What `FetchX509SVID` delivers: the SVIDs (default first) and every bundle. */
export interface X509Context {
  readonly svids: readonly X509Svid[];
  readonly bundles: X509BundleSet;
}

/** A Workload API failure, carrying the gRPC status code. */
export class WorkloadApiError extends Error {
  override name = "WorkloadApiError";
  constructor(
    message: string,
    /** The gRPC status code (`grpc.status`), or undefined for a local failure. */
    readonly code?: grpc.status,
  ) {
    super(message);
  }
}

/** Callbacks for a watch. */
export interface X509ContextWatcher {
  onUpdate(context: X509Context): void;
  /** Called for each failed attempt or unusable message; the watch goes on unless it is fatal. */
  onError?(error: WorkloadApiError): void;
}

/** Backoff between reconnections: go-spiffe's linear 1s, 2s, 3s... capped at 30s. */
export interface Backoff {
  next(): number;
  reset(): void;
}

/** go-spiffe's default backoff: linear steps of `stepMs`, at most `maxMs`. */
export function linearBackoff(stepMs = 1000, maxMs = 30_000): Backoff {
  let attempt = 0;
  return {
    next: () => Math.min(++attempt * stepMs, maxMs),
    reset: () => {
      attempt = 0;
    },
  };
}

const ServiceClient = grpc.makeGenericClientConstructor(workloadApiService, "SpiffeWorkloadAPI");

/**
 * Status codes after which a watch stops instead of retrying. Not CANCELLED: go-spiffe
 * stops on it because in Go it means the caller's own context, but grpc-js also reports a
 * server that shuts its streams down (an agent restarting) as CANCELLED, and a watch that
 * stopped then would never see another SVID. Our own cancel ends the watch by its signal.
 */
const FATAL_CODES = new Set([grpc.status.INVALID_ARGUMENT]);

function describeStatus(error: grpc.ServiceError, endpoint: WorkloadEndpoint): WorkloadApiError {
  const name = grpc.status[error.code] ?? String(error.code);
  // grpc-js ends some details with an empty "Resolution note:"; it says nothing.
  const details = (error.details || error.message).replace(/\.?\s*Resolution note:\s*$/, "");
  return new WorkloadApiError(
    `Workload API at ${endpoint.address}: ${name}: ${details}`,
    error.code,
  );
}

/** Turns a `FetchX509SVID` message into SVIDs and bundles, validating everything. */
export function parseX509SvidResponse(message: X509SvidResponseMessage): X509Context {
  if (message.svids.length === 0) {
    throw new WorkloadApiError("Workload API response holds no SVID");
  }
  const bundles: X509Bundle[] = [];
  const seenHints = new Set<string>();
  const svids: X509Svid[] = [];
  for (const entry of message.svids) {
    // The spec lets clients keep the first of several SVIDs that share a hint.
    if (entry.hint !== "" && seenHints.has(entry.hint)) continue;
    seenHints.add(entry.hint);
    const svid = parseX509Svid(
      splitConcatenatedDer(entry.x509_svid),
      entry.x509_svid_key,
      entry.hint,
    );
    svids.push(svid);
    const td = parseSpiffeId(entry.spiffe_id).trustDomain;
    if (!bundles.some((b) => b.trustDomain.equals(td))) {
      bundles.push(X509Bundle.parse(td, entry.bundle));
    }
  }
  for (const [key, der] of Object.entries(message.federated_bundles)) {
    const td = parseTrustDomain(key);
    if (bundles.some((b) => b.trustDomain.equals(td))) continue;
    bundles.push(X509Bundle.parse(td, der));
  }
  return { svids, bundles: new X509BundleSet(bundles) };
}

/** Turns a `FetchX509Bundles` message into a bundle set. */
export function parseX509BundlesResponse(message: X509BundlesResponseMessage): X509BundleSet {
  const bundles = Object.entries(message.bundles).map(([key, der]) =>
    X509Bundle.parse(parseTrustDomain(key), der)
  );
  if (bundles.length === 0) throw new WorkloadApiError("Workload API response holds no bundle");
  return new X509BundleSet(bundles);
}

/** A connection to one Workload API endpoint. */
export class WorkloadApiClient {
  /** The endpoint this client talks to. */
  readonly endpoint: WorkloadEndpoint;
  readonly #client: grpc.Client;
  #lastCancel = -Infinity;

  /** @param address `unix:///path` or `tcp://ip:port`; defaults to `SPIFFE_ENDPOINT_SOCKET`. */
  constructor(address: string = endpointAddressFromEnv()) {
    this.endpoint = parseEndpointAddress(address);
    this.#client = new ServiceClient(grpcTarget(this.endpoint), grpc.credentials.createInsecure());
  }

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(SECURITY_HEADER, "true");
    return metadata;
  }

  #open<T>(method: "FetchX509SVID" | "FetchX509Bundles"): grpc.ClientReadableStream<T> {
    const call = (this.#client as unknown as Record<
      string,
      (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<T>
    >)[method];
    return call.call(this.#client, {}, this.#metadata());
  }

  /** Reads the first message of a stream, then cancels it. */
  #first<T, R>(
    method: "FetchX509SVID" | "FetchX509Bundles",
    parse: (message: T) => R,
    timeoutMs: number,
  ): Promise<R> {
    return new Promise((resolve, reject) => {
      const stream = this.#open<T>(method);
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#cancel(stream);
        fn();
      };
      const timer = setTimeout(() =>
        finish(() =>
          reject(
            new WorkloadApiError(
              `no answer from the Workload API at ${this.endpoint.address} within ${timeoutMs}ms`,
              grpc.status.DEADLINE_EXCEEDED,
            ),
          )
        ), timeoutMs);
      stream.on("data", (message: T) => {
        finish(() => {
          try {
            resolve(parse(message));
          } catch (e) {
            reject(e);
          }
        });
      });
      stream.on(
        "error",
        (e: grpc.ServiceError) => finish(() => reject(describeStatus(e, this.endpoint))),
      );
      stream.on(
        "end",
        () =>
          finish(() =>
            reject(
              new WorkloadApiError(`Workload API at ${this.endpoint.address} closed the stream`),
            )
          ),
      );
    });
  }

  /** The SVIDs and bundles as of now. */
  fetchX509Context(timeoutMs = 30_000): Promise<X509Context> {
    return this.#first("FetchX509SVID", parseX509SvidResponse, timeoutMs);
  }

  /** The default (first) SVID. */
  async fetchX509Svid(timeoutMs = 30_000): Promise<X509Svid> {
    return (await this.fetchX509Context(timeoutMs)).svids[0];
  }

  /** The trust bundles, from the `FetchX509Bundles` method. */
  fetchX509Bundles(timeoutMs = 30_000): Promise<X509BundleSet> {
    return this.#first("FetchX509Bundles", parseX509BundlesResponse, timeoutMs);
  }

  /**
   * Watches `FetchX509SVID` until `signal` aborts or the server answers
   * INVALID_ARGUMENT (then the promise rejects with that error). Every other
   * failure is reported to `onError` and retried after `backoff`.
   */
  watchX509Context(
    watcher: X509ContextWatcher,
    signal: AbortSignal,
    backoff: Backoff = linearBackoff(),
  ): Promise<void> {
    return this.#watch("FetchX509SVID", parseX509SvidResponse, watcher, signal, backoff);
  }

  /** Watches `FetchX509Bundles` with the same rules as {@link watchX509Context}. */
  watchX509Bundles(
    watcher: { onUpdate(bundles: X509BundleSet): void; onError?(error: WorkloadApiError): void },
    signal: AbortSignal,
    backoff: Backoff = linearBackoff(),
  ): Promise<void> {
    return this.#watch("FetchX509Bundles", parseX509BundlesResponse, watcher, signal, backoff);
  }

  async #watch<T, R>(
    method: "FetchX509SVID" | "FetchX509Bundles",
    parse: (message: T) => R,
    watcher: { onUpdate(value: R): void; onError?(error: WorkloadApiError): void },
    signal: AbortSignal,
    backoff: Backoff,
  ): Promise<void> {
    while (!signal.aborted) {
      const error = await new Promise<WorkloadApiError | undefined>((resolve) => {
        const stream = this.#open<T>(method);
        const onAbort = () => this.#cancel(stream);
        signal.addEventListener("abort", onAbort, { once: true });
        const done = (e?: WorkloadApiError) => {
          signal.removeEventListener("abort", onAbort);
          resolve(e);
        };
        stream.on("data", (message: T) => {
          let value: R;
          try {
            value = parse(message);
          } catch (e) {
            // go-spiffe reports a bad message and keeps the stream open.
            watcher.onError?.(
              new WorkloadApiError(`unusable Workload API message: ${(e as Error).message}`),
            );
            return;
          }
          backoff.reset();
          watcher.onUpdate(value);
        });
        stream.on("error", (e: grpc.ServiceError) => done(describeStatus(e, this.endpoint)));
        stream.on("end", () => done(undefined));
      });
      if (signal.aborted) return;
      if (error?.code !== undefined && FATAL_CODES.has(error.code)) throw error;
      watcher.onError?.(
        error ?? new WorkloadApiError(`Workload API at ${this.endpoint.address} ended the stream`),
      );
      await abortableDelay(backoff.next(), signal);
    }
  }

  #cancel(stream: grpc.ClientReadableStream<unknown>): void {
    this.#lastCancel = performance.now();
    stream.cancel();
  }

  /**
   * Closes the connection. Right after a cancelled stream the close is held back
   * for {@link CANCEL_SETTLE_MS} on a timer that does not keep the process alive
   * (a process that exits first just drops the connection, which servers take well).
   */
  close(): void {
    const wait = CANCEL_SETTLE_MS - (performance.now() - this.#lastCancel);
    if (wait <= 0) {
      this.#client.close();
      return;
    }
    Deno.unrefTimer(setTimeout(() => this.#client.close(), wait));
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    }
  });
}
