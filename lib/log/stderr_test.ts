import assert from "node:assert/strict";
import { LineBatcher } from "./stderr.ts";

const decoder = new TextDecoder();
const turn = () => new Promise((r) => setTimeout(r, 0));

/** A writer that records each write; `limit` caps the bytes one call takes, `fail` refuses. */
function recorder(options: { limit?: number; fail?: () => boolean } = {}) {
  const writes: string[] = [];
  const writeSync = (bytes: Uint8Array) => {
    if (options.fail?.()) throw new Error("EAGAIN");
    const n = Math.min(bytes.length, options.limit ?? Infinity);
    writes.push(decoder.decode(bytes.subarray(0, n)));
    return n;
  };
  return { writes, writeSync };
}

Deno.test("stderr lines: one write per turn, in order, none held past its turn", async () => {
  const out = recorder();
  const lines = new LineBatcher(out.writeSync);
  lines.write("a\n");
  lines.write("b\n");
  assert.deepEqual(out.writes, []); // not yet: at the end of this turn's microtasks
  await Promise.resolve();
  lines.write("c\n"); // a later microtask of the same turn
  await turn();
  // The first two went together once the first microtasks ran; "c" came after, on its own.
  assert.deepEqual(out.writes, ["a\nb\n", "c\n"]);
  lines.write("d\n");
  await turn();
  assert.equal(out.writes.at(-1), "d\n");
});

Deno.test("stderr lines: writeNow writes the queued lines, then its own, at once", () => {
  const out = recorder();
  const lines = new LineBatcher(out.writeSync);
  lines.write("audit 1\n");
  lines.writeNow("log\n");
  assert.deepEqual(out.writes, ["audit 1\nlog\n"]);
});

Deno.test("stderr lines: a partial write is continued; nothing is lost or reordered", async () => {
  const chunks: Uint8Array[] = [];
  const lines = new LineBatcher((bytes) => {
    chunks.push(bytes.slice(0, 7)); // at most 7 bytes a call, splitting characters too
    return Math.min(bytes.length, 7);
  });
  const want = Array.from({ length: 50 }, (_, i) => `{"n":${i},"é":"ü"}\n`);
  for (const l of want) lines.write(l);
  await turn();
  assert.equal(decoder.decode(new Uint8Array(chunks.flatMap((c) => [...c]))), want.join(""));
  assert.ok(chunks.length > 50);
});

Deno.test("stderr lines: what stderr refuses is written later, in order", async () => {
  let refuse = 3;
  const out = recorder({ fail: () => refuse-- > 0 });
  const lines = new LineBatcher(out.writeSync);
  lines.write("1\n");
  await turn(); // refused
  lines.write("2\n");
  lines.writeNow("3\n"); // refused
  assert.deepEqual(out.writes, []);
  await new Promise((r) => setTimeout(r, 80)); // the retry: refused once more, then again
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(out.writes.join(""), "1\n2\n3\n");
});

Deno.test("stderr lines: beyond the cap the oldest go, and the next write says so", async () => {
  let refuse = true;
  const out = recorder({ fail: () => refuse });
  const lines = new LineBatcher(out.writeSync, 100);
  for (let i = 0; i < 30; i++) lines.write(`line ${String(i).padStart(2, "0")}\n`); // 8 bytes each
  await turn();
  refuse = false;
  lines.writeNow("last\n");
  const text = out.writes.join("");
  const dropped = Number(/(\d+) bytes of log and audit lines were dropped/.exec(text)?.[1]);
  const kept = text.split("\n").filter((l) => l.startsWith("line "));
  assert.equal(dropped, (30 - kept.length) * 8);
  assert.ok(kept.length > 0 && kept.length < 30);
  assert.deepEqual(
    kept,
    Array.from(
      { length: kept.length },
      (_, i) => `line ${30 - kept.length + i}`.replace(/ (\d)$/, " 0$1"),
    ),
  );
  assert.ok(text.endsWith("last\n"));
});

Deno.test("stderr lines: a line queued just before Deno.exit is written", async () => {
  const code = `import { stderrLines } from ${
    JSON.stringify(new URL("./stderr.ts", import.meta.url).href)
  };
stderrLines().write("queued line\\n");
Deno.exit(3);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 3);
  assert.equal(decoder.decode(out.stderr), "queued line\n");
});
