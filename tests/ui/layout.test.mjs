// A phone is a first-class screen: at 390 × 844 every page of the UI (the list, the review, the
// network, the household, the activity, settings, the notification history, and device pages of
// several kinds, in the simulated home with MQTT devices sending) fits the width, with nothing
// scrolling sideways, the navigation on one line behind a menu button, and every button, field
// and menu entry at least 44 px tall for a finger.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/layout.test.mjs

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SCREENS, eventually, openNav } from "./helpers.mjs";
import { startDemoHome, visit } from "./demo-home.mjs";

/** A finger's width (WCAG 2.5.5's target size); half a pixel for rounding. */
const TOUCH = 44 - 0.5;

/** In the page: what sticks out past the right edge or scrolls sideways inside (widest first),
 *  and which controls are shorter than a finger. */
function measure(touch) {
  const root = document.documentElement;
  const width = root.clientWidth;
  const name = (e) =>
    `<${e.tagName.toLowerCase()}${e.id ? ` id="${e.id}"` : ""}${e.className && typeof e.className === "string" ? ` class="${e.className}"` : ""}${
      e.dataset.testid ? ` data-testid="${e.dataset.testid}"` : ""
    }>${(e.getAttribute("aria-label") || e.textContent || "").replace(/\s+/g, " ").trim().slice(0, 40)}`;
  const shown = (e) => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(e).visibility !== "hidden" && !e.closest(".sr-only");
  };
  const all = [...document.body.querySelectorAll("*")].filter(shown);
  const past = all
    .map((e) => ({ e, right: e.getBoundingClientRect().right }))
    .filter(({ right }) => right > width + 0.5)
    .sort((x, y) => y.right - x.right)
    .map(({ e, right }) => `${name(e)} (right edge at ${Math.round(right)} px)`);
  const scrollers = all
    .filter((e) => /auto|scroll/.test(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
    .map((e) => `${name(e)} (${e.scrollWidth} px of content in ${e.clientWidth} px)`);
  const controls = "button, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), summary, .topnav a, .bell, a.btn";
  const small = [...document.querySelectorAll(controls)]
    .filter(shown)
    .filter((e) => e.getBoundingClientRect().height < touch)
    .map((e) => `${name(e)} (${Math.round(e.getBoundingClientRect().height)} px tall)`);
  return { scrollWidth: root.scrollWidth, clientWidth: width, past, scrollers, small };
}

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the layout tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/layout.test.mjs from the repository root");
  });
} else {
  describe("every page at phone size", { timeout: 240_000 }, () => {
    let home;
    let phone;

    before(async () => {
      home = await startDemoHome();
      // Always a phone here, whichever screen the rest of the run uses.
      phone = await home.browser(SCREENS.phone.viewport, SCREENS.phone.options);
    });

    after(async () => {
      await phone?.context.close().catch(() => {});
      await home?.close();
    });

    test("no page scrolls sideways at 390 px, and every control is at least 44 px tall", async (t) => {
      const failures = [];
      for (const p of home.pages) {
        await visit(phone.page, p);
        const m = await phone.page.evaluate(measure, TOUCH);
        t.diagnostic(`${p.name}: ${m.scrollWidth} px wide in ${m.clientWidth} px, ${Math.round(await phone.page.evaluate(() => document.documentElement.scrollHeight))} px tall`);
        if (m.scrollWidth > m.clientWidth) failures.push(`${p.name} scrolls sideways (${m.scrollWidth} px in ${m.clientWidth} px); widest: ${m.past[0] ?? "?"}`);
        else if (m.past.length) failures.push(`${p.name} has content past the right edge: ${m.past[0]}`);
        if (m.scrollers.length) failures.push(`${p.name} has a part that scrolls sideways: ${m.scrollers.join("; ")}`);
        if (m.small.length) failures.push(`${p.name} has controls under 44 px: ${m.small.slice(0, 5).join("; ")}${m.small.length > 5 ? ` and ${m.small.length - 5} more` : ""}`);
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(phone.problems, []);
    });

    test("the navigation is one line: the brand, the bell and a menu button; the menu's links are 44 px and work from the keyboard", async () => {
      const page = phone.page;
      // The review page: opening it puts focus on its title (once that happened, the keys below
      // go where the test says).
      await visit(page, home.pages[1]);
      await eventually("focus on the page's title", async () => page.evaluate(() => document.activeElement?.id === "page-title"));
      const toggle = page.getByTestId("menu-toggle");
      const bell = page.getByTestId("nav-notifications");
      const brand = page.locator(".brand");
      const boxes = await Promise.all([brand, bell, toggle].map((l) => l.boundingBox()));
      for (const [what, box] of [["the bell", boxes[1]], ["the menu button", boxes[2]]]) {
        assert.ok(box.height >= TOUCH && box.width >= TOUCH, `${what} is ${box.width} × ${box.height} px`);
        assert.ok(box.y < boxes[0].y + boxes[0].height && box.y + box.height > boxes[0].y, `${what} is on the brand's line`);
        assert.ok(box.x + box.width <= 390, `${what} fits the width`);
      }
      const links = page.locator("#main-nav a");
      assert.equal(await links.first().isVisible(), false, "the links wait behind the menu button");

      // Keyboard only: open the menu, every link is a full-width row of 44 px; Escape closes it
      // and puts focus back on the button.
      await toggle.focus();
      // The page is written on the next frame: wait for it rather than read too early.
      const expanded = (v) => eventually(`the menu button to say aria-expanded=${v}`, async () => (await toggle.getAttribute("aria-expanded")) === v);
      await page.keyboard.press("Enter");
      await expanded("true");
      const heights = await links.evaluateAll((as) => as.map((a) => [a.textContent.trim(), a.getBoundingClientRect().height]));
      assert.ok(heights.length >= 5, `the menu lists the pages (${heights.map(([n]) => n).join(", ")})`);
      for (const [name, height] of heights) assert.ok(height >= TOUCH, `${name} is ${height} px tall`);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.closest("#main-nav") !== null), true, "Tab goes into the menu");
      await page.keyboard.press("Escape");
      await expanded("false");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "menu-toggle");

      // A link chosen from the menu opens its page and closes the menu.
      await openNav(page);
      await page.getByTestId("nav-household").click();
      await page.getByRole("heading", { name: "Household", level: 1 }).waitFor();
      await expanded("false");
      assert.equal(await links.first().isVisible(), false);
    });

    test("at desktop size the links are in the bar itself, with no menu button", async () => {
      const desktop = await home.browser(SCREENS.desktop.viewport, SCREENS.desktop.options);
      try {
        assert.equal(await desktop.page.getByTestId("menu-toggle").isVisible(), false);
        const links = desktop.page.locator("#main-nav a");
        for (const link of await links.all()) assert.ok(await link.isVisible(), `${await link.textContent()} is shown`);
        const tops = await links.evaluateAll((as) => as.map((a) => Math.round(a.getBoundingClientRect().top)));
        assert.equal(new Set(tops).size, 1, `the links are on one line (tops ${tops.join(", ")})`);
      } finally {
        await desktop.context.close();
      }
    });
  });
}
