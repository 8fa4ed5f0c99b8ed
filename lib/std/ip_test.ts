import assert from "node:assert/strict";
import { isIP } from "node:net";
import { ipVersion } from "./ip.ts";

// The reference is node:net's isIP, which this module stands in for.
const CASES = [
  "127.0.0.1",
  "0.0.0.0",
  "255.255.255.255",
  "1.2.3.4",
  "10.0.0.256",
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "1.2.3.",
  ".1.2.3",
  "1..2.3",
  "a.b.c.d",
  " 1.2.3.4",
  "1.2.3.4 ",
  "",
  "::",
  "::1",
  "1::",
  "1::2",
  "::ffff:1.2.3.4",
  "::ffff:1.2.3.256",
  "1.2.3.4::",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7::",
  "1:2:3:4:5:6:7:8::",
  "::1:2:3:4:5:6:7",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1:2:3:4:5::1.2.3.4",
  "fe80::1%eth0",
  "fe80::1%",
  "%eth0",
  "12345::",
  "g::1",
  ":1::",
  "1:::2",
  "1::2::3",
  "[::1]",
  "::1:",
  ":::",
  "localhost",
  "keeper-1",
  "ABCD:ef01::",
  "1:2:3:4:5:6:7:8%lo",
  "1.2.3.4%eth0",
];

Deno.test("ipVersion agrees with node:net isIP", () => {
  for (const text of CASES) assert.equal(ipVersion(text), isIP(text), JSON.stringify(text));
});
