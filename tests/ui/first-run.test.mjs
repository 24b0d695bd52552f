// A browser's first visit: the device list explains once what New, Approve, Block and Forget mean
// in Hearth, and what they do not do yet, before the person's first decision. "Got it" (from the
// keyboard) closes it for good in this browser; a reload does not bring it back; its own line,
// "What do New, Approve, Block and Forget mean?", opens it again whenever wanted.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/first-run.test.mjs

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, HEARTH, eventually, launchBrowser, ownerApi, startHub, stop } from "./helpers.mjs";

const words = (s) => s.replace(/\s+/g, " ").trim();

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the first-run tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/first-run.test.mjs from the repository root");
  });
} else {
  describe("the first-run explanation of the decisions", { timeout: 90_000 }, () => {
    const temp = [];
    let hub;
    let context;
    let page;
    const problems = [];

    before(async () => {
      assert.ok(existsSync(HEARTH), `the hub binary ${HEARTH} is missing: build it (cargo build) or set HEARTH_BIN`);
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HEARTH_CHROMIUM)`);
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-first-"));
      temp.push(dataDir);
      hub = startHub(dataDir, "127.0.0.1:0", ["--no-discovery"]);
      const login = await hub.login;
      const token = (await readFile(path.join(dataDir, "owner-token"), "utf8")).trim();
      hub.api = ownerApi(() => ({ base: new URL(login).origin, token }));
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      // A browser that has never opened Hearth.
      context = await launchBrowser(profile, undefined, {}, { explained: false });
      page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto(login);
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
    });

    after(async () => {
      await context?.close().catch(() => {});
      await stop(hub?.child);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    const explained = () => page.getByTestId("first-run");
    const isOpen = async () => (await explained().getAttribute("open")) !== null;

    test("on a first visit the list explains the four decisions, and what they do not do yet", async () => {
      await explained().waitFor();
      assert.equal(await isOpen(), true, "open on the first visit");
      const said = words(await explained().innerText());
      for (const word of ["New", "Approve", "Block", "Forget"]) assert.match(said, new RegExp(`\\b${word}\\b`), `it says what ${word} means`);
      assert.match(said, /Forgetting a blocked device lifts the block/);
      assert.match(said, /each new one waits for your decision/, "a device already decided waits for nothing");
      assert.match(said, /If it sends its messages through Hearth, Hearth holds what it sends/);
      assert.match(said, /Hearth deletes it and everything Hearth recorded about it/, "what Hearth recorded, not what the device did");
      assert.match(
        words(await page.getByTestId("first-run-not-yet").innerText()),
        /never use Hearth's broker, and Hearth is not between them and the internet\. For those, approving or blocking changes nothing on your network/,
      );
    });

    test("Got it, from the keyboard, closes it and keeps the keyboard's place on the line that opens it again", async () => {
      await page.getByTestId("first-run-dismiss").focus();
      await page.keyboard.press("Enter");
      await eventually("the explanation closed", async () => !(await isOpen()));
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "first-run-toggle");
      assert.equal(await page.getByTestId("first-run-dismiss").isVisible(), false);
      assert.match(words(await page.getByTestId("first-run-toggle").innerText()), /^What do New, Approve, Block and Forget mean\?$/);
    });

    test("after a reload it stays closed, and its line opens it again", async () => {
      await page.reload();
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
      await explained().waitFor();
      assert.equal(await isOpen(), false, "explained once per browser");
      assert.equal(await page.evaluate(() => localStorage.getItem("hearth.explained")), "seen");
      // Reachable again, by keyboard: Tab to its line, Enter.
      await page.getByTestId("first-run-toggle").focus();
      await page.keyboard.press("Enter");
      await eventually("the explanation open again", isOpen);
      assert.equal(await page.getByTestId("first-run-dismiss").isVisible(), true);
      // Open by choice, it stays open while the list changes under it (a device arrives).
      await hub.api("POST", "/devices", { name: "Hall sensor" });
      await page.getByTestId("device-row").first().waitFor();
      assert.equal(await isOpen(), true);
      // Once read, its line waits after the list: it takes no room above the devices (on a phone
      // the first device starts on the first screen; the notifications story measures it).
      const [text, row] = await Promise.all([explained().boundingBox(), page.getByTestId("device-row").last().boundingBox()]);
      assert.ok(text.y > row.y, "after the list, once read");
    });

    test("no script errors on the page", () => {
      assert.deepEqual(problems, []);
    });
  });
}
