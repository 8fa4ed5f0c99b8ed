/**
 * Policies, stored sealed under the policies sub-key at `["policy", name]`
 * (the name is in clear in the key; patterns, permissions and times are
 * sealed, bound to the name).
 *
 * Every policy write also rewrites `["policy-generation"]` in the same
 * commit, so that record's versionstamp changes whenever any policy does.
 * The opened policy set is kept in memory with the generation it was read
 * at; each request that needs the policies reads the generation (one small
 * store read) and uses the set only when it is unchanged, else lists the
 * store again. The generation is read before the listing, so a set is never
 * tagged newer than what it holds. Several Nexus replicas sharing a store
 * therefore never act on a stale policy: a write through one governs the
 * very next request on another.
 *
 * @module
 */

import { notFound } from "../../lib/api/errors.ts";
import { sealedGeneration, type SealingKey } from "../../lib/crypto/aead.ts";
import type { Permission } from "../../lib/api/policies.ts";
import type { StoredPolicy } from "../auth/policy.ts";
import { compareAndSet, type Store, type StoreKey, type StoreTransaction } from "../store/store.ts";
import { type Generations, withGenerations } from "./secrets.ts";

const key = (name: string): StoreKey => ["policy", name];
/** Rewritten by every policy write; its versionstamp is the policy set's generation. */
export const GENERATION_KEY: StoreKey = ["policy-generation"];
const aad = (name: string) => `policy\u0000${name}`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Sealed {
  name: string;
  spiffeIdPattern: string;
  pathPattern: string;
  permissions: Permission[];
  createdAt: number;
  updatedAt: number;
}

/** The policies of one Nexus. */
export class Policies {
  /**
   * Decrypted policies by name, with the versionstamp they were read at, so
   * that a new listing decrypts only the records that changed.
   */
  readonly #opened = new Map<string, { versionstamp: string; policy: StoredPolicy }>();
  /** The whole set as last listed, with the generation read just before the listing. */
  #set: { generation: string | null; policies: readonly StoredPolicy[] } | undefined;

  constructor(
    readonly store: Store,
    readonly key: () => SealingKey,
    /** The root key's generations (absent: one key, as in unit tests). */
    readonly generations?: Generations,
  ) {}

  #open(name: string, value: Uint8Array): StoredPolicy {
    const p = JSON.parse(decoder.decode(this.key().open(value, aad(name)))) as Sealed;
    if (p.name !== name) throw new Error(`policy record ${name} names ${p.name}`);
    return { ...p, createdAt: new Date(p.createdAt), updatedAt: new Date(p.updatedAt) };
  }

  /** Creates or replaces a policy by name, keeping its creation time. */
  async put(
    policy: Omit<StoredPolicy, "createdAt" | "updatedAt">,
  ): Promise<StoredPolicy> {
    return await compareAndSet(this.store, key(policy.name), async (entry, tx, attempt) => {
      await this.generations?.guard(tx, attempt);
      const now = Date.now();
      const createdAt = entry ? this.#open(policy.name, entry.value).createdAt.getTime() : now;
      const sealed: Sealed = {
        name: policy.name,
        spiffeIdPattern: policy.spiffeIdPattern,
        pathPattern: policy.pathPattern,
        permissions: [...policy.permissions],
        createdAt,
        updatedAt: now,
      };
      tx.set(
        key(policy.name),
        this.key().seal(encoder.encode(JSON.stringify(sealed)), aad(policy.name)),
      );
      bumpGeneration(tx);
      return { ...sealed, createdAt: new Date(createdAt), updatedAt: new Date(now) };
    }, { what: `policy ${policy.name}` });
  }

  /** A policy by name; 404 when there is none. */
  get(name: string): Promise<StoredPolicy> {
    return withGenerations(this.generations, async () => {
      const entry = await this.store.get(key(name));
      if (!entry) throw notFound();
      return this.#open(name, entry.value);
    });
  }

  /** Deletes a policy by name; 404 when there is none. */
  async delete(name: string): Promise<void> {
    await compareAndSet(this.store, key(name), (entry, tx) => {
      if (!entry) throw notFound();
      tx.delete(key(name));
      bumpGeneration(tx);
    }, { what: `policy ${name}` });
  }

  /** Every policy, in name order, as the store holds them now. */
  all(): Promise<readonly StoredPolicy[]> {
    return withGenerations(this.generations, () => this.#all());
  }

  async #all(): Promise<readonly StoredPolicy[]> {
    const generation = (await this.store.get(GENERATION_KEY))?.versionstamp ?? null;
    const known = this.#set;
    if (known && known.generation === generation) return known.policies;
    const entries = await this.store.list(["policy"]);
    const seen = new Set<string>();
    const policies = entries.map((e) => {
      const name = String(e.key[1]);
      seen.add(name);
      const known = this.#opened.get(name);
      if (known?.versionstamp === e.versionstamp) return known.policy;
      const policy = this.#open(name, e.value);
      this.#opened.set(name, { versionstamp: e.versionstamp, policy });
      return policy;
    });
    for (const name of this.#opened.keys()) if (!seen.has(name)) this.#opened.delete(name);
    this.#set = { generation, policies: Object.freeze(policies) };
    return policies;
  }
}

/**
 * Re-seals policy `name` under the current generation when it is not (a
 * rotation's sweep); a concurrent write wins and it is read again. The
 * policy set's generation is not bumped: what the policy says is unchanged.
 */
export async function resealPolicy(
  policies: Policies,
  name: string,
  isCurrent: (gen: number) => boolean,
): Promise<boolean> {
  return await compareAndSet(policies.store, key(name), async (entry, tx, attempt) => {
    await policies.generations?.guard(tx, attempt);
    if (!entry || isCurrent(sealedGeneration(entry.value))) return false;
    const k = policies.key();
    tx.set(key(name), k.seal(k.open(entry.value, aad(name)), aad(name)));
    return true;
  }, { what: `policy ${name}` });
}

/** Adds the generation's rewrite to a policy write (random bytes: only the versionstamp counts). */
function bumpGeneration(tx: StoreTransaction): void {
  tx.set(GENERATION_KEY, crypto.getRandomValues(new Uint8Array(8)));
}
