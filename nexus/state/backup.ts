/**
 * Backup and restore of a whole store, still sealed (`lib/api/backup.ts` is
 * the file). A backup is the backend's consistent snapshot
 * (`nexus/store/snapshot.ts`) written out as it is: the root key is not used
 * to take it. A restore proves the backup belongs to the key this Nexus
 * holds before it writes anything: the backup's key-check record must open
 * under it (a pending key, as a fresh Nexus gets from the Keepers, is
 * confirmed this way, as Bootstrap's verify confirms a first key).
 *
 * Restore order: everything is read and checked first (format, digest, key
 * check, the store empty unless forced), so bad input changes nothing. Then
 * the records are written in bounded commits (a backend's limits on one
 * commit, Deno KV's above all, rule out one commit for a whole store), with
 * the key-check record (a rotated store's keyring record) last: a restore cut
 * short on a fresh Nexus leaves it without one, still pending, and the same restore can be run again
 * with force. With force, records the backup does not hold are deleted first.
 *
 * @module
 */

import { ApiError, badRequest } from "../../lib/api/errors.ts";
import {
  type Backup,
  encodeBackup,
  parseBackup,
  type RestoreBackupResponse,
} from "../../lib/api/backup.ts";
import type { Logger } from "../../lib/log/log.ts";
import { fromBase64 } from "../../lib/api/json.ts";
import { decodeRecord, KEYRING_KEY } from "./keyring_record.ts";
import { KEY_CHECK_KEY, type RootKeyState } from "./rootkey.ts";
import { snapshotOf } from "../store/snapshot.ts";
import type { Store, StoreKey } from "../store/store.ts";

/** Records per restore commit, and their bytes at most (a larger record goes alone). */
const BATCH_RECORDS = 100;
const BATCH_BYTES = 256 * 1024;
/** The first key element of the kv backend's internal parts; never in a backup. */
const INTERNAL_PREFIXES = new Set(["kv-parts"]);

const keyId = (key: StoreKey) => JSON.stringify(key);
const KEY_CHECK_ID = keyId(KEY_CHECK_KEY);
const KEYRING_ID = keyId(KEYRING_KEY);

/** A consistent snapshot of `store`, as a backup file. */
export async function takeBackup(store: Store, backend: string): Promise<Uint8Array> {
  const entries = await snapshotOf(store);
  if (!entries.some((e) => keyId(e.key) === KEY_CHECK_ID || keyId(e.key) === KEYRING_ID)) {
    throw new Error("the store has no key-check record: there is nothing to back up");
  }
  return encodeBackup(entries, { backend });
}

/** What a restore needs of Nexus. */
export interface RestoreDeps {
  store: Store;
  state: RootKeyState;
  log: Logger;
}

/** Reads and checks a backup against this Nexus's key; throws a 400 saying why not. */
export function checkBackup(deps: RestoreDeps, bytes: Uint8Array): Backup {
  const backup = parseBackup(bytes);
  for (const r of backup.records) {
    if (INTERNAL_PREFIXES.has(String(r.key[0]))) {
      throw badRequest("not a usable backup: it holds a backend's internal record");
    }
  }
  const ring = backup.records.find((r) => keyId(r.key) === KEYRING_ID);
  if (ring) return checkRotatedBackup(deps, backup, ring.value);
  const check = backup.records.find((r) => keyId(r.key) === KEY_CHECK_ID);
  if (!check) throw badRequest("not a usable backup: it has no key-check record");
  if (!deps.state.acceptsKeyCheck(check.value)) {
    deps.log.error(
      "backup restore refused: the backup was made under another root key than this Nexus " +
        "holds; nothing was written",
    );
    throw badRequest("the backup was made under another root key");
  }
  return backup;
}

/**
 * A backup of a store whose key was rotated carries the keyring record (the
 * original key-check is gone). It restores into a Nexus that holds that
 * record's current generation: ready, or pending on the Keepers' shares (a
 * fresh Nexus with the same Keepers). A stable record names no other root
 * key (older cipher keys are wrapped under the current one), so the current
 * key opens all of it. A backup taken mid-rotation is refused.
 */
function checkRotatedBackup(deps: RestoreDeps, backup: Backup, bytes: Uint8Array): Backup {
  let current: number;
  let check: string | undefined;
  try {
    const record = decodeRecord(bytes);
    if (record.state !== "stable") {
      throw badRequest(
        "the backup was taken during a root key rotation: take it again once the rotation is done",
      );
    }
    current = record.current;
    check = record.checks[String(current)];
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw badRequest("not a usable backup: its keyring record cannot be read");
  }
  const { status, generation } = deps.state;
  if (!(status === "pending" || (status === "ready" && generation === current))) {
    deps.log.error(
      "backup restore refused: the backup was made under root key generation " +
        `${current}, which this Nexus does not hold; nothing was written`,
    );
    throw badRequest(
      `the backup was made under root key generation ${current}: restore it into a Nexus ` +
        "that holds that generation",
    );
  }
  if (check === undefined || !deps.state.acceptsKeyCheck(fromBase64(check))) {
    deps.log.error(
      "backup restore refused: the backup was made under another root key than this Nexus " +
        "holds; nothing was written",
    );
    throw badRequest("the backup was made under another root key");
  }
  return backup;
}

/**
 * Loads a backup into the store (see the module's order). Refuses (409
 * `api_conflict`) a store holding any record besides its key check unless
 * `force`; on a pending key, confirms it once every record is written.
 */
export async function restoreBackup(
  deps: RestoreDeps,
  bytes: Uint8Array,
  force: boolean,
): Promise<RestoreBackupResponse> {
  const { store, state, log } = deps;
  const backup = checkBackup(deps, bytes);
  const existing = (await store.list([])).filter((e) =>
    keyId(e.key) !== KEY_CHECK_ID && keyId(e.key) !== KEYRING_ID
  );
  if (existing.length > 0 && !force) {
    log.error("backup restore refused: the store is not empty; nothing was written", {
      records: existing.length,
    });
    throw new ApiError("api_conflict");
  }
  const incoming = new Set(backup.records.map((r) => keyId(r.key)));
  const stale = existing.filter((e) => !incoming.has(keyId(e.key)));
  // The record that makes the store one this key opens (the key check, or a rotated store's
  // keyring record) is written last, alone.
  const last = (r: { key: StoreKey }) =>
    keyId(r.key) === KEY_CHECK_ID || keyId(r.key) === KEYRING_ID;
  const records = backup.records.filter((r) => !last(r));
  const check = backup.records.find((r) => keyId(r.key) === KEY_CHECK_ID);
  const keyring = backup.records.find((r) => keyId(r.key) === KEYRING_ID);

  let tx = store.atomic();
  let count = 0;
  let size = 0;
  const flush = async () => {
    if (count === 0) return;
    if (!(await tx.commit()).ok) throw new Error("a restore commit was refused");
    tx = store.atomic();
    count = 0;
    size = 0;
  };
  for (const e of stale) {
    tx.delete(e.key);
    if (++count >= BATCH_RECORDS) await flush();
  }
  for (const r of records) {
    if (count > 0 && (count >= BATCH_RECORDS || size + r.value.length > BATCH_BYTES)) await flush();
    tx.set(r.key, r.value);
    count++;
    size += r.value.length;
  }
  await flush();
  // Last: on a fresh Nexus this is what makes the store one that this key opens.
  if (check && (await store.get(KEY_CHECK_KEY)) === null) {
    await store.atomic().check(KEY_CHECK_KEY, null).set(KEY_CHECK_KEY, check.value).commit();
  }
  if (keyring) {
    if (!(await store.atomic().set(keyring.key, keyring.value).commit()).ok) {
      throw new Error("a restore commit was refused");
    }
    await state.refresh(); // a ready Nexus learns it here; a pending one when confirmed below
  }
  if (state.status === "pending" && !(await state.confirmPending())) {
    throw new Error("the key-check record changed during the restore");
  }
  log.notice("backup restored", {
    records: backup.records.length,
    replaced: existing.length,
    taken: backup.header.created,
    from: backup.header.backend,
  });
  return { records: backup.records.length, replaced: existing.length };
}
