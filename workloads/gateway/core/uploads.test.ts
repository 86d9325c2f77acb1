import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatError } from "../../shared/errors.ts";
import { checkContent } from "./messages.ts";
import { mediaTypeAllowed, mediaTypeOf, objectIdOf, parseContentTypes } from "./uploads.ts";

const ROOM = "0b7c2a52-8d0e-4d6f-9a55-1f2e3d4c5b6a";
const OTHER = "7f1e9c3b-2a4d-4e5f-8a6b-0c1d2e3f4a5b";
const OBJ = "11111111-2222-4333-8444-555555555555";
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ChatError).code;
  }
  return undefined;
};

describe("upload validation", () => {
  it("takes a key of this cluster and room, and refuses any other as OBJECT_NOT_IN_ROOM", () => {
    assert.equal(objectIdOf("prod", ROOM, `prod/${ROOM}/${OBJ}`), OBJ);
    for (const key of [
      `prod/${OTHER}/${OBJ}`, // another room
      `staging/${ROOM}/${OBJ}`, // another cluster
      `prod/${ROOM}/${OBJ}/x`, // deeper
      `prod/${ROOM}/../${OTHER}/${OBJ}`,
      `prod/${ROOM}/not-a-uuid`,
      `prod/${ROOM}/`,
      OBJ,
    ]) {
      assert.equal(
        code(() => objectIdOf("prod", ROOM, key)),
        "OBJECT_NOT_IN_ROOM",
        key,
      );
    }
  });

  it("allows exact media types and whole types, compared without case or parameters", () => {
    const allowed = parseContentTypes("image/*, application/pdf");
    assert.deepEqual(allowed, ["image/*", "application/pdf"]);
    assert.equal(mediaTypeAllowed(allowed, mediaTypeOf("image/PNG")), true);
    assert.equal(mediaTypeAllowed(allowed, mediaTypeOf("application/pdf; x=1")), true);
    assert.equal(mediaTypeAllowed(allowed, "text/html"), false);
    assert.equal(mediaTypeAllowed(allowed, "image"), false);
    assert.equal(mediaTypeAllowed(allowed, "image/"), false);
    assert.equal(mediaTypeAllowed(["*/*"], "text/html"), false);
  });

  it("refuses a malformed UPLOAD_CONTENT_TYPES with the entry named", () => {
    assert.throws(() => parseContentTypes("image/png,html"), /'html' is not a media type/);
    assert.throws(() => parseContentTypes(" , "), /no media type is allowed/);
    assert.throws(() => parseContentTypes("*/*"), /not a media type/);
  });

  it("needs exactly one of content.key and content.url in image and file messages", () => {
    assert.equal(
      code(() => checkContent("image", { key: `c/${ROOM}/${OBJ}` })),
      undefined,
    );
    assert.equal(
      code(() => checkContent("file", { url: "https://example.org/x.pdf" })),
      undefined,
    );
    assert.equal(
      code(() => checkContent("file", {})),
      "BAD_REQUEST",
    );
    assert.equal(
      code(() => checkContent("image", { key: `c/${ROOM}/${OBJ}`, url: "https://e.org/a.png" })),
      "BAD_REQUEST",
    );
  });
});
