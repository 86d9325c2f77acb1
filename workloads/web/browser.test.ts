// The web client in a real browser (Debian's Chromium, headless, driven by playwright-core)
// against the embedded gateway: two people sign up and chat, see typing and seen receipts, one
// goes offline and comes back with nothing lost and nothing twice, a reload keeps the
// conversation, two strangers are matched, and the layout holds at 375 px and 1280 px.
// Screenshots of the main views go to workloads/web/artifacts/ (ignored by git) on every run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type InProcessCluster, startCluster } from "../embedded/cluster.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("artifacts/", import.meta.url));
const suffix = Math.random().toString(36).slice(2, 7);

describe("the web client in Chromium", { timeout: 180_000 }, () => {
  let cluster: InProcessCluster;
  let browser: Browser;
  let webDir: string;
  const contexts: BrowserContext[] = [];

  const person = async (width = 1280, height = 800) => {
    const context = await browser.newContext({ viewport: { width, height } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(cluster.urls[0] as string);
    return { context, page };
  };
  const signUp = async (page: Page, name: string) => {
    await page.getByRole("button", { name: "New here? Create an account" }).click();
    await page.getByLabel("Username").fill(`${name}_${suffix}`);
    await page.getByLabel("Password").fill("password-123");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.locator(".conn[data-state=open]").waitFor();
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png` });
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
    webDir = `${await mkdtemp(`${tmpdir()}/web-dist-`)}/`;
    const build = spawnSync(process.execPath, ["workloads/web/build.ts", "--out", webDir], {
      cwd: fileURLToPath(new URL("../../", import.meta.url)),
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(build.status, 0, build.stderr);
    await mkdir(ARTIFACTS, { recursive: true });
    cluster = await startCluster({ webDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox"],
    });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await cluster?.stop();
    await rm(webDir, { recursive: true, force: true });
  });

  let alice: Page;
  let bob: { context: BrowserContext; page: Page };

  it("two people sign up and chat in a direct room; my message goes from sending to sent to seen", async () => {
    const a = await person();
    alice = a.page;
    bob = await person();
    await shot(alice, "signin");
    await signUp(alice, "alice");
    await signUp(bob.page, "bob");
    const bobId = (await bob.page.locator("code.user-id").textContent())?.trim() ?? "";

    await alice.getByText("New room or channel").click();
    await alice.getByLabel("Their user id").fill(bobId);
    await alice.getByRole("button", { name: "Create" }).click();
    await say(alice, "Hi Bob!");
    await alice
      .locator(".msg.mine", { hasText: "Hi Bob!" })
      .locator(".state", { hasText: /Sent|Seen/ })
      .waitFor();

    await bob.page.getByRole("button", { name: /unread/ }).click();
    await bubble(bob.page, "Hi Bob!").waitFor();
    await alice.locator(".msg.mine .state.seen").waitFor();
    await say(bob.page, "Hello Alice!");
    await bubble(alice, "Hello Alice!").waitFor();
    await shot(alice, "chat-1280");
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

  it("matches two strangers, with a waiting state first", async () => {
    const carol = (await person()).page;
    const dave = (await person(375, 740)).page;
    await signUp(carol, "carol");
    await signUp(dave, "dave");
    await carol.getByRole("button", { name: "Talk to a stranger" }).click();
    await carol.getByText("Looking for a stranger…").waitFor();
    await shot(carol, "stranger-waiting");
    await dave.getByRole("button", { name: "Talk to a stranger" }).click();
    await carol.getByRole("heading", { name: /Stranger: dave/ }).waitFor();
    await dave.getByRole("heading", { name: /Stranger: carol/ }).waitFor();
    await say(carol, "hello stranger");
    await bubble(dave, "hello stranger").waitFor();
    await shot(dave, "stranger-375");
  });

  it("fits a 375 px phone: one column, the room list or the chat, nothing wider than the screen", async () => {
    const page = bob.page;
    await page.setViewportSize({ width: 375, height: 740 });
    await bubble(page, "after your reload").waitFor();
    assert.equal(
      await page.locator("nav.rooms").isVisible(),
      false,
      "the list hides while a room is open",
    );
    const width = Number(await page.evaluate("document.documentElement.scrollWidth"));
    assert.ok(width <= 375, `page is ${width} px wide`);
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
});
