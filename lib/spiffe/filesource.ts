/**
 * An X.509 source read from files, for deployments where spiffe-helper (or
 * cert-manager) writes the SVID to disk: a certificate chain PEM (leaf
 * first), a PKCS#8 key PEM and a bundle PEM of the SVID's own trust domain.
 * The files are reloaded when they change; a half-written or invalid set is
 * reported and the last good SVID stays in use.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { X509Bundle, X509BundleSet } from "./bundle.ts";
import type { TrustDomain } from "./id.ts";
import { StaticX509Source, type X509Source } from "./source.ts";
import { parseX509Svid, type X509Svid } from "./x509svid.ts";

/** Where the files are; names as spiffe-helper's defaults suggest (`svid.pem` ...). */
export interface SvidFiles {
  /** Certificate chain PEM, leaf first (spiffe-helper `svid_file_name`). */
  certFile: string;
  /** PKCS#8 private key PEM (`svid_key_file_name`). */
  keyFile: string;
  /** Trust bundle PEM of the SVID's trust domain (`svid_bundle_file_name`). */
  bundleFile: string;
}

/** Options for {@link createFileX509Source}. */
export interface FileSourceOptions {
  /** Told when a reload fails; the previous SVID stays in use. */
  onError?: (error: Error) => void;
  /** Wait this long after the last change before reloading (writers touch several files). */
  debounceMs?: number;
}

async function load(files: SvidFiles): Promise<{ svid: X509Svid; bundles: X509BundleSet }> {
  const [cert, key, bundle] = await Promise.all([
    Deno.readTextFile(files.certFile),
    Deno.readTextFile(files.keyFile),
    Deno.readTextFile(files.bundleFile),
  ]);
  const svid = parseX509Svid(cert, key);
  return { svid, bundles: new X509BundleSet([X509Bundle.parse(svid.id.trustDomain, bundle)]) };
}

/** An {@link X509Source} backed by files that are watched for changes. */
export class FileX509Source implements X509Source {
  readonly #inner: StaticX509Source;
  readonly #watcher: Deno.FsWatcher;

  /** @internal Use {@link createFileX509Source}. */
  constructor(inner: StaticX509Source, watcher: Deno.FsWatcher) {
    this.#inner = inner;
    this.#watcher = watcher;
  }

  getX509Svid(): X509Svid {
    return this.#inner.getX509Svid();
  }

  getBundles(): X509BundleSet {
    return this.#inner.getBundles();
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.#inner.getX509BundleForTrustDomain(td);
  }

  onUpdate(listener: () => void): () => void {
    return this.#inner.onUpdate(listener);
  }

  /** Stops watching the files. */
  close(): void {
    try {
      this.#watcher.close();
    } catch {
      // already closed
    }
  }
}

/** Loads the files (failing if they are unusable now) and watches them. */
export async function createFileX509Source(
  files: SvidFiles,
  options: FileSourceOptions = {},
): Promise<FileX509Source> {
  const first = await load(files);
  const inner = new StaticX509Source(first.svid, first.bundles);
  // Watch the folders, not the files: writers replace files by renaming.
  const paths = [files.certFile, files.keyFile, files.bundleFile].map((f) => resolve(f));
  const folders = [...new Set(paths.map((p) => dirname(p)))];
  const watcher = Deno.watchFs(folders, { recursive: false });
  const debounceMs = options.debounceMs ?? 200;

  (async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    for await (const event of watcher) {
      if (!event.paths.some((p) => paths.includes(resolve(p)))) continue;
      clearTimeout(timer);
      timer = setTimeout(async () => {
        try {
          const next = await load(files);
          inner.update(next.svid, next.bundles);
        } catch (e) {
          options.onError?.(e as Error);
        }
      }, debounceMs);
    }
    clearTimeout(timer);
  })();

  return new FileX509Source(inner, watcher);
}
