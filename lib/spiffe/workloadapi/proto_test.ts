import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { workloadApiService, type X509SvidResponseMessage } from "./proto.ts";

Deno.test("FetchX509SVID messages use the spec's field numbers", () => {
  const method = workloadApiService.FetchX509SVID;
  assert.equal(method.path, "/SpiffeWorkloadAPI/FetchX509SVID");
  const message: X509SvidResponseMessage = {
    svids: [{
      spiffe_id: "spiffe://a.org/w",
      x509_svid: new Uint8Array([1, 2]),
      x509_svid_key: new Uint8Array([3]),
      bundle: new Uint8Array([4]),
      hint: "h",
    }],
    crl: [],
    federated_bundles: { "spiffe://b.org": new Uint8Array([5]) },
  };
  const bytes = method.responseSerialize(message);
  // svids = 1 (length-delimited, tag 0x0a) holding spiffe_id = 1 (0x0a), x509_svid = 2 (0x12),
  // x509_svid_key = 3 (0x1a), bundle = 4 (0x22), hint = 5 (0x2a); federated_bundles = 3 (0x1a)
  // as map entries with key = 1 and value = 2.
  const svid = [0x0a, 16, ...new TextEncoder().encode("spiffe://a.org/w")];
  const inner = [...svid, 0x12, 2, 1, 2, 0x1a, 1, 3, 0x22, 1, 4, 0x2a, 1, 0x68];
  const entry = [0x0a, 14, ...new TextEncoder().encode("spiffe://b.org"), 0x12, 1, 5];
  assert.deepEqual([...bytes], [0x0a, inner.length, ...inner, 0x1a, entry.length, ...entry]);
  const back = method.responseDeserialize(Buffer.from(bytes));
  assert.equal(back.svids[0].spiffe_id, "spiffe://a.org/w");
  assert.deepEqual([...back.svids[0].x509_svid], [1, 2]);
  assert.deepEqual([...back.federated_bundles["spiffe://b.org"]], [5]);
  assert.deepEqual(back.crl, []);
});

Deno.test("an empty message decodes with defaults", () => {
  const back = workloadApiService.FetchX509Bundles.responseDeserialize(Buffer.alloc(0));
  assert.deepEqual(back.bundles, {});
  assert.deepEqual(back.crl, []);
});
