/**
 * The backup file (`spike operator backup`, `POST /v1/operator/backup`): the
 * store's records exactly as stored, sealed values and their keys, so it
 * needs no root key to take or to check and survives any change of the
 * sealed record format (rotation adds a key generation to records; a backup
 * carries whatever bytes the store holds).
 *
 * Newline-delimited JSON: a header line
 * `{"format":"spike-backup","version":1,"created","backend","records","digest"}`,
 * then one line per record, `{"key":[...],"value":"<base64>"}`, in key order.
 * `digest` is the SHA-256 (hex) of every byte after the header line, so a
 * truncated or corrupted file is refused before anything is written. It is
 * not a signature: a record altered by someone who also fixes the digest
 * still fails its own AES-GCM check when read, as in the store itself.
 *
 * What is in clear is what the store keeps in clear: secret paths, version
 * numbers and policy names (the keys), and the sizes of records. Values,
 * metadata and policies are sealed under sub-keys of the root key.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { badRequest } from "./errors.ts";
import { fromBase64, toBase64 } from "./json.ts";

/** The header's `format`. */
export const BACKUP_FORMAT = "spike-backup";
/** The header's `version`: what this code writes and reads. */
export const BACKUP_VERSION = 1;
/** The media type of a backup on the wire. */
export const BACKUP_CONTENT_TYPE = "application/x-ndjson";
/** The request header that lets a restore replace a store that holds records. */
export const RESTORE_FORCE_HEADER = "spike-restore-force";

/** A store key: strings and integers. */
export type BackupKey = readonly (string | number)[];

/** One record: its key and its stored (sealed) bytes. */
export interface BackupRecord {
  readonly key: BackupKey;
  readonly value: Uint8Array;
}

/** The first line of a backup. */
export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  /** When the snapshot was taken (RFC 3339, UTC). */
  created: string;
  /** The backend it was taken from (it restores into any). */
  backend: string;
  records: number;
  /** SHA-256 (hex) of every byte after the header line. */
  digest: string;
}

/** A whole backup, read. */
export interface Backup {
  header: BackupHeader;
  records: BackupRecord[];
}

/** The answer of a restore. */
export interface RestoreBackupResponse {
  /** Records written from the backup. */
  records: number;
  /** Records of the store that the backup replaced or removed (with force). */
  replaced: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Writes a backup of `records` (in the order given). */
export function encodeBackup(
  records: readonly BackupRecord[],
  meta: { backend: string; created?: Date },
): Uint8Array {
  const body = encoder.encode(
    records.map((r) => JSON.stringify({ key: r.key, value: toBase64(r.value) }) + "\n").join(""),
  );
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    created: (meta.created ?? new Date()).toISOString(),
    backend: meta.backend,
    records: records.length,
    digest: sha256(body),
  };
  const head = encoder.encode(JSON.stringify(header) + "\n");
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function refuse(why: string): never {
  throw badRequest(`not a usable backup: ${why}`);
}

function readKey(value: unknown, line: number): BackupKey {
  if (!Array.isArray(value) || value.length === 0) refuse(`line ${line}: "key" is not a key`);
  for (const part of value) {
    if (typeof part === "string") continue;
    if (typeof part === "number" && Number.isSafeInteger(part)) continue;
    refuse(`line ${line}: a key holds strings and integers only`);
  }
  return value as BackupKey;
}

/**
 * Reads and checks a whole backup: header, digest, record count, every line's
 * shape, and that no key appears twice. Throws a 400 `api_bad_request` (with
 * the reason in its message, never a value) on the first fault.
 */
export function parseBackup(bytes: Uint8Array): Backup {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) refuse("no header line");
  let header: BackupHeader;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(0, newline)));
  } catch {
    refuse("the header line is not JSON");
  }
  if (header?.format !== BACKUP_FORMAT) refuse("the header does not name the spike-backup format");
  if (header.version !== BACKUP_VERSION) {
    refuse(`format version ${header.version} (this Nexus reads version ${BACKUP_VERSION})`);
  }
  if (!Number.isSafeInteger(header.records) || header.records < 0) refuse("bad record count");
  const body = bytes.subarray(newline + 1);
  if (sha256(body) !== header.digest) {
    refuse("its digest does not match its contents (truncated or corrupted)");
  }
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    refuse("it is not UTF-8");
  }
  const lines = text.split("\n");
  if (lines.pop() !== "") refuse("the last line is not ended");
  if (lines.length !== header.records) {
    refuse(`the header says ${header.records} records, the file holds ${lines.length}`);
  }
  const seen = new Set<string>();
  const records = lines.map((line, i): BackupRecord => {
    let parsed: { key?: unknown; value?: unknown };
    try {
      parsed = JSON.parse(line);
    } catch {
      refuse(`line ${i + 2} is not JSON`);
    }
    const key = readKey(parsed?.key, i + 2);
    const id = JSON.stringify(key);
    if (seen.has(id)) refuse(`line ${i + 2}: a key appears twice`);
    seen.add(id);
    if (typeof parsed.value !== "string") refuse(`line ${i + 2}: "value" is not base64`);
    let value: Uint8Array;
    try {
      value = fromBase64(parsed.value);
    } catch {
      refuse(`line ${i + 2}: "value" is not base64`);
    }
    return { key, value };
  });
  return { header, records };
}
