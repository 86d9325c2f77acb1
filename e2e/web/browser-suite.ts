// The web client in a real browser (Debian's Chromium, headless, driven by playwright-core),
// one suite run against two targets: the embedded default (workloads/web/browser.test.ts) and
// the real stack (e2e/web/web.int.ts). Two people sign up and chat (each on a gateway of its
// own where the target has two), see typing and seen receipts; one goes offline and comes back
// with nothing lost and nothing twice; a reload keeps the conversation; a busy room shows its
// unread count, opens at the first unseen message and loads older ones on scroll; two strangers
// are matched; a room someone adds you to shows its first message in the list, also when the
// message comes while the list is read; a backend's post (the server API, sent twice) shows once on every member's page;
// an image pasted into the composer, a file attached by the button and one dropped on the room
// are uploaded and shown to the other member, the image as a preview from the object store;
// a reply shows a quote of the message it answers; a session ended elsewhere signs the page out
// saying why; a password account links the provider and
// the provider then signs in as it, and signing out ends the provider's session too; someone
// who was away finds their notifications (badge, list) and mutes a room; the layout holds at
// 375 px and 1280 px. Screenshots of the main views are saved to e2e/web/artifacts/<target>/
// (ignored by git) on every run.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import { Api, ChatClient, Session, type SessionState } from "../../workloads/client/src/index.ts";
import { waitFor } from "../testkit/wait.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** What the suite runs against: one or more gateway addresses serving the built client. */
export interface BrowserTarget {
  readonly name: string;
  /** a person at the gateways' OpenID Connect provider; none: the target has no single sign-on */
  readonly signOn?: {
    readonly providerName: string;
    readonly username: string;
    readonly password: string;
  };
  /** the gateways take this server-API key (SERVER_API_KEYS) */
  start(serverKey: string): Promise<{ readonly urls: readonly string[]; stop(): Promise<void> }>;
}

export function browserSuite(target: BrowserTarget): void {
  const ARTIFACTS = fileURLToPath(new URL(`artifacts/${target.name}/`, import.meta.url));
  const suffix = Math.random().toString(36).slice(2, 7);
  const serverKey = randomBytes(32).toString("base64url");
  describe(`the web client in Chromium (${target.name})`, { timeout: 240_000 }, () => {
    let server: { readonly urls: readonly string[]; stop(): Promise<void> };
    let browser: Browser;
    const contexts: BrowserContext[] = [];
    /** uncaught script errors and CSP violations, on every page */
    const pageErrors: string[] = [];

    /** requests of any page that failed or were answered 4xx/5xx, and its console warnings */
    const failedRequests: string[] = [];
    /** the WebSocket frames each page received, as text */
    const received = new WeakMap<Page, string[]>();

    /** a browser context of its own on gateway `gateway` (modulo the target's count) */
    const person = async (
      width = 1280,
      height = 800,
      gateway = 0,
      /** set up before the first page load */
      prepare?: (page: Page) => Promise<unknown>,
    ) => {
      const context = await browser.newContext({ viewport: { width, height } });
      contexts.push(context);
      const page = await context.newPage();
      await prepare?.(page);
      page.setDefaultTimeout(15_000);
      const frames: string[] = [];
      received.set(page, frames);
      page.on("websocket", (ws) =>
        ws.on("framereceived", (f) => {
          if (typeof f.payload === "string") frames.push(f.payload);
        }),
      );
      page.on("pageerror", (err) => pageErrors.push(err.message));
      page.on("requestfailed", (r) =>
        failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`),
      );
      page.on("response", (r) => {
        if (r.status() >= 400)
          failedRequests.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
      });
      page.on("console", (m) => {
        if (m.type() === "warning") failedRequests.push(`console: ${m.text()}`);
        if (m.type() === "error" && /Content.Security.Policy/i.test(m.text()))
          pageErrors.push(m.text());
      });
      await page.goto(server.urls[gateway % server.urls.length] as string);
      return { context, page };
    };
    const signUp = async (page: Page, name: string) => {
      await page.getByRole("button", { name: "New here? Create an account" }).click();
      await page.getByLabel("Username").fill(`${name}_${suffix}`);
      await page.getByLabel("Password").fill("password-123");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.locator(".conn[data-state=open]").waitFor();
    };
    const assertFits = async (page: Page, width: number) => {
      const wide = Number(await page.evaluate("document.documentElement.scrollWidth"));
      assert.ok(wide <= width, `the page is ${wide} px wide on a ${width} px screen`);
    };
    /** waits until the element's accessible name (aria-label) matches */
    const expect = (el: Locator, name: RegExp) =>
      waitFor(
        `a label matching ${name}`,
        async () => (name.test((await el.getAttribute("aria-label")) ?? "") ? true : undefined),
        { timeoutMs: 15_000 },
      );
    const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png` });
    /** for a failed wait: a screenshot, and the error with what the page shows and saw fail */
    const explain = (page: Page, name: string) => async (err: Error) => {
      await shot(page, name);
      const text = await page
        .locator("body")
        .textContent()
        .catch(() => "(none)");
      const stored = await page
        .evaluate("JSON.stringify(Object.keys(sessionStorage))")
        .catch(() => "(none)");
      throw new Error(
        `${err.message}\nat ${page.url()} the page shows: ${text}\n` +
          `sessionStorage keys: ${stored}\n` +
          `failed requests and warnings: ${failedRequests.slice(-10).join("; ")}`,
      );
    };
    const say = async (page: Page, text: string) => {
      await page.getByLabel("Message", { exact: true }).fill(text);
      await page.getByLabel("Message", { exact: true }).press("Enter");
    };
    const bubble = (page: Page, text: string) =>
      page.locator(".msg .text", { hasText: new RegExp(`^${text}$`) });

    before(async () => {
      assert.ok(
        existsSync(CHROMIUM),
        `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
      );
      await mkdir(ARTIFACTS, { recursive: true });
      server = await target.start(serverKey);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ["--no-sandbox"],
      });
    });

    after(async () => {
      for (const c of contexts) await c.close().catch(() => {});
      await browser?.close();
      await server?.stop();
    });

    let alice: Page;
    let bob: { context: BrowserContext; page: Page };
    let bobId = "";
    let carol: Page;
    let dave: { context: BrowserContext; page: Page };

    it("two people sign up and chat in a direct room; my message goes from sending to sent to seen", async () => {
      const a = await person();
      alice = a.page;
      bob = await person(1280, 800, 1);
      await shot(alice, "signin");
      await signUp(alice, "alice");
      await signUp(bob.page, "bob");
      bobId = (await bob.page.locator("code.user-id").textContent())?.trim() ?? "";

      await alice.getByText("New room or channel").click();
      await alice.getByLabel("Their user id").fill(bobId);
      await alice.getByRole("button", { name: "Create" }).click();
      await say(alice, "Hi Bob!");
      await alice
        .locator(".msg.mine", { hasText: "Hi Bob!" })
        .locator(".state", { hasText: /Sent|Seen/ })
        .waitFor();

      // each sees the other by name, which the page looks up by id
      await alice.getByRole("button", { name: new RegExp(`^bob_${suffix}, direct`) }).waitFor();
      await bob.page
        .getByRole("button", { name: new RegExp(`^alice_${suffix}, direct, 1 unread`) })
        .click();
      await bubble(bob.page, "Hi Bob!").waitFor();
      await alice.locator(".msg.mine .state.seen").waitFor();
      await say(bob.page, "Hello Alice!");
      await bubble(alice, "Hello Alice!").waitFor();
      await shot(alice, "chat-1280");
      // the README's picture of the chat view: SB_DOCS_SCREENSHOT=1 writes it to docs/
      if (process.env.SB_DOCS_SCREENSHOT === "1") {
        await alice.screenshot({
          path: fileURLToPath(new URL("../../docs/web-client.png", import.meta.url)),
        });
      }
    });

    it("shows a backend's post once on every member's page, also when the request is sent twice", async () => {
      const roomId = new URLSearchParams(new URL(alice.url()).hash.slice(1)).get("room");
      assert.ok(roomId, `the open room is in the address: ${alice.url()}`);
      const post = (base: string) =>
        fetch(`${base}/v1/server/rooms/${roomId}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${serverKey}`, "content-type": "application/json" },
          body: JSON.stringify({
            idempotency_key: `deploy-${suffix}`,
            sender_id: "bot:ci",
            content: { text: `deployed ${suffix}` },
          }),
          signal: AbortSignal.timeout(15_000),
        });
      // the same request to both gateways at once: one message
      const answers = await Promise.all(server.urls.map((u) => post(u)));
      const bodies = (await Promise.all(answers.map((r) => r.json()))) as {
        message_id?: string;
        seq?: number;
      }[];
      for (const [i, r] of answers.entries()) {
        assert.ok(r.status === 200 || r.status === 201, JSON.stringify(bodies[i]));
      }
      assert.equal(new Set(bodies.map((b) => b.message_id)).size, 1, JSON.stringify(bodies));
      assert.equal(new Set(bodies.map((b) => b.seq)).size, 1, JSON.stringify(bodies));
      for (const page of [alice, bob.page]) {
        await page.getByText(`deployed ${suffix}`).first().waitFor();
        await page
          .locator(".msg", { hasText: `deployed ${suffix}` })
          .getByText("ci (bot)")
          .waitFor();
      }
      // a later message from a person follows it: nothing more from the retry arrives meanwhile
      await say(bob.page, "after the deploy");
      for (const page of [alice, bob.page]) {
        await bubble(page, "after the deploy").waitFor();
        // in the conversation (the room list's last-message line may still show it: bob's own
        // message is there once its ack is in, which under load comes after its bubble)
        assert.equal(await bubble(page, `deployed ${suffix}`).count(), 1, "shown once");
      }
      await shot(alice, "server-post");
    });

    it("uploads a pasted image, an attached and a dropped file, which the other member sees: the image as a preview from the object store", async () => {
      // a pasted image: a PNG drawn in the page, put on a paste event as the clipboard's file
      await alice.evaluate(`(async () => {
        const canvas = document.createElement("canvas");
        canvas.width = 96;
        canvas.height = 64;
        const g = canvas.getContext("2d");
        g.fillStyle = "#2b6cb0";
        g.fillRect(0, 0, 96, 64);
        g.fillStyle = "#f6ad55";
        g.fillRect(24, 16, 48, 32);
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
        const data = new DataTransfer();
        data.items.add(new File([blob], "pasted.png", { type: "image/png" }));
        document.getElementById("composer-text").dispatchEvent(
          new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
        );
      })()`);
      const loaded = (page: Page) =>
        waitFor(
          "the pasted image to load from the object store",
          async () => {
            const state = (await page.evaluate(`(() => {
              const all = document.querySelectorAll(".msg .attachment.image img.preview");
              const i = all[all.length - 1];
              return i === undefined ? { src: "", width: 0 } :
                { src: i.currentSrc, width: i.complete ? i.naturalWidth : 0 };
            })()`)) as { src: string; width: number };
            return state.width === 96 && !state.src.startsWith("blob:") ? state.src : undefined;
          },
          { timeoutMs: 20_000 },
        );
      const seenByBob = await loaded(bob.page);
      assert.match(seenByBob, /^https?:\/\//, "a URL of the object store");
      await loaded(alice);
      await alice
        .locator(".msg.mine", { hasText: "pasted.png" })
        .locator(".state", { hasText: /Sent|Seen/ })
        .waitFor();
      await shot(bob.page, "upload-image");

      // a file by the attach button
      await alice.locator(".composer input[type=file]").setInputFiles({
        name: `notes-${suffix}.txt`,
        mimeType: "text/plain",
        buffer: Buffer.from("meeting notes\n"),
      });
      const link = bob.page.locator(".msg .attachment.file a.file-name", {
        hasText: `notes-${suffix}.txt`,
      });
      await link.waitFor();
      const href = (await link.getAttribute("href")) ?? "";
      const res = await fetch(href, { signal: AbortSignal.timeout(10_000) });
      assert.equal(await res.text(), "meeting notes\n", "the link downloads the file");
      await shot(bob.page, "upload-file");

      // a file dropped on the room
      await alice.evaluate(`(() => {
        const data = new DataTransfer();
        data.items.add(new File(["dropped"], "dropped-${suffix}.txt", { type: "text/plain" }));
        document.querySelector(".room-view").dispatchEvent(
          new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }),
        );
      })()`);
      await bob.page
        .locator(".msg .attachment.file a.file-name", { hasText: `dropped-${suffix}.txt` })
        .waitFor();
    });

    it("shows the other's typing", async () => {
      await bob.page.getByLabel("Message", { exact: true }).pressSequentially("typing here");
      await alice.getByText(/is typing…/).waitFor();
      await bob.page.getByLabel("Message", { exact: true }).fill("");
    });

    it("comes back from offline with what was sent meanwhile, each message once, and delivers what it queued", async () => {
      await bob.context.setOffline(true);
      await bob.page.locator(".conn[data-state=offline]").waitFor();
      await shot(bob.page, "offline");
      for (const t of ["while away 1", "while away 2", "while away 3"]) await say(alice, t);
      await say(bob.page, "sent offline");
      await bob.page.locator(".msg.mine.sending", { hasText: "sent offline" }).waitFor();
      await bob.context.setOffline(false);
      await bob.page.locator(".conn[data-state=open]").waitFor();
      for (const t of ["while away 1", "while away 2", "while away 3"])
        await bubble(bob.page, t).waitFor();
      await bob.page
        .locator(".msg.mine", { hasText: "sent offline" })
        .locator(".state", { hasText: /Sent|Seen/ })
        .waitFor();
      await bubble(alice, "sent offline").waitFor();
      for (const t of [
        "Hi Bob!",
        "Hello Alice!",
        "while away 1",
        "while away 2",
        "while away 3",
        "sent offline",
      ]) {
        assert.equal(await bubble(bob.page, t).count(), 1, `bob sees "${t}" once`);
        assert.equal(await bubble(alice, t).count(), 1, `alice sees "${t}" once`);
      }
    });

    it("keeps the conversation across a reload", async () => {
      await bob.page.reload();
      await bob.page.locator(".conn[data-state=open]").waitFor();
      for (const t of ["Hi Bob!", "while away 3", "sent offline"])
        await bubble(bob.page, t).waitFor();
      await say(alice, "after your reload");
      await bubble(bob.page, "after your reload").waitFor();
      assert.equal(await bubble(bob.page, "Hi Bob!").count(), 1);
    });

    it("answers a message with Reply: both see the reply under a quote of it, also after a reload", async () => {
      /** the bubble whose own text is `text` */
      const line = (page: Page, text: string) =>
        page.locator(".msg", {
          has: page.locator(".text", { hasText: new RegExp(`^${text}$`) }),
        });
      const replyOn = (page: Page, text: string) =>
        line(page, text)
          .getByRole("button", { name: /^Reply to/ })
          .click();
      // Escape takes a reply back
      await replyOn(bob.page, "Hi Bob!");
      await bob.page.locator(".replying .quote", { hasText: "Hi Bob!" }).waitFor();
      await bob.page.getByLabel("Message", { exact: true }).press("Escape");
      await bob.page.locator(".replying").waitFor({ state: "detached" });

      await replyOn(bob.page, "while away 2");
      await bob.page.locator(".replying .quote", { hasText: "while away 2" }).waitFor();
      await shot(bob.page, "reply-composing");
      await say(bob.page, "about that second one");
      await bob.page.locator(".replying").waitFor({ state: "detached" });
      for (const page of [alice, bob.page]) {
        const reply = line(page, "about that second one");
        await reply.locator(".quote", { hasText: "while away 2" }).waitFor();
        // the quoted author as the page names them (alice's own page: her name)
        const author =
          page === alice
            ? `alice_${suffix}`
            : await line(page, "while away 2").locator(".who").textContent();
        assert.equal(await reply.locator(".quote-who").textContent(), author);
      }
      await shot(alice, "reply");
      // the next message is no reply
      await say(bob.page, "a plain one");
      await bubble(alice, "a plain one").waitFor();
      assert.equal(await line(alice, "a plain one").locator(".quote").count(), 0);
      await alice.reload();
      await alice.locator(".conn[data-state=open]").waitFor();
      await line(alice, "about that second one")
        .locator(".quote", { hasText: "while away 2" })
        .waitFor();
    });

    it("shows a busy room's unread count, opens it at the first unseen message, loads older ones on scroll", async () => {
      // dan posts 70 messages into a group with bob, from Node through the client library
      const url = server.urls[0] as string;
      const api = new Api({ baseUrl: url });
      const dan = Session.fromAuth(api, await api.register(`dan_${suffix}`, "password-123"));
      const room = await dan.createRoom({ kind: "group", name: "busy", members: [bobId] });
      const client = new ChatClient({ url, accessToken: (o) => dan.accessToken(o) });
      await client.connect();
      const n = 70;
      try {
        for (let i = 1; i <= n; i++)
          await client.send({ room_id: room.id }, { text: `busy ${i}` }).sent;
      } finally {
        client.close();
      }
      const page = bob.page;
      const item = page.getByRole("button", { name: `busy, group, ${n} unread` });
      await item.waitFor();
      await shot(page, "rooms-unread");
      await item.click();
      // the first unseen message is busy 1: it is loaded (two pages back) and in view
      await bubble(page, "busy 1").waitFor();
      await page.getByText("New messages").waitFor();
      const log = page.getByRole("log", { name: "Messages" });
      assert.ok(
        Number(await log.evaluate((el) => el.scrollTop)) < 200,
        "opened at the first unseen message, near the top",
      );
      await page
        .locator(".msg .who", { hasText: `dan_${suffix}` })
        .first()
        .waitFor();
      await shot(page, "first-unseen");
      for (let i = 1; i <= n; i++) assert.equal(await bubble(page, `busy ${i}`).count(), 1);
    });

    it("loads older messages when scrolled to the top", async () => {
      // read to the end (the gateway stores it), then after a reload the room opens at its end
      // with the newest page only
      const page = bob.page;
      const log = page.getByRole("log", { name: "Messages" });
      await log.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      const saved = JSON.parse(
        String(await page.evaluate("sessionStorage.getItem('switchboard.session')")),
      ) as SessionState;
      const asBob = new Session(new Api({ baseUrl: server.urls[0] as string }), saved);
      await waitFor("bob's read position stored", async () => {
        const { rooms } = await asBob.rooms();
        return rooms.some((r) => r.room.name === "busy" && r.unread === 0) ? true : undefined;
      });
      await page.reload();
      await page.locator(".conn[data-state=open]").waitFor();
      await bubble(page, "busy 70").waitFor();
      assert.equal(await bubble(page, "busy 1").count(), 0, "only the newest page at first");
      await log.evaluate((el) => el.scrollTo({ top: 0 }));
      await bubble(page, "busy 1").waitFor();
      for (let i = 1; i <= 70; i++) assert.equal(await bubble(page, `busy ${i}`).count(), 1);
    });

    it("lists a room I am added to with its first message, also when the message comes while the room list is read", async () => {
      // gil adds bob to a group; bob's page reads its room list (it answers without a message
      // yet), gil's first message reaches the page, and only then does the list's answer: the
      // page must show the message it was pushed, not the list's older view of the room
      const page = bob.page;
      const url = server.urls[0] as string;
      const api = new Api({ baseUrl: url });
      const gil = Session.fromAuth(api, await api.register(`gil_${suffix}`, "password-123"));
      const text = "first words, while listing";
      let listRead = false;
      let release = () => {};
      const released = new Promise<void>((r) => {
        release = r;
      });
      let firstAnswered = () => {};
      const first = new Promise<void>((r) => {
        firstAnswered = r;
      });
      let lists = 0;
      const rooms = (u: URL) => u.pathname === "/v1/rooms";
      await page.route(rooms, async (route) => {
        if (route.request().method() !== "GET") return route.fallback();
        if (lists++ > 0) {
          // later reads go to the gateway once the first has answered the page
          await first;
          return route.continue();
        }
        const response = await route.fetch();
        listRead = true;
        await released;
        await route.fulfill({ response });
        firstAnswered();
      });
      const client = new ChatClient({ url, accessToken: (o) => gil.accessToken(o) });
      try {
        const room = await gil.createRoom({ kind: "group", name: "late list", members: [bobId] });
        await waitFor("bob's page to read its room list", () => (listRead ? true : undefined), {
          timeoutMs: 15_000,
        });
        await client.connect();
        await client.send({ room_id: room.id }, { text }).sent;
        await waitFor(
          "the message's frame on bob's page",
          () => (received.get(page)?.some((f) => f.includes(text)) ? true : undefined),
          { timeoutMs: 15_000 },
        );
      } finally {
        release();
        client.close();
      }
      await first;
      const item = page.getByRole("button", { name: /^late list, group/ });
      await item.locator(".room-last", { hasText: text }).waitFor();
      await page.unroute(rooms);
      await shot(page, "rooms-added-while-listing");
    });

    it("matches two strangers, with a waiting state first", async () => {
      carol = (await person()).page;
      dave = await person(375, 740);
      await signUp(carol, "carol");
      await signUp(dave.page, "dave");
      await carol.getByRole("button", { name: "Talk to a stranger" }).click();
      await carol.getByText("Looking for a stranger…").waitFor();
      await shot(carol, "stranger-waiting");
      await carol.getByRole("button", { name: "Cancel" }).click();
      await carol.getByRole("button", { name: "Talk to a stranger" }).click();
      await carol.getByText("Looking for a stranger…").waitFor();
      await dave.page.getByRole("button", { name: "Talk to a stranger" }).click();
      await carol.getByRole("heading", { name: /Stranger: dave/ }).waitFor();
      await dave.page.getByRole("heading", { name: /Stranger: carol/ }).waitFor();
      await say(carol, "hello stranger");
      await bubble(dave.page, "hello stranger").waitFor();
      await assertFits(dave.page, 375);
      await shot(dave.page, "stranger-375");
    });

    it("creates a public channel that another person finds, joins and talks in", async () => {
      const name = `lobby-${suffix}`;
      await alice.getByText("New room or channel").click();
      await alice.getByRole("radio", { name: "channel" }).check();
      await alice.getByLabel("Name").fill(name);
      await alice.getByRole("button", { name: "Create" }).click();
      await alice.getByRole("heading", { name }).waitFor();
      await carol.getByText("New room or channel").click();
      await carol.getByRole("button", { name: "Browse public channels" }).click();
      await carol
        .locator(".channels li", { hasText: name })
        .getByRole("button", { name: "Join" })
        .click();
      await carol.getByRole("heading", { name }).waitFor();
      await say(carol, "hello lobby");
      await bubble(alice, "hello lobby").waitFor();
      await shot(carol, "channel");
    });

    it("tells a person whose session was ended elsewhere why they are signed out, once", async () => {
      const { page } = await person();
      await signUp(page, "erin");
      // the session is ended from elsewhere (here: its own access token's logout, on the
      // other gateway where there are two): the page's socket is closed with 4005 (or, when
      // the socket dropped first, the page cannot renew the session); either way it says so
      const saved = JSON.parse(
        String(await page.evaluate("sessionStorage.getItem('switchboard.session')")),
      ) as SessionState;
      const out = await fetch(`${server.urls[1 % server.urls.length]}/v1/auth/logout`, {
        method: "POST",
        headers: { authorization: `Bearer ${saved.tokens.access_token}` },
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(out.status, 204);
      const told = page
        .getByRole("status")
        .filter({ hasText: /You were signed out: your session/ });
      await told.waitFor().catch(explain(page, "signed-out-elsewhere-failed"));
      await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
      await shot(page, "signed-out-elsewhere");
      await page.reload();
      await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
      assert.equal(await told.count(), 0, "said once, not on every load");
    });

    it("turns a presence dot off when the other person leaves", async () => {
      const partner = carol.getByRole("button", { name: /^Stranger: dave.*, match/ });
      await expect(partner, /, online$/);
      await dave.context.close();
      await expect(partner, /, offline$/);
    });

    it("is usable by keyboard alone: sign in, open a room, send", async () => {
      const { page } = await person();
      await page.keyboard.press("Tab");
      await page.keyboard.type(`alice_${suffix}`);
      await page.keyboard.press("Tab");
      await page.keyboard.type("password-123");
      await page.keyboard.press("Enter");
      await page.locator(".conn[data-state=open]").waitFor();
      const direct = new RegExp(`^bob_${suffix}, direct`);
      await page.getByRole("button", { name: direct }).waitFor();
      const focusedLabel = () =>
        page.evaluate("document.activeElement?.getAttribute('aria-label') ?? ''");
      for (let i = 0; i < 30 && !direct.test(String(await focusedLabel())); i++) {
        await page.keyboard.press("Tab");
      }
      assert.match(String(await focusedLabel()), direct, "Tab reaches the direct room");
      await page.keyboard.press("Enter");
      await bubble(page, "Hi Bob!").waitFor();
      const focusedId = () => page.evaluate("document.activeElement?.id ?? ''");
      for (let i = 0; i < 30 && (await focusedId()) !== "composer-text"; i++) {
        await page.keyboard.press("Tab");
      }
      await page.keyboard.type("typed without a mouse");
      await page.keyboard.press("Enter");
      await page
        .locator(".msg.mine", { hasText: "typed without a mouse" })
        .locator(".state", { hasText: /Sent|Seen/ })
        .waitFor();
      await bob.page.locator(".room-last", { hasText: "typed without a mouse" }).waitFor();
    });

    it("shows someone who was away what they missed: a badge, the list, the room; a room can be muted", async () => {
      // fay is never online while gus writes to her: a direct message and a mention
      const url = server.urls[0] as string;
      const api = new Api({ baseUrl: url });
      const fay = Session.fromAuth(api, await api.register(`fay_${suffix}`, "password-123"));
      const gus = Session.fromAuth(api, await api.register(`gus_${suffix}`, "password-123"));
      const group = await gus.createRoom({ kind: "group", name: "plans", members: [fay.user.id] });
      const client = new ChatClient({ url, accessToken: (o) => gus.accessToken(o) });
      await client.connect();
      try {
        await client.send({ to_user_id: fay.user.id }, { text: "fay, call me back" }).sent;
        await client.send({ room_id: group.id }, { text: `@fay_${suffix} what do you think?` })
          .sent;
      } finally {
        client.close();
      }
      await waitFor("fay's two notifications", async () =>
        (await fay.notifications()).notifications.length === 2 ? true : undefined,
      );
      const { page } = await person();
      await page.getByLabel("Username").fill(`fay_${suffix}`);
      await page.getByLabel("Password").fill("password-123");
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      const bell = page.getByRole("button", { name: /^Notifications/ });
      await expect(bell, /^Notifications, 2 unread$/);
      await bell.click();
      const panel = page.getByRole("region", { name: "Notifications" });
      await panel.getByText("fay, call me back").waitFor();
      await panel.getByText(/Mention by .* in plans/).waitFor();
      await shot(page, "notifications");
      await panel.getByText("fay, call me back").click();
      await bubble(page, "fay, call me back").waitFor();
      await expect(bell, /^Notifications, 1 unread$/);
      const mute = page.getByRole("button", { name: "Mute" });
      await mute.click();
      await page.getByRole("button", { name: "Unmute", pressed: true }).waitFor();
      await shot(page, "muted-room");
      assert.equal((await fay.mutedRooms()).room_ids.length, 1);
    });

    it("fits a 375 px phone: one column, the room list or the chat, nothing wider than the screen", async () => {
      const page = bob.page;
      await page.setViewportSize({ width: 375, height: 740 });
      await bubble(page, "busy 70").waitFor();
      assert.equal(
        await page.locator("nav.rooms").isVisible(),
        false,
        "the list hides while a room is open",
      );
      await assertFits(page, 375);
      await shot(page, "chat-375");
      await page.getByRole("button", { name: "Back to rooms" }).click();
      await page.locator("nav.rooms").waitFor();
      await shot(page, "rooms-375");
      await page.emulateMedia({ colorScheme: "dark" });
      await shot(page, "rooms-375-dark");
      await page.emulateMedia({ colorScheme: "light" });
      await page.setViewportSize({ width: 1280, height: 800 });
      assert.equal(await page.locator("nav.rooms").isVisible(), true);
    });

    const sso = target.signOn;
    /** the password account the provider's person linked (the stack's target) */
    let linkedId = "";
    it(
      sso === undefined
        ? "offers no provider to link where the gateway has none"
        : "a password account links the provider from inside its session, through the provider's login page",
      async () => {
        const { page } = await person(1280, 800, 0);
        await signUp(page, "pat");
        const link = page.getByRole("button", { name: /^Link your .* account$/ });
        if (sso === undefined) {
          assert.equal(await link.count(), 0);
          return;
        }
        linkedId = (await page.locator("code.user-id").textContent())?.trim() ?? "";
        await link.click();
        const slow = { timeout: 45_000 };
        await page.locator("#kc-form-login").waitFor(slow);
        await page.locator("#username").fill(sso.username);
        await page.locator("#password").fill(sso.password);
        await page.locator("#kc-login").click();
        await page.locator(".conn[data-state=open]").waitFor(slow);
        await page
          .getByRole("status")
          .filter({ hasText: `Your ${sso.providerName} account is linked` })
          .waitFor();
        assert.doesNotMatch(page.url(), /sso_linked/, "the answer is off the address");
        assert.equal((await page.locator("code.user-id").textContent())?.trim(), linkedId);
        await shot(page, "sso-linked");
      },
    );
    it(
      sso === undefined
        ? "offers no single sign-on where the gateway has no provider"
        : "a person signs in through the provider's own login page, lands signed in, and chats",
      async () => {
        // the page's first ask whether single sign-on is on fails: it asks again
        let cut = 0;
        const { page } = await person(1280, 800, 1, (p) =>
          p.route(
            (u) => u.pathname === "/v1/auth/oidc",
            (route) => {
              cut++;
              return route.abort("connectionreset");
            },
            { times: 1 },
          ),
        );
        await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
        if (sso === undefined) {
          assert.equal(await page.getByRole("button", { name: /Sign in with/ }).count(), 0);
          return;
        }
        const button = page.getByRole("button", { name: `Sign in with ${sso.providerName}` });
        await button.waitFor();
        assert.equal(cut, 1, "the first ask was cut off");
        await shot(page, "signin-sso");
        await button.click();
        // the provider's page, not ours: its own form
        // the provider's pages and its token endpoint answer slowly on a busy machine
        const slow = { timeout: 45_000 };
        await page.locator("#kc-form-login").waitFor(slow);
        assert.notEqual(
          new URL(page.url()).origin,
          new URL(server.urls[1 % server.urls.length] as string).origin,
        );
        await shot(page, "provider-login");
        await page.locator("#username").fill(sso.username);
        await page.locator("#password").fill(sso.password);
        await page.locator("#kc-login").click();
        await page.locator(".conn[data-state=open]").waitFor(slow);
        assert.doesNotMatch(page.url(), /sso_code/, "the one-time code is off the address");
        const me = (await page.locator("code.user-id").textContent())?.trim() ?? "";
        assert.ok(me !== "" && me !== bobId);
        assert.equal(
          me,
          linkedId,
          "the provider signs in as the password account it was linked to",
        );

        await page.getByText("New room or channel").click();
        await page.getByLabel("Their user id").fill(bobId);
        await page.getByRole("button", { name: "Create" }).click();
        await say(page, `Hi Bob, signed in with ${sso.providerName}`);
        await page
          .locator(".msg.mine", { hasText: "signed in with" })
          .locator(".state", { hasText: /Sent|Seen/ })
          .waitFor();
        await bob.page.locator(".room-last", { hasText: "signed in with" }).waitFor();
        await shot(page, "chat-sso");

        // signing out ends the provider's session too: the next sign-in asks for the password
        await page.getByRole("button", { name: "Sign out" }).click();
        await button.waitFor(slow).catch(explain(page, "sign-out-failed"));
        assert.equal(
          new URL(page.url()).origin,
          new URL(server.urls[1 % server.urls.length] as string).origin,
        );
        await button.click();
        await page.locator("#kc-form-login").waitFor(slow);
        await shot(page, "provider-login-after-sign-out");
      },
    );

    it("ran without an uncaught script error or a Content-Security-Policy violation", () => {
      assert.deepEqual(pageErrors, []);
    });
  });
}
