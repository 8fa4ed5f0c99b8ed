/**
 * PEM and DER plumbing for certificates and keys: PEM blocks to DER and back (RFC 7468), and
 * splitting the concatenated DER that the SPIFFE Workload API uses for certificate chains and
 * bundles (no separators; each certificate is one outer ASN.1 SEQUENCE).
 *
 * @module
 */

/** Thrown for malformed PEM or DER input. */
export class PemError extends Error {
  override name = "PemError";
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string, label: string, index: number): Uint8Array {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  for (const line of lines) {
    if (line.includes(":")) {
      throw new PemError(
        `PEM block ${index} ("${label}") has headers (${line.split(":")[0]}); ` +
          "encrypted or legacy PEM is not supported",
      );
    }
    if (!BASE64_LINE.test(line)) {
      throw new PemError(`PEM block ${index} ("${label}") contains invalid base64`);
    }
  }
  const joined = lines.join("");
  if (joined.length === 0) throw new PemError(`PEM block ${index} ("${label}") is empty`);
  if (joined.length % 4 !== 0) {
    throw new PemError(`PEM block ${index} ("${label}") has truncated base64`);
  }
  let binary: string;
  try {
    binary = atob(joined);
  } catch {
    throw new PemError(`PEM block ${index} ("${label}") contains invalid base64`);
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Decodes every PEM block in `pem` (text outside blocks is ignored, as openssl does), or only
 * the blocks whose label is `label` (e.g. `"CERTIFICATE"`, `"PRIVATE KEY"`).
 *
 * @returns the DER bytes of each block, in order.
 * @throws {PemError} when a block is malformed or when no (matching) block is found.
 */
export function pemToDer(pem: string, label?: string): Uint8Array[] {
  const result: Uint8Array[] = [];
  let blocks = 0;
  BEGIN.lastIndex = 0;
  for (let m = BEGIN.exec(pem); m !== null; m = BEGIN.exec(pem)) {
    blocks++;
    const blockLabel = m[1];
    const end = `-----END ${blockLabel}-----`;
    const start = m.index + m[0].length;
    const endAt = pem.indexOf(end, start);
    const nextBegin = pem.indexOf("-----BEGIN ", start);
    if (endAt === -1 || (nextBegin !== -1 && nextBegin < endAt)) {
      throw new PemError(`PEM block ${blocks} ("${blockLabel}") has no matching "${end}" line`);
    }
    const body = pem.slice(start, endAt);
    BEGIN.lastIndex = endAt + end.length;
    if (label !== undefined && blockLabel !== label) continue;
    result.push(decodeBase64(body, blockLabel, blocks));
  }
  if (result.length === 0) {
    if (blocks === 0) throw new PemError("no PEM blocks found");
    throw new PemError(`no "${label}" PEM block found (saw ${blocks} block(s) of other types)`);
  }
  return result;
}

/** Encodes DER bytes as one PEM block with the given label, in 64-character lines. */
export function derToPem(der: Uint8Array, label: string): string {
  if (!/^[A-Z0-9 ]+$/.test(label)) throw new PemError(`invalid PEM label "${label}"`);
  let binary = "";
  for (let i = 0; i < der.length; i += 0x8000) {
    binary += String.fromCharCode(...der.subarray(i, i + 0x8000));
  }
  const b64 = btoa(binary);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Splits concatenated DER (as the Workload API sends chains and bundles) into one element per
 * outer ASN.1 SEQUENCE. Empty input gives an empty array. The returned arrays are copies.
 *
 * @throws {PemError} on anything but back-to-back definite-length SEQUENCEs, or truncation.
 */
export function splitConcatenatedDer(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const n = out.length + 1;
    const tag = bytes[offset];
    if (tag !== 0x30) {
      throw new PemError(
        `DER element ${n} at offset ${offset}: expected an ASN.1 SEQUENCE (0x30), found 0x${
          tag.toString(16).padStart(2, "0")
        }; input is not concatenated DER certificates`,
      );
    }
    if (offset + 1 >= bytes.length) {
      throw new PemError(`DER element ${n} at offset ${offset} is truncated (no length byte)`);
    }
    const first = bytes[offset + 1];
    let length: number;
    let header: number;
    if (first < 0x80) {
      length = first;
      header = 2;
    } else if (first === 0x80) {
      throw new PemError(`DER element ${n} at offset ${offset} uses indefinite length (not DER)`);
    } else {
      const count = first & 0x7f;
      if (count > 4) {
        throw new PemError(
          `DER element ${n} at offset ${offset} has an absurd length (${count} length bytes)`,
        );
      }
      if (offset + 2 + count > bytes.length) {
        throw new PemError(`DER element ${n} at offset ${offset} is truncated inside its length`);
      }
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i];
      if (length < 0x80 || bytes[offset + 2] === 0) {
        throw new PemError(
          `DER element ${n} at offset ${offset} has a non-minimal length encoding`,
        );
      }
      header = 2 + count;
    }
    const end = offset + header + length;
    if (end > bytes.length) {
      throw new PemError(
        `DER element ${n} at offset ${offset} is truncated: it claims ${length} content bytes ` +
          `but only ${bytes.length - offset - header} remain`,
      );
    }
    out.push(bytes.slice(offset, end));
    offset = end;
  }
  return out;
}

const PEM_MARKER = [..."-----BEGIN "].map((c) => c.charCodeAt(0));

function looksLikePem(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || (bytes[i] >= 0x09 && bytes[i] <= 0x0d))) i++;
  // Every DER certificate starts with a SEQUENCE tag (0x30); PEM text must hold a BEGIN line.
  if (i >= bytes.length || bytes[i] === 0x30) return false;
  outer: for (let j = i; j + PEM_MARKER.length <= bytes.length; j++) {
    for (let k = 0; k < PEM_MARKER.length; k++) {
      if (bytes[j + k] !== PEM_MARKER[k]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * Reads certificates given as PEM text, PEM bytes, or (concatenated) DER bytes, returning DER
 * in input order. Only `CERTIFICATE` blocks are taken from PEM. This does not check that the
 * DER really is a certificate; parsers downstream do.
 *
 * @throws {PemError} when the input holds no certificates or is malformed.
 */
export function readCertificates(input: string | Uint8Array): Uint8Array[] {
  if (typeof input === "string") return pemToDer(input, "CERTIFICATE");
  if (input.length === 0) throw new PemError("no certificates found: input is empty");
  if (looksLikePem(input)) {
    return pemToDer(new TextDecoder().decode(input), "CERTIFICATE");
  }
  return splitConcatenatedDer(input);
}
