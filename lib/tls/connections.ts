/**
 * The connections of an mTLS server, tracked so that closing it is graceful: idle keep-alive
 * connections close at once, busy ones after their last response, and after a grace time
 * everything is cut (including connections still in their handshake). They are also counted,
 * in total and per peer address, so that one address (or everyone together) cannot hold
 * more than its cap of sockets: a connection over a cap is closed before its handshake.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** Caps on open connections; 0 means no cap. */
export interface ConnectionCaps {
  /** Open connections in all. */
  total: number;
  /** Open connections from one peer IP address. */
  perAddress: number;
}

/** Why {@link ConnectionTracker.accepted} turned a connection away. */
export type OverCap = "total" | "address";

/** Tracks raw and verified connections and the requests in flight on each. */
export class ConnectionTracker {
  #closing = false;
  readonly #inFlight = new Map<TLSSocket, number>();
  readonly #raw = new Set<Socket>();
  readonly #byAddress = new Map<string, number>();

  constructor(readonly caps: ConnectionCaps = { total: 0, perAddress: 0 }) {}

  /** True once {@link beginClose} was called: new connections are refused, kept ones not reused. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Connections open now: in all, and from `address`. */
  open(address?: string): number {
    return address === undefined ? this.#raw.size : this.#byAddress.get(address) ?? 0;
  }

  /**
   * A TCP connection arrived (before TLS). Over a cap it is not tracked: the result says
   * which cap, and the caller closes it.
   */
  accepted(socket: Socket): OverCap | undefined {
    const address = socket.remoteAddress ?? "unknown";
    const { total, perAddress } = this.caps;
    if (total > 0 && this.#raw.size >= total) return "total";
    const fromAddress = this.#byAddress.get(address) ?? 0;
    if (perAddress > 0 && fromAddress >= perAddress) return "address";
    this.#raw.add(socket);
    this.#byAddress.set(address, fromAddress + 1);
    socket.once("close", () => {
      this.#raw.delete(socket);
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left === 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, left);
    });
    return undefined;
  }

  /** A TLS connection's peer was verified: from now on it can carry requests. */
  verified(socket: TLSSocket): void {
    this.#inFlight.set(socket, 0);
    socket.once("close", () => this.#inFlight.delete(socket));
  }

  /** A request started on `socket`; it counts until `res` closes. */
  started(socket: TLSSocket, res: ServerResponse): void {
    this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1);
    if (this.#closing) res.shouldKeepAlive = false;
    res.once("close", () => {
      const left = (this.#inFlight.get(socket) ?? 1) - 1;
      this.#inFlight.set(socket, left);
      if (this.#closing && left === 0) socket.destroy();
      if (this.#closing) this.closeIdle();
    });
  }

  /**
   * Starts closing: every connection is cut after `graceMs`. Returns a function that cancels
   * that cut (call it once the server has closed).
   */
  beginClose(graceMs: number): () => void {
    this.#closing = true;
    const timer = setTimeout(() => {
      for (const s of this.#inFlight.keys()) s.destroy();
      for (const s of this.#raw) s.destroy();
    }, graceMs);
    return () => clearTimeout(timer);
  }

  /**
   * Destroys the verified connections that carry no request right now, and once no request is
   * in flight anywhere, the connections still in their handshake (or never starting one): they
   * would otherwise hold the server's close for the whole grace time.
   */
  closeIdle(): void {
    for (const [socket, count] of this.#inFlight) if (count === 0) socket.destroy();
    if ([...this.#inFlight.values()].some((n) => n > 0)) return;
    for (const s of this.#raw) s.destroy();
  }
}
