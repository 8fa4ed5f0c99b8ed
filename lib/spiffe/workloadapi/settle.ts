/**
 * A fact about closing Workload API connections that code without gRPC needs too
 * (the test stack waits it out before stopping its agent), kept apart from the client
 * so that importing it does not load grpc-js.
 *
 * @module
 */

/**
 * How long `WorkloadApiClient.close` holds the connection's GOAWAY back after a
 * stream was cancelled. A RST_STREAM and a GOAWAY that reach a Deno `node:http2`
 * server in one read abort that whole process (an nghttp2 assertion in
 * `find_stream_on_goaway_func`; the dev agent is such a server): measured, an agent
 * died within ~2,500 fetch-and-close cycles at 16 at once, and survived 10,000 with
 * the GOAWAY sent 100 ms after the cancel. SPIRE (Go) is not affected.
 */
export const CANCEL_SETTLE_MS = 100;
