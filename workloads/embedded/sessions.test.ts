// Ending a session: logout and refresh-token reuse revoke it on every gateway — its access
// tokens are refused on REST and on new sockets within the revocation bound, and its open
// sockets are closed with 4005 SESSION_REVOKED. Two gateways on the memory backends.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatSocket, Rest, waitFor } from "../../e2e/testkit/index.ts";
import { REVOCATION_CHECK_MS } from "../gateway/auth/sessions.ts";
import { CloseCodes } from "../shared/protocol/close-codes.ts";
import { type InProcessCluster, startCluster } from "./cluster.ts";

/** the revocation bound, with room for a loaded machine */
const BOUND = { timeoutMs: REVOCATION_CHECK_MS + 8_000, intervalMs: 50 };
const REVOKED = CloseCodes.SESSION_REVOKED.code;

describe("revoked sessions", () => {
  let cluster: InProcessCluster;
  const url = (i: number) => cluster.urls[i] as string;
  let rest: Rest[];

  before(async () => {
    cluster = await startCluster({
      gateways: 2,
      limits: { userRate: { capacity: 1000, refillPerSecond: 1000 }, heartbeatMs: 1000 },
    });
    rest = [new Rest(url(0)), new Rest(url(1))];
  });

  after(async () => {
    await cluster.stop();
  });

  const login = async (username: string) => {
    const b = await rest[0]?.ok("POST", "/v1/auth/login", { username, password: "password-123" });
    return { access: b.tokens.access_token as string, refresh: b.tokens.refresh_token as string };
  };
  const refused = (gw: number, token: string) => async () => {
    const r = await rest[gw]?.call("GET", "/v1/me", undefined, token);
    return r?.status === 401 ? r.body.error.code : undefined;
  };
  const upgradeRefused = (gw: number, token: string) => async () =>
    ChatSocket.connect(url(gw), token).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (err: Error) => (/upgrade refused: 401/.test(err.message) ? true : undefined),
    );
  const closedWith = (s: ChatSocket) => () => s.closeCode;

  it("after logout the access token is refused on REST and sockets, and open sockets close with 4005", async () => {
    const user = await rest[0]?.register("logout-user");
    assert.ok(user);
    const other = await login("logout-user");
    const s0 = await ChatSocket.open(url(0), user.accessToken);
    const s1 = await ChatSocket.open(url(1), user.accessToken);
    const otherSocket = await ChatSocket.open(url(1), other.access);
    const waiting = await ChatSocket.connect(url(1), user.accessToken); // no hello yet
    try {
      await rest[0]?.ok(
        "POST",
        "/v1/auth/logout",
        { refresh_token: user.refreshToken },
        user.accessToken,
      );
      assert.equal(await refused(0, user.accessToken)(), "SESSION_REVOKED", "at once where it ran");
      assert.equal(
        await waitFor("gateway 1 to refuse the token", refused(1, user.accessToken), BOUND),
        "SESSION_REVOKED",
      );
      await waitFor(
        "a new socket on gateway 0 refused",
        upgradeRefused(0, user.accessToken),
        BOUND,
      );
      await waitFor(
        "a new socket on gateway 1 refused",
        upgradeRefused(1, user.accessToken),
        BOUND,
      );
      assert.equal(await waitFor("socket 0 closed", closedWith(s0), BOUND), REVOKED);
      assert.equal(await waitFor("socket 1 closed", closedWith(s1), BOUND), REVOKED);
      assert.equal(
        await waitFor("the socket without hello closed", closedWith(waiting), BOUND),
        REVOKED,
      );
      const refresh = await rest[1]?.call("POST", "/v1/auth/refresh", {
        refresh_token: user.refreshToken,
      });
      assert.equal(refresh?.status, 401, "the session's refresh token is dead too");

      // the user's other session is untouched
      const me = await rest[1]?.call("GET", "/v1/me", undefined, other.access);
      assert.equal(me?.status, 200);
      assert.equal((await otherSocket.request({ type: "ping" })).type, "pong");
      assert.equal(otherSocket.closeCode, undefined);
    } finally {
      await Promise.all([s0.close(), s1.close(), otherSocket.close(), waiting.close()]);
    }
  });

  it("a refresh token used twice revokes the session's access tokens and closes its sockets", async () => {
    const user = await rest[0]?.register("reuse-user");
    assert.ok(user);
    const socket = await ChatSocket.open(url(1), user.accessToken);
    try {
      const rotated = await rest[0]?.ok("POST", "/v1/auth/refresh", {
        refresh_token: user.refreshToken,
      });
      const reuse = await rest[0]?.call("POST", "/v1/auth/refresh", {
        refresh_token: user.refreshToken,
      });
      assert.equal(reuse?.body.error.code, "REFRESH_TOKEN_REUSED");
      for (const token of [user.accessToken, rotated.access_token as string]) {
        for (const gw of [0, 1]) {
          assert.equal(
            await waitFor(`gateway ${gw} to refuse the token`, refused(gw, token), BOUND),
            "SESSION_REVOKED",
          );
          await waitFor(`a new socket on gateway ${gw} refused`, upgradeRefused(gw, token), BOUND);
        }
      }
      assert.equal(await waitFor("the open socket closed", closedWith(socket), BOUND), REVOKED);
    } finally {
      await socket.close();
    }
  });

  it("logout is an authenticated action: no bearer token is 401, and it takes no anonymous token", async () => {
    const limited = await startCluster({
      limits: { anonymousRate: { capacity: 2, refillPerSecond: 0.001 } },
    });
    try {
      const r = new Rest(limited.urls[0] as string);
      const u = await r.register("bucket-user"); // takes the address's first token
      const anonymous = await r.call("POST", "/v1/auth/logout", {
        refresh_token: u.refreshToken,
      });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.error.code, "UNAUTHENTICATED");
      const out = await r.call("POST", "/v1/auth/logout", undefined, u.accessToken);
      assert.equal(out.status, 204, "logging out does not wait on the anonymous bucket");
      const login = await r.call("POST", "/v1/auth/login", {
        username: "bucket-user",
        password: "password-123",
      });
      assert.equal(login.status, 200, "and leaves the address's last token to log in again");
    } finally {
      await limited.stop();
    }
  });
});
