/**
 * The one error an mTLS client request fails with: {@link TransportError}, whose `kind` says
 * what went wrong between us and the server and whose `cause` is the error the TLS or socket
 * layer raised. Callers branch on `kind` (retry, explain to a user) instead of reading
 * messages. The kind comes from the error's `code` (Node's `ECONNREFUSED`, ...) or from the
 * fact that our own identity check refused the server.
 *
 * @module
 */

import { errorMessage } from "../std/errors.ts";

/**
 * What failed:
 * - `refused`: nothing listens there (`ECONNREFUSED`).
 * - `reset`: the connection broke before a whole answer came (`ECONNRESET`, `EPIPE`, a peer
 *   that hung up; a server refusing our certificate looks like this too).
 * - `unreachable`: the host does not resolve or cannot be routed to.
 * - `timeout`: no whole answer before the deadline.
 * - `unauthorized`: the server's SVID did not verify or its SPIFFE ID is not one we talk to.
 * - `tls`: another TLS failure (not TLS at all, a bad handshake).
 * - `protocol`: the answer broke our limits (too large).
 * - `other`: anything else.
 */
export type TransportErrorKind =
  | "refused"
  | "reset"
  | "unreachable"
  | "timeout"
  | "unauthorized"
  | "tls"
  | "protocol"
  | "other";

/** A request that got no HTTP answer. Its message is the cause's (it names the reason). */
export class TransportError extends Error {
  override name = "TransportError";
  /**
   * True when the failure came before any TLS session to the server was established for the
   * request, so no byte of it can have reached the server (a client may then send it
   * elsewhere, even a write). False when unknown.
   */
  unsent = false;

  constructor(readonly kind: TransportErrorKind, cause: unknown, message = errorMessage(cause)) {
    super(message, { cause });
  }
}

const KIND_BY_CODE: Record<string, TransportErrorKind> = {
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  ECONNABORTED: "reset",
  EPIPE: "reset",
  ENOTFOUND: "unreachable",
  EAI_AGAIN: "unreachable",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  ETIMEDOUT: "timeout",
};

/**
 * `e` as a {@link TransportError}: itself if it is one, else classified by its `code`.
 * `facts.unsent` records that the request provably never left (see {@link TransportError.unsent}).
 */
export function toTransportError(e: unknown, facts: { unsent?: boolean } = {}): TransportError {
  const error = e instanceof TransportError ? e : classify(e);
  if (facts.unsent) error.unsent = true;
  return error;
}

function classify(e: unknown): TransportError {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    const kind = KIND_BY_CODE[code] ?? (/^ERR_(SSL|TLS)_/.test(code) ? "tls" : undefined);
    if (kind) return new TransportError(kind, e);
  }
  return new TransportError("other", e);
}
