import assert from "node:assert/strict";
import { CliError } from "../../cli.ts";
import { ioChoice } from "./io.ts";

Deno.test("cipher -f: a format name is the format; anything else is upstream's -f FILE", () => {
  assert.deepEqual(ioChoice({ format: "json" }), { file: undefined, json: true });
  assert.deepEqual(ioChoice({ format: "j" }), { file: undefined, json: true });
  assert.deepEqual(ioChoice({ format: "raw" }), { file: undefined, json: false });
  assert.deepEqual(ioChoice({}), { file: undefined, json: false });
  assert.deepEqual(ioChoice({ format: "in.bin" }), { file: "in.bin", json: false });
  assert.deepEqual(ioChoice({ format: "in.json", json: true }), { file: "in.json", json: true });
  assert.deepEqual(ioChoice({ file: "json" }), { file: "json", json: false }); // --file: a file
  const usage = (e: unknown) => e instanceof CliError && e.exitCode === 2;
  assert.throws(() => ioChoice({ format: "yaml" }), usage);
  assert.throws(() => ioChoice({ format: "raw", json: true }), usage);
  assert.throws(() => ioChoice({ format: "a.bin", file: "b.bin" }), usage);
});
