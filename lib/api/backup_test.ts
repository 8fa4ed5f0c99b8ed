import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ApiError } from "./errors.ts";
import { type BackupRecord, encodeBackup, parseBackup } from "./backup.ts";

const records: BackupRecord[] = [
  { key: ["secret-data", "app/db", 1, 0], value: new Uint8Array([1, 2, 3]) },
  { key: ["system", "key-check"], value: new Uint8Array(40).fill(9) },
];

const refused = (bytes: Uint8Array, reason: RegExp) =>
  assert.throws(() => parseBackup(bytes), (e: unknown) => {
    assert.ok(e instanceof ApiError && e.status === 400, String(e));
    assert.match(e.message, reason);
    return true;
  });

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("a backup reads back as written: keys, bytes, header", () => {
  const bytes = encodeBackup(records, { backend: "kv", created: new Date(0) });
  const { header, records: read } = parseBackup(bytes);
  assert.equal(header.records, 2);
  assert.equal(header.backend, "kv");
  assert.equal(header.created, "1970-01-01T00:00:00.000Z");
  assert.deepEqual(read, records);
  assert.equal(parseBackup(encodeBackup([], { backend: "sqlite" })).records.length, 0);
});

Deno.test("a damaged backup is refused with the reason", () => {
  const good = encodeBackup(records, { backend: "kv" });
  refused(good.subarray(0, good.length - 5), /digest does not match/);
  const flipped = good.slice();
  flipped[flipped.length - 8] ^= 1;
  refused(flipped, /digest does not match/);
  refused(text("no newline"), /no header line/);
  refused(text("{nope\n"), /header line is not JSON/);
  refused(text('{"format":"other"}\n'), /does not name the spike-backup format/);
  const lines = new TextDecoder().decode(good).split("\n");
  const header = JSON.parse(lines[0]);
  refused(text(JSON.stringify({ ...header, version: 2 }) + "\n"), /format version 2/);
  // Digest right, content wrong: the header's count, a key twice, a bad key.
  const withBody = (body: string, records: number) => {
    const encoded = encodeBackup([], { backend: "kv" });
    const h = JSON.parse(new TextDecoder().decode(encoded).split("\n")[0]);
    const digest = createDigest(body);
    return text(JSON.stringify({ ...h, records, digest }) + "\n" + body);
  };
  const line = '{"key":["a",1],"value":"AQI="}\n';
  refused(withBody(line, 2), /header says 2 records, the file holds 1/);
  refused(withBody(line + line, 2), /a key appears twice/);
  refused(withBody('{"key":[],"value":""}\n', 1), /"key" is not a key/);
  refused(withBody('{"key":["a",1.5],"value":""}\n', 1), /strings and integers only/);
  refused(withBody('{"key":["a"],"value":7}\n', 1), /"value" is not base64/);
  refused(withBody(line.slice(0, -1), 1), /last line is not ended/);
});

function createDigest(body: string): string {
  return createHash("sha256").update(text(body)).digest("hex");
}
