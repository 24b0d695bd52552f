// A homeowner's first look at the MQTT home (`hearth demo --mqtt`: a Tasmota plug, a Shelly plug,
// a Zigbee2MQTT bridge with a door sensor and a lamp, an ESPHome climate node, a Frigate camera),
// none of which announces itself on mDNS: the list must still say what is true. Connected devices
// are online with the address they connect from and the kind they describe themselves as, and go
// offline when they drop; the bridge's Zigbee devices are found by search and have a page; a
// device can be renamed; an approved device with nothing allowed says it needs you, and its page
// puts what it asks for at the top while the technical parts wait under Advanced. A device's
// summary says what it measures now (the plug's watts, the room's temperature), never a field
// the household redacted.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/homeowner.test.mjs

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, HEARTH, cli, eventually, hubEnv, launchBrowser, ownerApi, remember, startHub, stop } from "./helpers.mjs";

const words = (s) => s.replace(/\s+/g, " ").trim();

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the homeowner tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/homeowner.test.mjs from the repository root");
  });
} else {
  describe("a homeowner's first look at the MQTT home", { timeout: 240_000 }, () => {
    const temp = [];
    let hub;
    let demo;
    let context;
    let page;
    const problems = [];

    const row = (name) => page.getByTestId("device-row").filter({ has: page.getByRole("link", { name, exact: true }) });

    before(async () => {
      assert.ok(existsSync(HEARTH), `the hub binary ${HEARTH} is missing: build it (cargo build) or set HEARTH_BIN`);
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HEARTH_CHROMIUM)`);
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-home-"));
      temp.push(dataDir);
      hub = startHub(dataDir, "127.0.0.1:0", ["--no-discovery"]);
      hub.dataDir = dataDir;
      const login = await hub.login;
      const token = (await readFile(path.join(dataDir, "owner-token"), "utf8")).trim();
      hub.api = ownerApi(() => ({ base: new URL(login).origin, token }));
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      // A first visit: the device page's Advanced section is closed.
      context = await launchBrowser(profile, undefined, {}, { advancedOpen: false });
      page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto(login);
      await eventually("the live stream to attach", async () => (await page.getByTestId("connection").getAttribute("data-connection")) === "live");
      demo = spawn(HEARTH, ["demo", "--mqtt", "--duration", "210", "--data-dir", dataDir], { env: hubEnv(), stdio: ["ignore", "pipe", "pipe"] });
      demo.stdout.setEncoding("utf8");
      demo.stdout.on("data", (c) => c.split("\n").filter(Boolean).forEach((l) => remember(`[demo --mqtt] ${l}`)));
      demo.stderr.setEncoding("utf8");
      demo.stderr.on("data", (c) => c.split("\n").filter(Boolean).forEach((l) => remember(`[demo --mqtt] ${l}`)));
    });

    after(async () => {
      await context?.close().catch(() => {});
      await Promise.all([stop(demo), stop(hub?.child)]);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("connected MQTT devices are online, with the address they connect from and the kind they describe", async () => {
      const started = Date.now();
      await eventually(
        "the five MQTT devices online",
        async () => (await page.locator('[data-testid=device-row] [data-testid=presence][data-connected=true]').count()) === 5,
        30_000,
      );
      const plug = row("Kitchen plug (Tasmota)");
      await eventually("the Tasmota plug described as a plug", async () => /Plug/.test(await plug.locator(".device-main .device-what").innerText()), 20_000);
      assert.match(words(await plug.locator(".device-main .device-what").innerText()), /^Plug · Tasmota Sonoff S31$/);
      assert.equal(words(await plug.getByTestId("presence").innerText()), "Connected");
      assert.match(await plug.locator(".addresses").innerText(), /127\.0\.0\.1/, "the address its connection comes from");
      assert.match(words(await page.getByTestId("list-summary").innerText()), /5 devices · 5 online · 2 more reached through a bridge/);
      // Each device's description is filed as its own discovery messages arrive, in the
      // recorder's next batch: the plug's being shown says nothing of the others'.
      const described = async (device, what) => what.test(words(await device.locator(".device-main .device-what").innerText()));
      const climate = row("Living room climate (ESPHome)");
      await eventually("the ESPHome device described as an Espressif sensor", () => described(climate, /Sensor · Espressif esp32dev/), 20_000);
      const bridge = row("Zigbee2MQTT bridge");
      await eventually("the bridge described as Zigbee2MQTT's", () => described(bridge, /Bridge · Zigbee2MQTT/), 20_000);
      // What it is comes from what it says: the page says so.
      await plug.getByRole("link", { name: "Kitchen plug (Tasmota)" }).click();
      assert.match(words(await page.getByTestId("summary-self-described").innerText()), /shown as a plug because it says so in its own messages/);
      await page.getByRole("link", { name: "All devices" }).click();
      remember(`[homeowner] online with their kinds after ${Date.now() - started} ms`);
    });

    test("a device's summary says what it measures now, and never a field the household redacted", async () => {
      const started = Date.now();
      await row("Kitchen plug (Tasmota)").getByRole("link", { name: "Kitchen plug (Tasmota)" }).click();
      const id = await page.getByTestId("device-page").getAttribute("data-device-id");
      const now = page.getByTestId("summary-state");
      // Its own discovery says it measures power on its telemetry topic; its next report is read.
      await eventually("the plug's watts on its summary", async () => /Power \d+(\.\d+)? W/.test(words(await now.innerText().catch(() => ""))), 30_000);
      remember(`[homeowner] the plug's watts shown ${Date.now() - started} ms after its page opened`);
      const watts = Number(/Power (\d+(?:\.\d+)?) W/.exec(words(await now.innerText()))[1]);
      assert.ok(watts >= 38 && watts <= 44, `the demo plug draws 38 to 44 W, not ${watts}`);
      assert.equal(await page.getByTestId("reading").count(), 1, "the summary leads with power; the firmware's other figures wait");

      // The household removes the power from its messages: the summary no longer shows it, and
      // the hub does not answer it, even after the plug's next reports.
      const redact = (on) => hub.api("POST", `/devices/${id}/privacy/redactions`, { path: "ENERGY.Power", redact: on });
      const power = page.locator("[data-testid=reading][data-name=Power]");
      await redact(true);
      await eventually("the power gone from the summary", async () => (await power.count()) === 0, 15_000);
      const sent = async () => (await hub.api("GET", `/devices/${id}/review?since=1h`)).messages;
      const before = await sent();
      await eventually("two more reports from the plug", async () => (await sent()) >= before + 2, 30_000);
      assert.deepEqual((await hub.api("GET", `/devices/${id}/readings`)).filter((r) => r.name === "Power"), []);
      assert.equal(await power.count(), 0);
      // Kept again: the next report shows it (the path was live all along).
      await redact(false);
      await eventually("the watts back on the summary", async () => /Power \d+/.test(words(await now.innerText().catch(() => ""))), 30_000);

      // The living room's climate node: its temperature and humidity, with their units.
      await page.getByRole("link", { name: "All devices" }).click();
      await row("Living room climate (ESPHome)").getByRole("link", { name: "Living room climate (ESPHome)" }).click();
      await eventually(
        "the room's temperature and humidity",
        async () => /Temperature \d+\.\d °C · Humidity \d+ %/.test(words(await now.innerText().catch(() => ""))),
        30_000,
      );
      await page.getByRole("link", { name: "All devices" }).click();
    });

    test("a bridge's Zigbee devices are found by search, and have a page of their own", async () => {
      await page.getByTestId("search").fill("front_door");
      await eventually("only the bridge row, with the door sensor under it", async () => (await page.getByTestId("device-row").count()) === 1);
      const children = page.getByTestId("child-row");
      assert.equal(await children.count(), 1);
      assert.match(words(await children.first().innerText()), /front_door Sensor · Aqara MCCGQ11LM through Zigbee2MQTT bridge/);
      await children.first().getByRole("link", { name: "front_door" }).click();
      await page.getByTestId("child-page").waitFor();
      assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "front_door");
      const said = words(await page.getByTestId("summary").innerText());
      assert.match(said, /Reached through Zigbee2MQTT bridge, which is connected/);
      assert.match(said, /It reports: battery, contact, linkquality/);
      // What it measures, read from the bridge's messages about it: its battery, not the link quality.
      await eventually("the door sensor's battery", async () => /Now: Battery 100 %/.test(words(await page.getByTestId("summary").innerText())), 20_000);
      await page.getByRole("link", { name: "All devices" }).click();
      await page.getByTestId("search").fill("");
    });

    test("an approved device with nothing allowed says it needs you; its page asks at the top, the technical parts wait under Advanced", async () => {
      // A sensor added by hand and connecting with its credential, before anything is allowed.
      const added = await hub.api("POST", "/devices", { name: "Garage sensor" });
      const id = added.device.id;
      const sensor = row("Garage sensor");
      await sensor.waitFor();
      assert.match(words(await sensor.getByTestId("needs-you").innerText()), /^Needs you ?: Nothing allowed yet$/);
      await sensor.getByRole("link", { name: "Garage sensor" }).click();
      await page.getByTestId("device-page").waitFor();
      const box = page.getByTestId("needs-you-box");
      assert.match(words(await box.innerText()), /Nothing is allowed yet, so Hearth refuses every message Garage sensor sends/);
      assert.match(words(await page.getByTestId("state-meaning").innerText()), /Approved, but nothing is allowed yet/);
      assert.match(words(await page.getByTestId("decisions-do").innerText()), /decide what it may send and receive through Hearth's broker/);
      const needsTop = (await box.boundingBox()).y;
      const advanced = page.getByTestId("advanced");
      assert.equal(await advanced.getAttribute("open"), null, "Advanced is closed at first");
      assert.ok(needsTop < (await advanced.boundingBox()).y, "Needs you comes before Advanced");
      assert.equal(await page.getByTestId("credential").isVisible(), false, "the credential waits under Advanced");
      await advanced.locator("> summary").click();
      await page.getByTestId("credential").waitFor();
      assert.ok(id.startsWith("d-"));
    });

    test("renaming a device: the list and the page say the new name, and the audit says who did it", async () => {
      const page1 = page;
      await page1.getByTestId("rename").locator("summary").click();
      await page1.getByTestId("rename-input").fill("Garage door sensor");
      await page1.getByTestId("rename-save").click();
      await eventually("the new name on the page", async () => (await page1.getByRole("heading", { level: 1 }).innerText()) === "Garage door sensor");
      await page1.getByRole("link", { name: "All devices" }).click();
      await row("Garage door sensor").waitFor();
      assert.match(await cli(hub.dataDir, "audit"), /renamed Garage sensor to Garage door sensor/);
    });

    test("a device that drops its connection goes offline", async () => {
      await stop(demo);
      await eventually(
        "the MQTT devices offline",
        async () => (await page.locator('[data-testid=device-row] [data-testid=presence][data-online=true]').count()) === 0,
        20_000,
      );
      assert.equal(words(await row("Kitchen plug (Tasmota)").getByTestId("presence").innerText()), "Offline");
    });

    test("no script errors on the page", () => {
      assert.deepEqual(problems, []);
    });
  });
}
