import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnvReader } from "#contract/env";
import { ChatError } from "../../shared/errors.ts";
import { readSignOn } from "../config.ts";
import {
  FLOW_TTL_SECONDS,
  FlowSealer,
  LOGOUT_EVENT,
  logoutTarget,
  ProviderSessionSealer,
} from "./sign-on.ts";

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

describe("the sealed provider-session cookie", () => {
  const held = { idToken: "eyJ.header.payload", sessionId: "family-1" };

  it("opens to the ID token and session it sealed, which it does not show", async () => {
    const sealed = await new ProviderSessionSealer(secret).seal(held, 3600);
    assert.deepEqual(await new ProviderSessionSealer(secret).open(sealed), held);
    assert.doesNotMatch(sealed, /family-1|payload/);
  });

  it("gives nothing for no cookie, another cluster's, a flow cookie, and an expired one", async () => {
    const sealed = await new ProviderSessionSealer(secret).seal(held, 60);
    const mine = new ProviderSessionSealer(secret);
    assert.equal(await mine.open(undefined), undefined);
    const other = new ProviderSessionSealer(
      new TextEncoder().encode("another secret of 32 chars!!!!!"),
    );
    assert.equal(await other.open(sealed), undefined);
    assert.equal(await mine.open(await new FlowSealer(secret).seal(flow)), undefined);
    const later = new ProviderSessionSealer(secret, () => Date.now() + 61_000);
    assert.equal(await later.open(sealed), undefined);
  });
});

describe("a back-channel logout token's claims (after its signature, issuer, audience and age)", () => {
  const event = { events: { [LOGOUT_EVENT]: {} } };

  it("end the provider session it names, else every session of its subject", () => {
    assert.deepEqual(logoutTarget({ ...event, sid: "s-1", sub: "u-1" }), { sid: "s-1" });
    assert.deepEqual(logoutTarget({ ...event, sub: "u-1" }), { subject: "u-1" });
  });

  it("are refused without the logout event, with a nonce, or naming neither", () => {
    const refused = (claims: Record<string, unknown>, why: RegExp) =>
      assert.throws(
        () => logoutTarget(claims),
        (err: unknown) =>
          err instanceof ChatError && err.code === "BAD_REQUEST" && why.test(err.message),
      );
    refused({ sid: "s-1" }, /no .*backchannel-logout event/);
    refused({ events: { "http://schemas.openid.net/event/other": {} }, sid: "s-1" }, /event/);
    refused({ events: "backchannel-logout", sid: "s-1" }, /event/);
    refused({ ...event, sid: "s-1", nonce: "n" }, /nonce/);
    refused({ ...event }, /neither/);
    refused({ ...event, sid: "", sub: "" }, /neither/);
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
    assert.equal(settings?.providerLogout, true, "signing out ends the provider's session too");
    assert.equal(settings?.postLogoutRedirectUrl.href, "https://chat.example.test/");
  });

  it("provider logout can be turned off, and sent back elsewhere", () => {
    const { settings, done } = read({
      ...full,
      OIDC_PROVIDER_LOGOUT: "false",
      OIDC_POST_LOGOUT_REDIRECT_URL: "https://chat.example.test/signed-out",
    });
    done();
    assert.equal(settings?.providerLogout, false);
    assert.equal(settings?.postLogoutRedirectUrl.href, "https://chat.example.test/signed-out");
    assert.throws(read({ ...full, OIDC_PROVIDER_LOGOUT: "yes" }).done, /OIDC_PROVIDER_LOGOUT/);
    assert.throws(
      read({ ...full, OIDC_POST_LOGOUT_REDIRECT_URL: "/signed-out" }).done,
      /OIDC_POST_LOGOUT_REDIRECT_URL must be an http\(s\) URL/,
    );
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
