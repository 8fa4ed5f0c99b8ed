/**
 * The records of a secret path as they are stored: the metadata's shape, and
 * the forms of the record at `["secret-meta", path]`, each sealed under
 * associated data that names what it is, so a record moved elsewhere fails
 * to open (`secrets.ts` keeps the layout and the rules around them).
 *
 * @module
 */

import { IntegrityError, type SealingKey } from "../../lib/crypto/aead.ts";

/** One version's bookkeeping. */
export interface VersionRecord {
  created: number;
  deleted: number | null;
  /** Only in versions written before the store took whole values: their chunk count. */
  chunks?: number;
}

/** A path's metadata, as stored (sealed). */
export interface SecretMeta {
  path: string;
  current: number;
  oldest: number;
  created: number;
  updated: number;
  maxVersions: number;
  versions: Record<string, VersionRecord>;
}

const metaAad = (path: string) => `secret-meta\u0000${path}`;
/** The associated data of a version's data record (chunk `chunk` of `chunks`). */
export const dataAad = (path: string, version: number, chunk: number, chunks: number) =>
  `secret-data\u0000${path}\u0000${version}\u0000${chunk}\u0000${chunks}`;

const decoder = new TextDecoder();

/** First byte of a metadata record that carries the current version's sealed data record. */
const META_RECORD = 0x4d;
const META_HEADER = 1 + 4 + 4;
/** First byte of a metadata record sealed together with the current version's values. */
const JOINT_RECORD = 0x4e;
const jointAad = (path: string) => `secret-meta-joint\u0000${path}`;

/** The current version's sealed data record, as older Nexus versions kept it beside the metadata. */
export interface Inline {
  version: number;
  sealed: Uint8Array;
  json?: undefined;
}

/**
 * The current version's values as read with the metadata: already open (a
 * joint record; the bytes are zeroed once used) or still sealed (an older
 * record's copy).
 */
export type Copy = { version: number; json: Uint8Array; sealed?: undefined } | Inline;

/**
 * The value at `["secret-meta", path]` as older Nexus versions wrote it:
 * `0x4d ‖ version (u32) ‖ length (u32) ‖ sealed data ‖ sealed metadata`, or
 * the sealed metadata alone when there is no copy. A sealed record starts
 * with its format version (0x01 or 0x02), never 0x4d or 0x4e, so every form
 * reads unambiguously. The version in clear only says which version the copy
 * claims to be: it is used only when the metadata (authenticated) names it
 * current, and it opens only under that version's associated data. Nexus
 * still reads this form; it writes {@link sealMetaRecord}'s.
 */
export function encodeMetaRecord(sealedMeta: Uint8Array, inline: Inline | null): Uint8Array {
  if (!inline) return sealedMeta;
  const out = new Uint8Array(META_HEADER + inline.sealed.length + sealedMeta.length);
  const view = new DataView(out.buffer);
  out[0] = META_RECORD;
  view.setUint32(1, inline.version);
  view.setUint32(5, inline.sealed.length);
  out.set(inline.sealed, META_HEADER);
  out.set(sealedMeta, META_HEADER + inline.sealed.length);
  return out;
}

/**
 * The record to store for a path's metadata (`metaJson`): in the joint form
 * with `values` (the current version's), `0x4e ‖ sealed(metadata length
 * (u32) ‖ metadata JSON ‖ values JSON)`, one record under associated data
 * naming the path (and, past generation 1, the root-key generation, as every
 * sealed record); with no values, the metadata sealed alone.
 */
export function sealMetaRecord(
  key: SealingKey,
  path: string,
  metaJson: Uint8Array,
  values: Uint8Array | null,
): Uint8Array {
  if (!values) return key.seal(metaJson, metaAad(path));
  const plain = new Uint8Array(4 + metaJson.length + values.length);
  new DataView(plain.buffer).setUint32(0, metaJson.length);
  plain.set(metaJson, 4);
  plain.set(values, 4 + metaJson.length);
  const sealed = key.seal(plain, jointAad(path));
  plain.fill(0);
  const out = new Uint8Array(1 + sealed.length);
  out[0] = JOINT_RECORD;
  out.set(sealed, 1);
  return out;
}

/**
 * Splits a metadata record into its sealed parts: a joint record's one
 * (`joint`), or an older record's sealed metadata and the copy beside it.
 * Reads only the headers (no key needed), so a sweep can tell which records
 * still need re-sealing.
 */
export function decodeMetaRecord(
  value: Uint8Array,
): { sealedMeta: Uint8Array; inline: Inline | null; joint: boolean } {
  if (value[0] === JOINT_RECORD) {
    return { sealedMeta: value.subarray(1), inline: null, joint: true };
  }
  if (value[0] !== META_RECORD) return { sealedMeta: value, inline: null, joint: false };
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const length = value.length >= META_HEADER ? view.getUint32(5) : Infinity;
  if (META_HEADER + length > value.length) {
    throw new IntegrityError("the metadata record is malformed");
  }
  return {
    inline: {
      version: view.getUint32(1),
      sealed: value.subarray(META_HEADER, META_HEADER + length),
    },
    sealedMeta: value.subarray(META_HEADER + length),
    joint: false,
  };
}

/** A path's metadata as read, with the copy of its current data if there is one. */
export interface MetaRead {
  meta: SecretMeta;
  copy: Copy | null;
}

/**
 * Opens a metadata record of any form (see {@link decodeMetaRecord}): the
 * metadata, and the copy of the current version's values read with it. A
 * joint record's values are open: the caller zeroes `copy.json` once done.
 */
export function openMetaRecord(key: SealingKey, path: string, value: Uint8Array): MetaRead {
  const { sealedMeta, inline, joint } = decodeMetaRecord(value);
  if (!joint) {
    const meta = JSON.parse(decoder.decode(key.open(sealedMeta, metaAad(path))));
    return { meta: meta as SecretMeta, copy: inline };
  }
  const plain = key.open(sealedMeta, jointAad(path));
  const length = plain.length >= 4
    ? new DataView(plain.buffer, plain.byteOffset, plain.byteLength).getUint32(0)
    : Infinity;
  if (4 + length > plain.length) {
    plain.fill(0);
    throw new IntegrityError("the metadata record is malformed");
  }
  try {
    const meta = JSON.parse(decoder.decode(plain.subarray(4, 4 + length))) as SecretMeta;
    return { meta, copy: { version: meta.current, json: plain.subarray(4 + length) } };
  } catch (e) {
    plain.fill(0);
    throw e;
  }
}

/** Zeroes the opened copy of a read (call once the read is done with). */
export function discard(read: MetaRead | null): void {
  read?.copy?.json?.fill(0);
}
