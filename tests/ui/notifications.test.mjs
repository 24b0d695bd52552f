// News about the home comes as one banner of one line (the device list stays where it is, however
// much arrives at once), and the bell keeps what every banner said: after a reload the history
// still has it, newest first, with what the person has not seen counted on the bell.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/notifications.test.mjs

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, HEARTH, eventually, hubEnv, launchBrowser, remember, startHub, stop } from "./helpers.mjs";

const words = (s) => s.replace(/\s+/g, " ").trim();

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the notification tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/notifications.test.mjs from the repository root");
  });
} else {
  describe("banners and the notification history", { timeout: 120_000 }, () => {
    const temp = [];
    let hub;
    let demo;
    let context;
    let page;
    const problems = [];

    before(async () => {
      assert.ok(existsSync(HEARTH), `the hub binary ${HEARTH} is missing: build it (cargo build) or set HEARTH_BIN`);
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HEARTH_CHROMIUM)`);
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-news-"));
      temp.push(dataDir);
      hub = startHub(dataDir);
      const login = await hub.login;
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      context = await launchBrowser(profile);
      page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto(login);
      await eventually("the live stream to attach", async () => (await page.getByTestId("connection").getAttribute("data-connection")) === "live");
      hub.dataDir = dataDir;
    });

    after(async () => {
      await context?.close().catch(() => {});
      await Promise.all([stop(demo), stop(hub?.child)]);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("before anything happened the history says so, and the bell counts nothing", async () => {
      assert.equal(await page.getByTestId("unread").count(), 0);
      await page.getByTestId("nav-notifications").click();
      await page.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
      assert.match(words(await page.getByTestId("no-notifications").innerText()), /Nothing yet/);
      await page.goBack();
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
    });

    test("a burst of news is one banner of one line, and the device list stays on screen", async (t) => {
      // Five firmware-like MQTT devices start at once: each sends kinds of data Hearth has not
      // seen from it, a dozen pieces of news within a second.
      demo = spawn(HEARTH, ["demo", "--mqtt", "--duration", "120", "--data-dir", hub.dataDir], { env: hubEnv(), stdio: ["ignore", "pipe", "pipe"] });
      demo.stdout.setEncoding("utf8");
      demo.stdout.on("data", (c) => c.split("\n").filter(Boolean).forEach((l) => remember(`[demo --mqtt] ${l}`)));
      await page.getByTestId("news").waitFor({ timeout: 20_000 });
      const unread = async () => Number((await page.getByTestId("unread").textContent()) ?? 0);
      await eventually("several pieces of news", async () => (await unread()) >= 3, 20_000);

      assert.equal(await page.locator(".notices .banner").count(), 1, "one banner, however many arrived");
      const banner = page.locator(".notices .banner");
      const box = await banner.boundingBox();
      assert.ok(box.height <= 64, `the banner is one line (${box.height} px tall)`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(wide <= 0, `the banner fits the width (the page is ${wide} px too wide)`);
      const firstRow = await page.locator("[data-testid=device-row]").first().boundingBox();
      const height = page.viewportSize().height;
      assert.ok(firstRow && firstRow.y < height, `the first device starts on screen (at ${firstRow?.y} px of ${height})`);
      t.diagnostic(`the banner is ${box.height} px tall; the first device starts at ${Math.round(firstRow.y)} px of ${height}`);
      // The rest waits in the history, one link away.
      assert.match(words(await page.getByTestId("more-news").innerText()), /^\d+ more notifications$/);
    });

    test("after a reload, the history has what the banner said, newest first, and the bell counts what is unread", async () => {
      const said = words(await page.getByTestId("news").locator(".banner-line").textContent());
      // The simulated home stops first: news arriving after the reload would be a new banner.
      await stop(demo);
      demo = undefined;
      // What it sent last is filed within the recorder's batch (half a second): let it arrive.
      await new Promise((r) => setTimeout(r, 1_500));
      const counted = Number(await page.getByTestId("unread").textContent());
      await page.reload();
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
      assert.equal(await page.getByTestId("news").count(), 0, "the banner was live news: it does not come back");
      const bell = page.getByTestId("nav-notifications");
      await eventually("the unread count after the reload", async () => Number(await page.getByTestId("unread").textContent()) >= counted);
      assert.match(await bell.getAttribute("aria-label"), /^Notifications, \d+ unread$/);

      // With the keyboard: the bell opens the history.
      await bell.focus();
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
      const entries = page.getByTestId("notification");
      const texts = (await entries.locator("p:first-child").allTextContents()).map(words);
      assert.ok(texts.includes(said), `the history has "${said}"; it has:\n${texts.join("\n")}`);
      assert.equal(await entries.first().getAttribute("data-new"), "true", "what arrived since the last look is marked new");
      const times = await entries.locator("time").evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute("datetime"))));
      assert.deepEqual(times, [...times].sort((x, y) => y - x), "newest first");
      assert.equal(await page.getByTestId("unread").count(), 0, "looking at the history clears the count");

      // Looked at: after another reload it is all there, no longer new.
      await page.reload();
      await page.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
      await eventually("the history after a second reload", async () => (await entries.count()) >= texts.length);
      assert.equal(await page.locator("[data-testid=notification][data-new=true]").count(), 0);
      assert.equal(await page.getByTestId("unread").count(), 0);

      // Cleared, it says it is empty.
      await page.getByTestId("clear-notifications").click();
      await page.getByTestId("no-notifications").waitFor();
      assert.deepEqual(problems, []);
    });

    test("the history is bounded: of 250 saved entries, the newest 200 are kept", async () => {
      await page.evaluate(() => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("hearth.notifications."));
        const entries = Array.from({ length: 250 }, (_, i) => ({
          at: Date.now() - i * 60_000,
          item: { id: i, kind: "error", error: { code: "internal", message: `Entry ${i}` } },
        }));
        localStorage.setItem(key, JSON.stringify({ entries, seenAt: Date.now() }));
      });
      await page.reload();
      const entries = page.getByTestId("notification");
      await eventually("the saved entries listed", async () => (await entries.count()) > 0);
      assert.equal(await entries.count(), 200);
      assert.equal(words(await entries.first().locator("p").first().textContent()), "Entry 0");
      assert.equal(words(await entries.last().locator("p").first().textContent()), "Entry 199");
    });
  });
}
