/**
 * Whether a string is an IP address literal, with `node:net`'s `isIP`
 * results, without importing `node:net` (which loads Deno's Node
 * compatibility layer; the launcher and the SPIFFE endpoint parser need only
 * this check and must start fast).
 *
 * @module
 */

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ZONE = /%[0-9a-zA-Z\-.:]+$/;

/** True for a dotted-quad IPv4 address (no leading zeros, as `node:net`). */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** True for an IPv6 address (`::` shorthand, a trailing IPv4 part, a `%zone`). */
export function isIPv6(text: string): boolean {
  const address = text.replace(ZONE, "");
  const halves = address.split("::");
  if (halves.length > 2) return false;
  const groups = halves.map((h) => (h === "" ? [] : h.split(":")));
  const all = groups.flat();
  let count = all.length;
  // An IPv4 tail (::ffff:1.2.3.4) stands for the address's last two groups.
  const tail = groups.at(-1)!.at(-1);
  if (tail?.includes(".")) {
    if (!isIPv4(tail)) return false;
    all.pop();
    count += 1;
  }
  if (!all.every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** 4 or 6 for an IP address literal of that version, 0 for anything else. */
export function ipVersion(text: string): 0 | 4 | 6 {
  return isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0;
}
