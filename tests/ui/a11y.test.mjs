// Accessibility, checked by axe-core on every page of the demo home (the list, the review, the
// network, the household, the activity, settings, the notification history, device pages of
// several kinds), at desktop and phone size, in light and dark mode: no serious or critical
// violation (contrast, names, labels, roles). Lesser findings are printed, not failed.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/a11y.test.mjs

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { SCREENS, openNav } from "./helpers.mjs";
import { startDemoHome, visit } from "./demo-home.mjs";

const AXE = createRequire(import.meta.url).resolve("axe-core");

/** Runs axe on the page as it is (injected once per document: the pages are hash routes). */
async function check(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
}

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the accessibility tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/a11y.test.mjs from the repository root");
  });
} else {
  describe("every page passes axe-core", { timeout: 300_000 }, () => {
    let home;

    before(async () => {
      home = await startDemoHome();
    });

    after(async () => {
      await home?.close();
    });

    for (const screen of ["desktop", "phone"]) {
      for (const colorScheme of ["light", "dark"]) {
        test(`no serious or critical violations at ${screen} size in ${colorScheme} mode`, async (t) => {
          // The page's Content-Security-Policy allows only its own scripts: axe is let in by
          // this test browser alone.
          const { context, page, problems } = await home.browser(SCREENS[screen].viewport, { ...SCREENS[screen].options, colorScheme, bypassCSP: true });
          try {
            const failures = [];
            const looked = [...home.pages.map((p) => ({ ...p, open: async () => visit(page, p) }))];
            if (screen === "phone") {
              looked.push({ name: "the menu, open", open: async () => { await visit(page, home.pages[0]); await openNav(page); } });
            }
            // A question in a dialog: keeping a kind of data for less time.
            const plug = home.pages.find((p) => p.name.endsWith("Kitchen plug (Tasmota)"));
            looked.push({
              name: "the question before keeping less",
              open: async () => {
                await visit(page, plug);
                await page.getByLabel("How long Hearth keeps energy data of Kitchen plug (Tasmota)").selectOption("7d");
                await page.getByTestId("confirm-dialog").getByTestId("confirm-yes").waitFor();
              },
              close: () => page.getByTestId("confirm-cancel").click(),
            });
            for (const p of looked) {
              await p.open();
              const violations = await check(page);
              await p.close?.();
              for (const v of violations) {
                const line = `${p.name}: ${v.id} (${v.impact}): ${v.help}; at ${v.targets.slice(0, 4).join(" | ")}${v.targets.length > 4 ? ` and ${v.targets.length - 4} more` : ""}`;
                if (v.impact === "serious" || v.impact === "critical") failures.push(line);
                else t.diagnostic(line);
              }
            }
            assert.deepEqual(failures, []);
            assert.deepEqual(problems, []);
          } finally {
            await context.close();
          }
        });
      }
    }
  });
}
