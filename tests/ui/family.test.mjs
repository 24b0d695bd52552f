// The household in Chromium: the owner makes a room "Kitchen" and puts the kitchen lamp in it,
// adds Kim as a child and invites her from the Household page; Kim opens the link in her own
// browser, is welcomed by name and chooses a password. A child sees only what she is given, so
// her list is empty; the owner gives her "See" on the Kitchen and the lamp appears on Kim's open
// page by itself (and only the lamp); the owner takes it back and her list empties, again by
// itself. Kim signs out and signs in again with her name and password on the hub's sign-in page.
// Then the owner marks a watch as Kim's own: on its page Kim shares what it sends with her brother
// Noah for a day, sees it listed, and stops sharing; a refusal is said beside the form.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, HEARTH, eventually, launchBrowser, ownerApi, startHub, stop, openNav } from "./helpers.mjs";

const KIM_PASSWORD = "kitchen-lamp-42";

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the household UI test runs inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/ from the repository root");
  });
} else {
  describe("the household in Chromium", { timeout: 120_000 }, () => {
    const temp = [];
    let hub;
    let base;
    let token;
    let owner;
    let kim;
    let lamp;
    let heater;
    let invitation;
    const problems = [];

    /** The API as the owner (the same calls the page makes). */
    const api = ownerApi(() => ({ base, token }));

    const browser = async (viewport) => {
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      const context = await launchBrowser(profile, viewport);
      const page = context.pages()[0] ?? (await context.newPage());
      // Signing out and a wrong password are answered 401 by design (the sign-in page): the
      // browser logs those loads; anything else is a problem.
      page.on("console", (m) => m.type() === "error" && !/status of 401/.test(m.text()) && problems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      return { context, page };
    };
    const live = (page) =>
      eventually("the live stream to attach", async () => (await page.locator("[data-testid=connection]").getAttribute("data-connection")) === "live");
    const text = async (locator) => (await locator.innerText()).replace(/\s+/g, " ").trim();

    before(async () => {
      assert.ok(existsSync(HEARTH), `the hub binary ${HEARTH} is missing: build it (cargo build) or set HEARTH_BIN`);
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HEARTH_CHROMIUM)`);
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-family-"));
      temp.push(dataDir);
      const started = startHub(dataDir, "127.0.0.1:0", ["--no-discovery"]);
      hub = started.child;
      const login = await started.login;
      base = new URL(login).origin;
      token = (await readFile(path.join(dataDir, "owner-token"), "utf8")).trim();
      // Two devices added by hand: the lamp goes in the Kitchen, the heater stays in no room.
      lamp = (await api("POST", "/devices", { name: "Kitchen lamp" })).device;
      heater = (await api("POST", "/devices", { name: "Garage heater" })).device;

      owner = await browser({ width: 1200, height: 900 });
      await owner.page.goto(login);
      await owner.page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
      await live(owner.page);
    });

    after(async () => {
      await owner?.context.close().catch(() => {});
      await kim?.context.close().catch(() => {});
      await stop(hub);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("the owner makes a room, puts the lamp in it, adds Kim as a child and invites her", async () => {
      const page = owner.page;
      assert.equal(await text(page.getByTestId("signed-in-as")), "Signed in as Owner (Owner) Sign out");

      // Household, with the keyboard.
      await openNav(page);
      await page.getByRole("link", { name: "Household" }).focus();
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Household", level: 1 }).waitFor();
      const rooms = page.getByTestId("rooms");
      await rooms.getByTestId("no-rooms").waitFor();
      assert.match(await text(rooms.getByTestId("no-rooms")), /No rooms yet\. Add one below/);
      // On a busy hub the household's event can make the page read the rooms again before the
      // answer to adding one arrives (CI met it). The answer is held here: while it is, only that
      // reading can show the Kitchen; once it is let through, the Kitchen is still listed once.
      let letAnswerThrough;
      const answerLetThrough = new Promise((resolve) => (letAnswerThrough = resolve));
      await page.route("**/api/v1/rooms", async (route) => {
        if (route.request().method() !== "POST") return route.fallback();
        const answer = await route.fetch();
        await answerLetThrough;
        await route.fulfill({ response: answer });
      });
      const kitchen = rooms.locator("[data-testid=room]", { hasText: "Kitchen" });
      try {
        await rooms.getByLabel("New room").fill("Kitchen");
        await page.keyboard.press("Enter");
        await kitchen.waitFor();
        assert.equal(await rooms.getByRole("button", { name: "Add room" }).getAttribute("aria-disabled"), "true", "the answer is still held");
        // From here on, the most rooms the list ever shows (a later reading of the rooms would
        // hide a duplicate drawn in between).
        await page.evaluate(() => {
          const list = document.querySelector("[data-testid=rooms]");
          const shown = () => list.querySelectorAll("[data-testid=room]").length;
          window.mostRoomsShown = shown();
          window.roomsWatch = new MutationObserver(() => (window.mostRoomsShown = Math.max(window.mostRoomsShown, shown())));
          window.roomsWatch.observe(list, { childList: true, subtree: true });
        });
      } finally {
        letAnswerThrough();
      }
      try {
        // Drawn with the answer: the button is free again.
        await rooms.locator('button[aria-disabled="false"]', { hasText: "Add room" }).waitFor();
      } finally {
        await page.unroute("**/api/v1/rooms");
      }
      const mostShown = await page.evaluate(() => (window.roomsWatch.disconnect(), window.mostRoomsShown));
      assert.equal(mostShown, 1, "the Kitchen is listed once");
      assert.equal(await text(kitchen.locator(".room-what")), "Kitchen 0 devices");

      // The lamp goes in the Kitchen, from its page.
      await openNav(page);
      await page.getByRole("link", { name: "Devices", exact: true }).click();
      await page.locator(".device-name", { hasText: "Kitchen lamp" }).click();
      const placement = page.getByTestId("placement");
      await placement.getByTestId("room-select").selectOption({ label: "Kitchen" });
      await eventually("the lamp to be in the Kitchen", async () => (await api("GET", `/devices/${lamp.id}`)).device.room !== null);
      await page.getByRole("link", { name: "All devices" }).click();
      await page.locator(`[data-device-id="${lamp.id}"] [data-testid=device-room]`, { hasText: "Kitchen" }).waitFor();

      // Kim joins as a child; she has no password yet.
      await openNav(page);
      await page.getByTestId("nav-household").click();
      const add = page.getByTestId("add-member");
      await add.getByLabel("Name").fill("Kim");
      await add.getByLabel("Role").selectOption({ label: "Child" });
      await add.getByRole("button", { name: "Add" }).click();
      const kimRow = page.locator("[data-testid=member]", { hasText: "Kim" });
      await kimRow.waitFor();
      assert.equal(await kimRow.getAttribute("data-role"), "child");
      assert.match(await text(kimRow), /Kim Child no password yet/);
      // Her rights: none yet, said in words.
      const kimRights = page.locator("[data-testid=member-rights]", { hasText: "Kim" });
      assert.match(await text(kimRights.getByTestId("no-grants")), /Kim sees no device until you give a right below/);

      // The invitation: for a day, the whole link to copy and a QR code to scan.
      await kimRow.getByRole("button", { name: "Invite Kim" }).click();
      await kimRow.getByTestId("invite-hours").selectOption({ label: "1 day" });
      await kimRow.getByRole("button", { name: "Make the link" }).click();
      const made = kimRow.getByTestId("invitation");
      await made.waitFor();
      invitation = await made.getByTestId("invitation-link").inputValue();
      assert.match(invitation, new RegExp(`^${base.replace(/\./g, "\\.")}/invite\\?code=[0-9a-f]+$`));
      assert.ok(await made.getByTestId("invitation-qr").isVisible(), "the link is shown as a QR code too");
      assert.match(await text(made), /Send Kim this link, or let them scan the code with their phone\. It works once/);
    });

    test("Kim opens the link in her own browser, is welcomed and chooses a password", async () => {
      kim = await browser({ width: 420, height: 860 });
      const page = kim.page;
      await page.goto(invitation);
      // Opening the link changes nothing (a chat app's preview must not use it up): accepting does.
      await page.getByRole("button", { name: "Accept the invitation" }).click();
      await page.getByRole("heading", { name: "Welcome, Kim", level: 1 }).waitFor();
      assert.match(await text(page.getByTestId("welcome")), /as a child: you see only what an owner gives you, and never change settings\./);
      assert.equal(await text(page.getByTestId("signed-in-as")), "Signed in as Kim (Child) Sign out");

      // Too short: the hub's own rule, said beside the form (the browser's check is bypassed to
      // show the hub's words).
      const form = page.getByTestId("password-form");
      await form.evaluate((f) => f.setAttribute("novalidate", ""));
      await form.getByTestId("new-password").fill("short");
      await form.getByTestId("repeat-password").fill("short");
      await form.getByRole("button", { name: "Set my password" }).click();
      await page.getByTestId("password-error").waitFor();
      assert.match(await text(page.getByTestId("password-error")), /at least 10 characters/);

      await form.getByTestId("new-password").fill(KIM_PASSWORD);
      await form.getByTestId("repeat-password").fill(KIM_PASSWORD);
      await form.getByRole("button", { name: "Set my password" }).click();
      await page.getByTestId("password-done").waitFor();
      assert.match(await text(page.getByTestId("password-done")), /Your password is set\. Next time, sign in with your name, Kim, and this password\./);

      // The link was used up.
      const code = new URL(invitation).searchParams.get("code");
      const again = await fetch(`${base}/invite`, { method: "POST", body: new URLSearchParams({ code }), redirect: "manual" });
      assert.equal(again.status, 401);

      // A child sees what she is given, and was given nothing yet.
      await page.getByTestId("to-devices").click();
      const empty = page.locator("[data-testid=empty-state][data-empty=nothing-shared]");
      await empty.waitFor();
      assert.match(await text(empty), /No devices shared with you yet/);
      assert.equal(await page.getByTestId("device-row").count(), 0);
      assert.equal(await page.getByTestId("add-device").count(), 0, "a child adds no devices");
      assert.equal(await page.getByTestId("nav-network").count(), 0, "nor sees the home's network settings");
      await live(page);
      // The owner sees that Kim has a password now.
      const kimRow = owner.page.locator("[data-testid=member]", { hasText: "Kim" });
      await eventually("Kim's row to lose 'no password yet'", async () => (await kimRow.getByTestId("no-password").count()) === 0);
    });

    test("the owner gives Kim 'See' on the Kitchen: the lamp appears on her open page, and goes when it is taken back", async () => {
      const page = kim.page;
      // Proof that nothing below reloads Kim's page.
      await page.evaluate(() => {
        window.__stillHere = true;
      });

      const rights = owner.page.locator("[data-testid=member-rights]", { hasText: "Kim" });
      await rights.getByText("Give Kim a right").click();
      await rights.getByTestId("grant-right").selectOption({ label: "See" });
      await rights.getByTestId("grant-target").selectOption({ label: "Kitchen" });
      await rights.getByRole("button", { name: "Give the right" }).click();
      const grant = rights.getByTestId("grant");
      await grant.waitFor();
      assert.equal(await text(grant.locator(".grant-words")), "May see · Kitchen");

      const lampRow = page.locator(`[data-testid=device-row][data-device-id="${lamp.id}"]`);
      await lampRow.waitFor({ timeout: 10_000 });
      assert.match(await text(lampRow), /Kitchen lamp/);
      assert.equal(await page.locator(`[data-device-id="${heater.id}"]`).count(), 0, "only what is in the Kitchen");
      assert.equal(await lampRow.getByTestId("approve").count() + (await lampRow.getByTestId("forget").count()), 0, "seeing is not deciding");
      assert.equal(await page.evaluate(() => window.__stillHere), true, "the page was not reloaded");

      // Taken back: the list empties by itself.
      await grant.getByRole("button", { name: /^Remove: May see, Kitchen/ }).click();
      await grant.waitFor({ state: "detached" });
      await lampRow.waitFor({ state: "detached", timeout: 10_000 });
      await page.locator("[data-testid=empty-state][data-empty=nothing-shared]").waitFor();
      assert.equal(await page.evaluate(() => window.__stillHere), true, "the page was not reloaded");
    });

    test("the owner's Activity says who did what", async () => {
      const page = owner.page;
      await openNav(page);
      await page.getByTestId("nav-activity").click();
      const rows = page.getByTestId("audit-row");
      await rows.first().waitFor();
      const all = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, " "));
      assert.ok(all.some((t) => /Owner invited Kim/.test(t)), `an invitation row in ${JSON.stringify(all)}`);
      assert.ok(all.some((t) => /Kim set Kim's password/.test(t)), `Kim's password row in ${JSON.stringify(all)}`);
      // Filtered to Kim: only what she did.
      await page.getByTestId("activity-member").selectOption({ label: "Kim" });
      await eventually("only Kim's rows", async () => {
        const who = await page.locator("[data-testid=audit-row] .audit-what strong").allInnerTexts();
        return who.length > 0 && who.every((w) => w === "Kim");
      });
    });

    test("Kim signs out, and signs in again with her name and password", async () => {
      const page = kim.page;
      await page.getByTestId("sign-out-here").click();
      await page.getByLabel("Your name").waitFor();
      // A wrong password is refused, in words.
      await page.getByLabel("Your name").fill("Kim");
      await page.getByLabel("Password").fill("not-her-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("That name and password do not match.").waitFor();

      await page.getByLabel("Your name").fill("Kim");
      await page.getByLabel("Password").fill(KIM_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
      assert.equal(await text(page.getByTestId("signed-in-as")), "Signed in as Kim (Child) Sign out");
      await page.locator("[data-testid=empty-state][data-empty=nothing-shared]").waitFor();
      assert.deepEqual(problems, []);
    });

    test("Kim shares what her own watch sends with Noah for a day, sees it, and stops sharing", async () => {
      const page = kim.page;
      const kimId = (await api("GET", "/members")).find((m) => m.name === "Kim").id;
      const noah = await api("POST", "/members", { name: "Noah", role: "child" });
      const robin = await api("POST", "/members", { name: "Robin", role: "adult" });
      const watch = (await api("POST", "/devices", { name: "Kim's watch" })).device;
      await api("POST", `/devices/${watch.id}/member`, { member: kimId });
      // What it sends is Kim's own, but a child sees a device only when given it: "See" on it.
      await api("POST", "/grants", {
        member: kimId,
        right: "view",
        target: { kind: "device", id: watch.id },
        effect: "allow",
        schedule: null,
        expires_at: null,
      });

      // It appears on her open list by itself; she opens its page with the keyboard.
      const row = page.locator(`[data-testid=device-row][data-device-id="${watch.id}"]`);
      await row.waitFor({ timeout: 10_000 });
      await row.locator(".device-name").focus();
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Kim's watch", level: 1 }).waitFor();
      const placement = page.getByTestId("placement");
      assert.match(await text(placement), /Whose: yours/);
      const sharing = placement.getByTestId("sharing");
      await sharing.getByTestId("not-shared").waitFor();
      assert.equal(await text(sharing.getByTestId("not-shared")), "Only you see what Kim's watch sends.");
      assert.match(await text(sharing), /The home's owners and adults may look at it too, as your parents/);
      const form = sharing.getByTestId("share-form");
      await eventually("Noah and Robin to be offered", async () => {
        const offered = await form.getByTestId("share-member").locator("option").allInnerTexts();
        return offered.includes("Noah") && offered.includes("Robin") && !offered.includes("Kim");
      });
      assert.deepEqual(await form.getByTestId("share-hours").locator("option").allInnerTexts(), ["1 day", "7 days", "until I stop"]);

      // The owner sees whose it is, and no sharing form: only Kim shares it.
      await owner.page.evaluate((id) => {
        location.hash = `#/devices/${encodeURIComponent(id)}`;
      }, watch.id);
      await owner.page.getByRole("heading", { name: "Kim's watch", level: 1 }).waitFor();
      assert.match(await text(owner.page.getByTestId("placement")), /Whose: Kim's own/);
      assert.equal(await owner.page.getByTestId("sharing").count(), 0);

      // Robin leaves the household while Kim's page still offers him (it has not heard yet): the
      // hub refuses, and says why beside the form.
      await api("DELETE", `/members/${robin.id}`);
      await eventually("Robin to leave Kim's choices", async () => !(await form.getByTestId("share-member").locator("option").allInnerTexts()).includes("Robin"));
      await form.getByTestId("share-member").evaluate((select, id) => {
        select.add(new Option("Robin", id));
        select.value = id;
      }, robin.id);
      const before404 = problems.length;
      await form.getByRole("button", { name: "Share", exact: true }).click();
      const error = form.getByTestId("share-error");
      await eventually("the hub's refusal beside the form", async () => (await text(error)) !== "");
      assert.match(await text(error), /^Could not share Kim's watch\. There is no member .+ in this home/);
      assert.ok(await error.evaluate((e) => e === document.activeElement), "the refusal gets focus, so it is read out");
      // The browser logs the refused request: expected here.
      await eventually("the refused request to be logged", async () => problems.slice(before404).some((p) => /status of 404/.test(p)), 3_000).catch(() => {});
      problems.splice(before404, problems.length - before404, ...problems.slice(before404).filter((p) => !/status of 404/.test(p)));

      // Noah, for a day, with the keyboard.
      await form.getByTestId("share-member").selectOption({ label: "Noah" });
      await form.getByTestId("share-hours").selectOption({ label: "1 day" });
      await form.getByRole("button", { name: "Share", exact: true }).focus();
      await page.keyboard.press("Enter");
      const shared = sharing.locator(`[data-testid=share-row][data-member-id="${noah.id}"]`);
      await shared.waitFor();
      assert.match(await text(shared), /^Noah can see what Kim's watch sends, until .+\. Stop sharing$/);
      assert.equal(await sharing.getByTestId("not-shared").count(), 0);
      assert.equal(await text(error), "", "the refusal is gone once sharing worked");
      const [grant] = await api("GET", `/grants?member=${noah.id}`);
      assert.equal(grant.grant.right, "review");
      assert.equal(grant.grant.granted_by, kimId);
      assert.deepEqual(grant.grant.target, { kind: "device", id: watch.id });
      const hours = (grant.grant.expires_at - Date.now()) / 3_600_000;
      assert.ok(hours > 23.9 && hours <= 24, `the share ends in a day, not ${hours} h`);

      // Stopping: the row goes, and the hub no longer has it.
      await shared.getByRole("button", { name: "Stop sharing Kim's watch with Noah" }).click();
      await shared.waitFor({ state: "detached" });
      await sharing.getByTestId("not-shared").waitFor();
      assert.equal(await text(sharing.getByTestId("not-shared")), "Only you see what Kim's watch sends.");
      assert.deepEqual(await api("GET", `/grants?member=${noah.id}`), []);
      assert.deepEqual(problems, []);
    });
  });
}
