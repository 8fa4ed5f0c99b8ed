/**
 * `agent fetch x509`: prints (and optionally writes) what a Workload API
 * hands out, in the shape of `spire-agent api fetch x509`, so it works the
 * same against the dev agent and against SPIRE.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { derToPem } from "../../lib/spiffe/pem.ts";
import type { X509Context } from "../../lib/spiffe/workloadapi/client.ts";

function goTime(date: Date): string {
  // spire-agent prints Go's default time format: "2006-01-02 15:04:05 +0000 UTC".
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " +0000 UTC");
}

function validity(der: Uint8Array): { from: Date; to: Date } {
  const cert = new X509Certificate(Buffer.from(der));
  return { from: new Date(cert.validFrom), to: new Date(cert.validTo) };
}

/** The human form, as spire-agent prints it. */
export function formatPretty(context: X509Context, elapsedMs: number): string {
  const lines: string[] = [];
  const n = context.svids.length;
  lines.push(`Received ${n} svid${n === 1 ? "" : "s"} after ${elapsedMs.toFixed(3)}ms`, "");
  for (const svid of context.svids) {
    lines.push(`SPIFFE ID:\t\t${svid.id}`);
    if (svid.hint) lines.push(`Hint:\t\t\t${svid.hint}`);
    const leaf = validity(svid.certificates[0]);
    lines.push(`SVID Valid After:\t${goTime(leaf.from)}`, `SVID Valid Until:\t${goTime(leaf.to)}`);
    svid.certificates.slice(1).forEach((der, i) => {
      const v = validity(der);
      lines.push(
        `Intermediate #${i + 1} Valid After:\t${goTime(v.from)}`,
        `Intermediate #${i + 1} Valid Until:\t${goTime(v.to)}`,
      );
    });
    const own = context.bundles.get(svid.id.trustDomain);
    own?.authorities.forEach((der, i) => {
      const v = validity(der);
      lines.push(
        `CA #${i + 1} Valid After:\t${goTime(v.from)}`,
        `CA #${i + 1} Valid Until:\t${goTime(v.to)}`,
      );
    });
    for (const bundle of federatedBundles(context, svid.id.trustDomain.name)) {
      bundle.authorities.forEach((der, i) => {
        const v = validity(der);
        lines.push(
          `[${bundle.trustDomain.idString()}] CA #${i + 1} Valid After:\t${goTime(v.from)}`,
          `[${bundle.trustDomain.idString()}] CA #${i + 1} Valid Until:\t${goTime(v.to)}`,
        );
      });
    }
    lines.push("");
  }
  return lines.join("\n");
}

function federatedBundles(context: X509Context, ownTrustDomain: string) {
  return context.bundles.bundles()
    .filter((b) => b.trustDomain.name !== ownTrustDomain)
    .sort((a, b) => a.trustDomain.name.localeCompare(b.trustDomain.name));
}

function base64(parts: readonly Uint8Array[]): string {
  return Buffer.concat(parts.map((p) => Buffer.from(p))).toString("base64");
}

/** The JSON form: protojson with proto field names, as spire-agent `-output json`. */
export function formatJson(context: X509Context): string {
  const own = new Set(context.svids.map((s) => s.id.trustDomain.name));
  return JSON.stringify(
    {
      svids: context.svids.map((svid) => ({
        spiffe_id: svid.id.toString(),
        x509_svid: base64(svid.certificates),
        x509_svid_key: base64([svid.privateKey]),
        bundle: base64(context.bundles.get(svid.id.trustDomain)?.authorities ?? []),
        hint: svid.hint,
      })),
      crl: [],
      federated_bundles: Object.fromEntries(
        context.bundles.bundles()
          .filter((b) => !own.has(b.trustDomain.name))
          .map((b) => [b.trustDomain.idString(), base64(b.authorities)]),
      ),
    },
    null,
    2,
  );
}

/**
 * Writes `svid.<i>.pem` (chain), `svid.<i>.key` (mode 0600), `bundle.<i>.pem`
 * and `federated_bundle.<i>.<j>.pem` into `dir`, as spire-agent `-write` does.
 * Returns the paths written.
 */
export async function writeFiles(context: X509Context, dir: string): Promise<string[]> {
  const written: string[] = [];
  const write = async (name: string, text: string, mode: number) => {
    const path = join(dir, name);
    await Deno.writeTextFile(path, text, { mode });
    await Deno.chmod(path, mode); // an existing file keeps its old mode otherwise
    written.push(path);
  };
  for (const [i, svid] of context.svids.entries()) {
    await write(`svid.${i}.key`, derToPem(svid.privateKey, "PRIVATE KEY"), 0o600);
    await write(
      `svid.${i}.pem`,
      svid.certificates.map((der) => derToPem(der, "CERTIFICATE")).join(""),
      0o644,
    );
    const own = context.bundles.get(svid.id.trustDomain);
    await write(
      `bundle.${i}.pem`,
      (own?.authorities ?? []).map((der) => derToPem(der, "CERTIFICATE")).join(""),
      0o644,
    );
    for (const [j, bundle] of federatedBundles(context, svid.id.trustDomain.name).entries()) {
      await write(
        `federated_bundle.${i}.${j}.pem`,
        bundle.authorities.map((der) => derToPem(der, "CERTIFICATE")).join(""),
        0o644,
      );
    }
  }
  return written;
}
