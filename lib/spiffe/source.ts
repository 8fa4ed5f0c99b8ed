/**
 * Sources of X.509 identity material, as in go-spiffe's `x509svid.Source`,
 * `x509bundle.Source` and `workloadapi.X509Source`: something that always has a current SVID
 * and bundle set, and tells listeners when they change (rotation).
 *
 * @module
 */

import type { X509Bundle, X509BundleSet, X509BundleSource } from "./bundle.ts";
import type { TrustDomain } from "./id.ts";
import type { X509Svid } from "./x509svid.ts";

/** Anything that can hand out our current X.509-SVID. */
export interface X509SvidSource {
  /** The current SVID (it changes on rotation; do not cache it). */
  getX509Svid(): X509Svid;
}

/** A source of our SVID and of the bundles we trust, with change notification. */
export interface X509Source extends X509SvidSource, X509BundleSource {
  /** The current bundle set (own trust domain plus federated ones). */
  getBundles(): X509BundleSet;
  /**
   * Calls `listener` after every change of SVID or bundles.
   * @returns a function that unsubscribes the listener.
   */
  onUpdate(listener: () => void): () => void;
}

/**
 * An {@link X509Source} holding values given to it: for tests, and as the core of sources that
 * load material themselves (files, the Workload API), which call {@link StaticX509Source.update}.
 */
export class StaticX509Source implements X509Source {
  #svid: X509Svid;
  #bundles: X509BundleSet;
  readonly #listeners = new Set<() => void>();

  /** Starts with the given SVID and bundles. */
  constructor(svid: X509Svid, bundles: X509BundleSet) {
    this.#svid = svid;
    this.#bundles = bundles;
  }

  /** The current SVID. */
  getX509Svid(): X509Svid {
    return this.#svid;
  }

  /** The current bundle set. */
  getBundles(): X509BundleSet {
    return this.#bundles;
  }

  /** The current bundle for `td`, or undefined. */
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.#bundles.get(td);
  }

  /** Subscribes to updates; returns the unsubscribe function. */
  onUpdate(listener: () => void): () => void {
    // Wrap so that subscribing the same function twice gives two independent subscriptions.
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Replaces SVID and bundles, then calls every listener. A listener that throws does not stop
   * the others; afterwards the errors are rethrown together as an `AggregateError`.
   */
  update(svid: X509Svid, bundles: X509BundleSet): void {
    this.#svid = svid;
    this.#bundles = bundles;
    const errors: unknown[] = [];
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, `x509source: ${errors.length} update listener(s) failed`);
    }
  }
}
