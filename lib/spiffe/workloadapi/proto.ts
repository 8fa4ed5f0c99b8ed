/**
 * The SPIFFE Workload API's X.509 messages and methods, with the field names
 * and numbers of `standards/workloadapi.proto` (github.com/spiffe/spiffe). There is no protobuf package:
 * methods live at `/SpiffeWorkloadAPI/<Method>`, as SPIRE and go-spiffe expect.
 * Only the X.509 profile is described; JWT methods are not used here, and a
 * server built from this answers them with UNIMPLEMENTED.
 *
 * @module
 */

import protobuf from "protobufjs";
import type { MethodDefinition } from "@grpc/grpc-js";
import { Buffer } from "node:buffer";

const PROTO = `
syntax = "proto3";

message X509SVIDRequest {}

message X509SVIDResponse {
  repeated X509SVID svids = 1;
  repeated bytes crl = 2;
  map<string, bytes> federated_bundles = 3;
}

message X509SVID {
  string spiffe_id = 1;
  bytes x509_svid = 2;
  bytes x509_svid_key = 3;
  bytes bundle = 4;
  string hint = 5;
}

message X509BundlesRequest {}

message X509BundlesResponse {
  repeated bytes crl = 1;
  map<string, bytes> bundles = 2;
}

service SpiffeWorkloadAPI {
  rpc FetchX509SVID(X509SVIDRequest) returns (stream X509SVIDResponse);
  rpc FetchX509Bundles(X509BundlesRequest) returns (stream X509BundlesResponse);
}
`;

/** The security header every Workload API call must carry with the value `true`. */
export const SECURITY_HEADER = "workload.spiffe.io";

/** One SVID as it travels on the wire. */
export interface X509SvidMessage {
  spiffe_id: string;
  /** DER certificates concatenated, leaf first. */
  x509_svid: Uint8Array;
  /** PKCS#8 DER private key. */
  x509_svid_key: Uint8Array;
  /** Concatenated DER roots of the SVID's own trust domain. */
  bundle: Uint8Array;
  hint: string;
}

/** `FetchX509SVID` stream message: a complete snapshot. */
export interface X509SvidResponseMessage {
  svids: X509SvidMessage[];
  crl: Uint8Array[];
  /** Keyed by trust domain SPIFFE ID (`spiffe://other.org`). */
  federated_bundles: Record<string, Uint8Array>;
}

/** `FetchX509Bundles` stream message. */
export interface X509BundlesResponseMessage {
  crl: Uint8Array[];
  bundles: Record<string, Uint8Array>;
}

const root = protobuf.parse(PROTO, { keepCase: true }).root;

function codec<T>(typeName: string) {
  const type = root.lookupType(typeName);
  return {
    serialize: (value: T): Buffer => {
      const message = type.fromObject(value as Record<string, unknown>);
      return Buffer.from(type.encode(message).finish());
    },
    deserialize: (bytes: Buffer): T =>
      type.toObject(type.decode(bytes), { defaults: true, arrays: true, objects: true }) as T,
  };
}

function streamingMethod<Req, Res>(
  name: string,
  requestType: string,
  responseType: string,
): MethodDefinition<Req, Res> {
  const req = codec<Req>(requestType);
  const res = codec<Res>(responseType);
  return {
    path: `/SpiffeWorkloadAPI/${name}`,
    requestStream: false,
    responseStream: true,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
  };
}

/** The service definition, usable by grpc-js clients and servers alike. */
export const workloadApiService = {
  FetchX509SVID: streamingMethod<Record<never, never>, X509SvidResponseMessage>(
    "FetchX509SVID",
    "X509SVIDRequest",
    "X509SVIDResponse",
  ),
  FetchX509Bundles: streamingMethod<Record<never, never>, X509BundlesResponseMessage>(
    "FetchX509Bundles",
    "X509BundlesRequest",
    "X509BundlesResponse",
  ),
};
