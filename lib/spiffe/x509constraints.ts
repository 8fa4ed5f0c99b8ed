/**
 * RFC 5280 name constraints, as far as X.509-SVIDs need them: URI constraints on the host (the
 * trust domain of a SPIFFE ID) and DNS constraints, read from the extension's DER. Other
 * constraint types are refused rather than ignored.
 *
 * @module
 */

interface Tlv {
  tag: number;
  content: Uint8Array;
}

/** Reads back-to-back DER TLVs (definite lengths only). */
function readTlvs(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < bytes.length) {
    const tag = bytes[i++];
    if (i >= bytes.length) throw new Error("truncated");
    let len = bytes[i++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || i + n > bytes.length) throw new Error("bad length");
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + bytes[i++];
    }
    if (i + len > bytes.length) throw new Error("truncated");
    out.push({ tag, content: bytes.subarray(i, i + len) });
    i += len;
  }
  return out;
}

function hostMatches(host: string, constraint: string, uri: boolean): boolean {
  host = host.toLowerCase();
  constraint = constraint.toLowerCase();
  if (constraint === "") return true;
  if (constraint.startsWith(".")) return host.endsWith(constraint);
  return host === constraint || (!uri && host.endsWith("." + constraint));
}

/**
 * Enforces RFC 5280 name constraints of type URI (on the host, i.e. the trust domain of a
 * SPIFFE ID) and DNS on the leaf's names. Other constraint types are refused rather than
 * ignored. Returns a problem description, or undefined when the names are allowed.
 */
export function checkNameConstraints(
  value: ArrayBuffer,
  uris: string[],
  dns: string[],
): string | undefined {
  const lists = {
    permitted: { uri: [] as string[], dns: [] as string[] },
    excluded: { uri: [] as string[], dns: [] as string[] },
  };
  try {
    const top = readTlvs(new Uint8Array(value));
    if (top.length !== 1 || top[0].tag !== 0x30) throw new Error("not a SEQUENCE");
    for (const part of readTlvs(top[0].content)) {
      if (part.tag !== 0xa0 && part.tag !== 0xa1) {
        throw new Error(`unexpected tag 0x${part.tag.toString(16)}`);
      }
      const list = part.tag === 0xa0 ? lists.permitted : lists.excluded;
      for (const subtree of readTlvs(part.content)) {
        const base = subtree.tag === 0x30 ? readTlvs(subtree.content)[0] : undefined;
        if (!base) throw new Error("malformed GeneralSubtree");
        const text = String.fromCharCode(...base.content);
        if (base.tag === 0x86) list.uri.push(text);
        else if (base.tag === 0x82) list.dns.push(text);
        else return `name constraints on GeneralName type [${base.tag & 0x1f}] are not supported`;
      }
    }
  } catch (e) {
    return `malformed name constraints extension: ${(e as Error).message}`;
  }
  const uriHosts = uris.map((u) => u.slice(u.indexOf("://") + 3).split("/")[0]);
  const check = (
    names: string[],
    permitted: string[],
    excluded: string[],
    uri: boolean,
    kind: string,
  ) => {
    for (const name of names) {
      if (permitted.length > 0 && !permitted.some((c) => hostMatches(name, c, uri))) {
        return `${kind} name "${name}" is outside the permitted name constraints`;
      }
      if (excluded.some((c) => hostMatches(name, c, uri))) {
        return `${kind} name "${name}" is excluded by name constraints`;
      }
    }
    return undefined;
  };
  return check(uriHosts, lists.permitted.uri, lists.excluded.uri, true, "URI host") ??
    check(dns, lists.permitted.dns, lists.excluded.dns, false, "DNS");
}
