import assert from "node:assert/strict";
import { join } from "node:path";
import type { Completion } from "../http/dispatch.ts";
import { AuditFile, auditLine } from "./audit.ts";

const completion: Completion = {
  trail: "t-1",
  caller: "spiffe://spike.ist/workload/a",
  method: "POST",
  target: "/v1/store/secrets",
  action: "get",
  route: "secret.get",
  status: 200,
  durationMs: 1.5,
};

Deno.test("the audit file is created 0600, appended, and every line is on disk when acked", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "audit.log");
  try {
    await Deno.writeTextFile(path, "earlier\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const file = await AuditFile.open(path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600, "a wider mode was kept");
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => file.append(auditLine("nexus", { ...completion, i }))),
    );
    await file.close();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.equal(lines[0], "earlier");
    assert.equal(lines.length, 51);
    const records = lines.slice(1).map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.i).sort((a, b) => a - b), [...Array(50).keys()]);
    assert.ok(records.every((r) => r.audit === true && r.trail === "t-1"));
    const fresh = await AuditFile.open(join(dir, "new.log"));
    await fresh.close();
    assert.equal((await Deno.stat(join(dir, "new.log"))).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed write rejects its batch; a partly written line is ended, not glued", async () => {
  let room = 40; // bytes left on the "disk"
  const disk: number[] = [];
  const file = AuditFile.over("fake", {
    write(p: Uint8Array) {
      if (room === 0) return Promise.reject(new Deno.errors.WriteZero("no space left on device"));
      const n = Math.min(room, p.length);
      disk.push(...p.subarray(0, n));
      room -= n;
      return Promise.resolve(n);
    },
    syncData: () => Promise.resolve(),
    close() {},
  });
  await assert.rejects(file.append(auditLine("nexus", completion)), /no space/);
  await assert.rejects(file.append(auditLine("nexus", completion)), /no space/);
  room = 10_000; // space again
  await file.append(auditLine("nexus", completion));
  const lines = new TextDecoder().decode(new Uint8Array(disk)).split("\n");
  assert.equal(lines[0].length, 40, "the broken fragment is a line of its own");
  assert.equal(JSON.parse(lines[1]).trail, "t-1");
  assert.equal(lines[2], "");
});

Deno.test("a device is refused: it would keep nothing", async () => {
  await assert.rejects(AuditFile.open("/dev/null"), /not a regular file/);
});

Deno.test("a file that cannot be opened for appending is an error at open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(AuditFile.open(join(dir, "missing-folder", "audit.log")));
    await assert.rejects(AuditFile.open(dir)); // a folder
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
