// Signing out, in Chromium: the owner on a laptop sees where they are signed in (Settings →
// "Signed in on", in plain words), signs out a phone with the keyboard alone, and the phone's
// open page loses its live stream and lands on the sign-in page at once; then signs out the
// laptop itself.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cli, eventually, launchBrowser, startHub, stop } from "./helpers.mjs";

const PHONE_UA = "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0";

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the sessions UI test runs inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/ from the repository root");
  });
} else {
  describe("signing out in Chromium", { timeout: 120_000 }, () => {
    const temp = [];
    let hub;
    let dataDir;
    let laptop;
    let phone;

    const browser = async (options) => {
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      const context = await launchBrowser(profile, { width: 1100, height: 800 }, options);
      return { context, page: context.pages()[0] ?? (await context.newPage()) };
    };
    const live = (page) => eventually("the live stream to attach", async () => (await page.locator("[data-testid=connection]").getAttribute("data-connection")) === "live");
    const newLink = async () => (await cli(dataDir, "open")).trim();

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-sessions-"));
      temp.push(dataDir);
      hub = startHub(dataDir);
      laptop = await browser({});
      await laptop.page.goto(await hub.login);
      await live(laptop.page);
      phone = await browser({ userAgent: PHONE_UA, viewport: { width: 390, height: 800 } });
      await phone.page.goto(await newLink());
      await live(phone.page);
    });

    after(async () => {
      await laptop?.context.close().catch(() => {});
      await phone?.context.close().catch(() => {});
      await stop(hub?.child);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("the laptop signs the phone out with the keyboard, and the phone's open page is signed out at once", async () => {
      const page = laptop.page;
      await page.getByRole("link", { name: "Settings" }).focus();
      await page.keyboard.press("Enter");
      const rows = page.locator("[data-testid=session]");
      await eventually("two browsers listed", async () => (await rows.count()) === 2);
      const mine = page.locator("[data-testid=session][data-current=true]");
      assert.match(await mine.innerText(), /This browser/);
      const phoneRow = page.locator("[data-testid=session][data-current=false]");
      const text = await phoneRow.innerText();
      assert.match(text, /Firefox on Android/);
      assert.match(text, /from 127\.0\.0\.1/);
      assert.match(text, /last used just now/);

      const signOut = page.getByRole("button", { name: "Sign out Firefox on Android, from 127.0.0.1" });
      await signOut.focus();
      await page.keyboard.press("Enter");
      await eventually("the phone's row to go", async () => (await rows.count()) === 1);
      // The phone's page lost its live stream and reloaded into the hub's sign-in page (a name
      // and password form, and how the owner signs in without one).
      await eventually(
        "the phone's page to show the sign-in page",
        async () => /Your name[\s\S]*Password[\s\S]*hearth open/.test(await phone.page.locator("body").innerText()),
        10_000,
      );
      const api = await phone.page.evaluate(async () => (await fetch("/api/v1/status")).status);
      assert.equal(api, 401);
      // The laptop is untouched.
      assert.equal(await page.locator("[data-testid=connection]").getAttribute("data-connection"), "live");
    });

    test("signing out of this browser ends its own session and shows the sign-in page", async () => {
      const page = laptop.page;
      await page.getByRole("button", { name: "Sign out of this browser" }).click();
      // (The page may reload twice: once by the button, once as its live stream is closed.)
      await eventually(
        "the sign-in page, and the API refusing this browser",
        async () =>
          /hearth open/.test(await page.locator("body").innerText()) &&
          (await page.evaluate(async () => (await fetch("/api/v1/status")).status)) === 401,
      );
      assert.match(await cli(dataDir, "sessions"), /No browser is signed in/);
    });
  });
}
