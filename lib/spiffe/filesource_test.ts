import assert from "node:assert/strict";
import { join } from "node:path";
import { createPki } from "./_test_pki.ts";
import { within } from "../std/async.ts";
import { createFileX509Source } from "./filesource.ts";

Deno.test("the file source reloads a rotated SVID and keeps the last good one on bad files", async () => {
  const pki = await createPki();
  const dir = await Deno.makeTempDir({ prefix: "spike-files-" });
  const files = {
    certFile: join(dir, "svid.pem"),
    keyFile: join(dir, "svid_key.pem"),
    bundleFile: join(dir, "svid_bundle.pem"),
  };
  const errors: Error[] = [];
  try {
    const ca = await pki.ca("root", { uri: "spiffe://example.org" });
    const first = await pki.leaf("first", { uris: ["spiffe://example.org/app"], issuer: ca });
    await Deno.writeTextFile(files.certFile, first.chainPem);
    await Deno.writeTextFile(files.keyFile, first.keyPem);
    await Deno.writeTextFile(files.bundleFile, ca.certPem);

    const source = await createFileX509Source(files, {
      onError: (e) => errors.push(e),
      debounceMs: 50,
    });
    try {
      assert.equal(source.getX509Svid().id.toString(), "spiffe://example.org/app");
      const firstLeaf = source.getX509Svid().certificates[0];

      // A rotation as spiffe-helper does it: write new files beside, then rename over.
      const second = await pki.leaf("second", { uris: ["spiffe://example.org/app"], issuer: ca });
      const updated = new Promise<void>((resolve) => source.onUpdate(resolve));
      await Deno.writeTextFile(files.keyFile + ".tmp", second.keyPem);
      await Deno.writeTextFile(files.certFile + ".tmp", second.chainPem);
      await Deno.rename(files.keyFile + ".tmp", files.keyFile);
      await Deno.rename(files.certFile + ".tmp", files.certFile);
      await within(updated, 5000, "a reload after the files changed");
      assert.notDeepEqual(source.getX509Svid().certificates[0], firstLeaf);

      // A key that does not match the certificate: reported, the last good SVID stays.
      const current = source.getX509Svid();
      await Deno.writeTextFile(files.keyFile, first.keyPem);
      await within(
        (async () => {
          while (errors.length === 0) await new Promise((r) => setTimeout(r, 20));
        })(),
        5000,
        "an error report for a mismatched key",
      );
      assert.match(errors[0].message, /key/i);
      assert.equal(source.getX509Svid(), current);
    } finally {
      source.close();
    }
  } finally {
    await pki.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the file source fails at once when the files are unusable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spike-files-" });
  try {
    await assert.rejects(
      createFileX509Source({
        certFile: join(dir, "missing.pem"),
        keyFile: join(dir, "missing.key"),
        bundleFile: join(dir, "missing-bundle.pem"),
      }),
      /No such file|not found/i,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
