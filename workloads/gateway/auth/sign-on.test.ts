import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnvReader } from "#contract/env";
import { ChatError } from "../../shared/errors.ts";
import { readSignOn } from "../config.ts";
import { FLOW_TTL_SECONDS, FlowSealer } from "./sign-on.ts";

const secret = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
const flow = { state: "st", nonce: "nn", verifier: "cv".repeat(30) };

const refusal = (message: RegExp) => (err: unknown) =>
  err instanceof ChatError && err.code === "SSO_FAILED" && message.test(err.message);

describe("the sealed flow cookie", () => {
  it("opens to the flow it sealed, on any gateway with the same JWT secret", async () => {
    const sealed = await new FlowSealer(secret).seal(flow);
    assert.deepEqual(await new FlowSealer(secret).open(sealed), flow);
    assert.doesNotMatch(sealed, /cvcv|nn|st"/, "the verifier is not readable in the cookie");
  });

  it("carries a link request (the user and session that asked) when there is one", async () => {
    const linking = { ...flow, link: { userId: "u-1", sessionId: "s-1" } };
    const sealed = await new FlowSealer(secret).seal(linking);
    assert.deepEqual(await new FlowSealer(secret).open(sealed), linking);
    assert.doesNotMatch(sealed, /u-1/);
  });

  it("refuses a missing cookie, another cluster's, a tampered one and an expired one", async () => {
    const sealed = await new FlowSealer(secret).seal(flow);
    await assert.rejects(new FlowSealer(secret).open(undefined), refusal(/missing/));
    const other = new FlowSealer(new TextEncoder().encode("another secret of 32 characters!"));
    await assert.rejects(other.open(sealed), refusal(/not one this cluster made/));
    const tampered = `${sealed.slice(0, -3)}${sealed.endsWith("A") ? "BBB" : "AAA"}`;
    await assert.rejects(new FlowSealer(secret).open(tampered), refusal(/not one this cluster/));
    const later = new FlowSealer(secret, () => Date.now() + (FLOW_TTL_SECONDS + 5) * 1000);
    await assert.rejects(later.open(sealed), refusal(/longer than 600 s/));
  });
});

describe("reading the OIDC_* settings", () => {
  const read = (env: Record<string, string>) => {
    const reader = new EnvReader(env);
    const settings = readSignOn(reader);
    return { settings, done: () => reader.done() };
  };
  const full = {
    OIDC_ISSUER_URL: "https://idp.example.test/realms/a",
    OIDC_CLIENT_ID: "switchboard",
    OIDC_REDIRECT_URL: "https://chat.example.test/v1/auth/oidc/callback",
  };

  it("none set: sign-on is off", () => {
    const { settings, done } = read({});
    assert.equal(settings, undefined);
    done();
  });

  it("issuer, client and redirect set: on, a public client without a secret", () => {
    const { settings, done } = read(full);
    done();
    assert.equal(settings?.issuer.href, full.OIDC_ISSUER_URL);
    assert.equal(settings?.clientSecret, undefined);
    assert.equal(settings?.scopes, "openid email profile");
    assert.equal(settings?.providerName, "SSO");
  });

  it("a part of them, a bad URL or scopes without openid: refused, naming what is wrong", () => {
    assert.throws(
      read({ OIDC_ISSUER_URL: full.OIDC_ISSUER_URL }).done,
      /missing: OIDC_CLIENT_ID, OIDC_REDIRECT_URL/,
    );
    assert.throws(
      read({ ...full, OIDC_REDIRECT_URL: "chat.example.test" }).done,
      /OIDC_REDIRECT_URL must be an http\(s\) URL/,
    );
    assert.throws(read({ ...full, OIDC_SCOPES: "email profile" }).done, /must include openid/);
  });
});
