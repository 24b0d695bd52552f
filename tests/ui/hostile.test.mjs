// A hostile home network, seen through the web UI in Chromium: what the hub refused or would not
// decide alone, put to a person in plain words. Every situation is made the way it happens: mDNS
// announcements from python-zeroconf (announce.py) on the device side of the namespace and from a
// third "attacker" host, and Debian's mosquitto clients as the devices.
//
//  - a forged announcement naming two MACs is ignored and listed quietly; one linking two records
//    a person decided about is a live banner and a question on both pages: Keep apart, and Merge
//    (the stricter decision wins, the page opens the record kept);
//  - a learned topic that is another device's says so, and its Allow asks first;
//  - a client id held by another device names it, and binding takes it back; connection attempts,
//    retained messages and the status bar's refused connections;
//  - an entity another device described first, given to the right device after a question.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ARTIFACTS, cli, cliDevices, eventually, launchBrowser, startHub, startResponder, stop, openNav } from "./helpers.mjs";

const execFileP = promisify(execFile);

const DEVICE_SIDE = "10.77.0.2";
/** Today's time of day as the page shows it: "10:31", or "10:31 AM" in a 12-hour locale. */
const CLOCK = String.raw`\d?\d:\d\d(\s?[AP]M)?`;
const ATTACKER = "10.77.0.3";
const CONFIG_TOPIC = "homeassistant/sensor/living-room-climate/temperature/config";
const TEMPERATURE = {
  name: "temperature",
  uniq_id: "living-room-climate-temperature",
  dev_cla: "temperature",
  unit_of_meas: "°C",
  stat_t: "living-room-climate/sensor/temperature/state",
  avty_t: "living-room-climate/status",
  dev: { ids: "246f28a1b2c3", name: "living-room-climate", mf: "Espressif", mdl: "esp32dev", sw: "2024.6.1" },
};

/** mosquitto_pub as a device: `who` is `{username, password}` (a credential) and/or `{clientId}`;
 *  `extra` more arguments (`-r`, `-f file`). Resolves with the exit code and what it printed. */
async function pub(broker, who, topic, message, extra = []) {
  const [host, port] = broker.split(":");
  const args = ["-h", host, "-p", port, "-t", topic, "-q", "1", ...extra];
  if (who.username) args.push("-u", who.username, "-P", who.password);
  if (who.clientId) args.push("-i", who.clientId);
  if (message !== null) args.push("-m", message);
  try {
    const { stdout } = await execFileP("mosquitto_pub", args, { timeout: 15_000 });
    return { code: 0, stdout, stderr: "" };
  } catch (e) {
    return { code: e.code, stdout: String(e.stdout), stderr: String(e.stderr) };
  }
}

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the hostile-network UI tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/ from the repository root");
  });
} else {
  describe("a hostile home network in the web UI", { timeout: 180_000 }, () => {
    const temp = [];
    const children = [];
    let hub;
    let dataDir;
    let base;
    let token;
    let broker;
    let context;
    let page;
    let devices; // the device-side responder
    let attacker; // the attacker's responder, on a third host
    const pageProblems = [];

    /** The hub's API as the owner (the CLI's token), for set-up and to check what the UI did. */
    async function api(p) {
      const r = await fetch(`${base}/api/v1${p}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, `GET ${p}: ${r.status}`);
      return r.json();
    }
    /** A device added by hand (approved, with a credential) and the topics it may use. */
    async function device(name, rules = {}) {
      const added = JSON.parse(await cli(dataDir, "device", "add", name, "--json"));
      for (const p of rules.publish ?? []) await cli(dataDir, "device", "allow", added.id, "--publish", p);
      for (const p of rules.subscribe ?? []) await cli(dataDir, "device", "allow", added.id, "--subscribe", p);
      return { id: added.id, username: added.username, password: added.password, name };
    }
    const open = async (id) => {
      await page.goto(new URL(`/#/devices/${encodeURIComponent(id)}`, page.url()).href);
      await page.locator(`[data-testid=device-page][data-device-id="${id}"]`).waitFor();
    };
    /** A picture of the page for a person to look at (tests/artifacts, not checked in). */
    const snap = async (name) => {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `hostile-${name}.png`), fullPage: true });
    };
    /** What a screen reader is told after an action. */
    const told = () => page.locator("[aria-live=polite]").textContent();

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-hostile-"));
      temp.push(dataDir);
      const started = startHub(dataDir);
      hub = started.child;
      const login = await started.login;
      base = new URL(login).origin;
      token = (await readFile(path.join(dataDir, "owner-token"), "utf8")).trim();
      broker = JSON.parse(await cli(dataDir, "status", "--json")).broker.address.split(", ")[0];
      devices = await startResponder(DEVICE_SIDE);
      attacker = await startResponder(ATTACKER);
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      context = await launchBrowser(profile);
      page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (m) => m.type() === "error" && pageProblems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => pageProblems.push(`page error: ${e.message}`));
      await page.goto(login);
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
    });

    after(async () => {
      for (const c of children) c.kill("SIGKILL");
      await context?.close().catch(() => {});
      await Promise.all([devices?.close(), attacker?.close()]);
      await stop(hub);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("an announcement linking two decided records is a question: kept apart, or merged into the stricter record", async () => {
      // A plug and a lock, each approved by a person.
      await devices.announce({ type: "_shelly._tcp", instance: "shellyplug-aaaaaa000001", host: "shellyplug-aaaaaa000001", txt: { gen: "2" } });
      await devices.announce({
        type: "_hap._tcp",
        instance: "Front Door Lock",
        host: "front-door-lock",
        txt: { ci: "6", id: "AA:6C:01:5E:92:10", mac: "bbbbbb000002" },
      });
      const found = await eventually("the plug and the lock", async () => {
        const all = await cliDevices(dataDir);
        const plug = all.find((d) => d.name === "shellyplug-aaaaaa000001");
        const lock = all.find((d) => d.name === "Front Door Lock");
        return plug && lock && { plug, lock };
      }, 15_000);
      const { plug, lock } = found;
      await cli(dataDir, "device", "approve", plug.id);
      await cli(dataDir, "device", "approve", lock.id);

      // The attacker's host announces a "printer" naming both MACs: ignored, listed quietly.
      await attacker.announce({ type: "_http._tcp", instance: "printer", host: "printer", txt: { mac: "aa:aa:aa:00:00:01", macaddress: "bb:bb:bb:00:00:02" } });
      await eventually("the forged announcement on record", async () => (await api("/identity")).ignored.length > 0, 15_000);
      await openNav(page);
      await page.getByRole("link", { name: "What they send" }).click();
      const ignored = page.locator("[data-testid=ignored-announcements]");
      await ignored.waitFor();
      assert.equal(await ignored.getByRole("heading").textContent().then((t) => t.replace(/\s+/g, " ").trim()), "Announcements Hearth ignored 1");
      const entry = (await ignored.locator("[data-testid=ignored]").textContent()).replace(/\s+/g, " ");
      assert.match(
        entry.trim(),
        /^An announcement from 10\.77\.0\.3, “printer” \(_http\._tcp\), named two different MAC addresses \(aa:aa:aa:00:00:01, bb:bb:bb:00:00:02\)\. Seen (\d+ times, last )?just now\.$/,
      );
      assert.match(await ignored.textContent(), /none of your devices changed/);
      assert.equal(await page.locator("[data-testid=open-questions]").count(), 0, "no question yet");
      await snap("ignored");

      // From the device list: the attacker links the lock's HomeKit id and the plug's MAC. Hearth
      // joins nothing and asks, live.
      await openNav(page);
      await page.getByRole("link", { name: "Devices", exact: true }).click();
      await attacker.announce({ type: "_hap._tcp", instance: "Bridge", host: "bridge", txt: { id: "AA:6C:01:5E:92:10", mac: "aaaaaa000001", ci: "2" } });
      const banner = page.locator("[data-testid=question-news]");
      await banner.waitFor({ timeout: 15_000 });
      assert.match(
        (await banner.textContent()).replace(/\s+/g, " "),
        /Is (Front Door Lock|shellyplug-aaaaaa000001) the same device as (Front Door Lock|shellyplug-aaaaaa000001)\? An announcement from 10\.77\.0\.3 said so\. Hearth has not joined them: answer on either one's page\./,
      );
      assert.equal((await cliDevices(dataDir)).length, 2, "asked, not merged");

      // The banner links to the lock; its page asks in plain words.
      await banner.getByRole("link", { name: "Front Door Lock" }).click();
      const question = page.locator("[data-testid=merge-question]");
      await question.waitFor();
      assert.equal(await question.getAttribute("data-other"), plug.id);
      const words = (await question.textContent()).replace(/\s+/g, " ");
      assert.match(words, /Is this the same device as shellyplug-aaaaaa000001\?/);
      assert.match(words, /An announcement from 10\.77\.0\.3 said so\. Hearth has not joined them because you made decisions about both\./);
      assert.match(words, /Merge One record is kept, with the stricter of every decision: if either is blocked, it stays blocked\./);
      assert.match(words, /Keep apart They are two devices: Hearth stops asking\./);
      await snap("question");
      // The review page asks too, linking to both.
      await openNav(page);
      await page.getByRole("link", { name: "What they send" }).click();
      const open_ = page.locator("[data-testid=open-question]");
      await open_.waitFor();
      assert.equal(await open_.getByRole("link").count(), 2);
      await page.goBack();
      await question.waitFor();

      // Keyboard only: Keep apart. The question goes, here and in the hub, and is not asked again.
      await question.getByRole("button", { name: "Keep apart from shellyplug-aaaaaa000001" }).focus();
      await page.keyboard.press("Enter");
      await question.waitFor({ state: "detached" });
      await eventually("the answer read out", async () => /will not ask again whether Front Door Lock and shellyplug-aaaaaa000001 are one device/.test(await told()));
      assert.equal(await page.evaluate(() => document.activeElement?.id), "page-title", "focus is not lost with the buttons");
      assert.deepEqual((await api("/identity")).proposals, []);
      assert.equal(await banner.count(), 0, "the banner of an answered question goes");
      assert.equal((await cliDevices(dataDir)).length, 2);

      // One Apple TV seen as two records, one approved and one blocked by a person; its AirPlay
      // announcement links them.
      await devices.announce({ type: "_raop._tcp", instance: "C92A14084F64@Den", host: "den-old", port: 7000, txt: { am: "AppleTV6,2" } });
      const raop = await eventually("the AirPlay-audio record", async () => (await cliDevices(dataDir)).find((d) => d.services.some((s) => s.type === "_raop._tcp")), 15_000);
      await devices.announce({ type: "_companion-link._tcp", instance: "Den", host: "den", port: 49152, txt: { rpMd: "AppleTV6,2" } });
      const companion = await eventually("the companion-link record", async () => (await cliDevices(dataDir)).find((d) => d.services.some((s) => s.type === "_companion-link._tcp")), 15_000);
      assert.notEqual(raop.id, companion.id);
      await cli(dataDir, "device", "approve", raop.id);
      await cli(dataDir, "device", "block", companion.id);
      await open(companion.id);
      await devices.announce({ type: "_airplay._tcp", instance: "Den", host: "den", port: 7000, txt: { deviceid: "C9:2A:14:08:4F:64", model: "AppleTV6,2" } });
      // The open page shows the question as it arrives.
      const den = page.locator(`[data-testid=merge-question][data-other="${raop.id}"]`);
      await den.waitFor({ timeout: 15_000 });
      assert.match((await den.textContent()).replace(/\s+/g, " "), /An announcement from 10\.77\.0\.2 said so\./);
      await den.getByRole("button", { name: `Merge with ${raop.name}` }).click();
      // The page becomes the record kept (the older one), blocked: a block stays.
      await page.locator(`[data-testid=device-page][data-device-id="${raop.id}"]`).waitFor();
      assert.equal(new URL(page.url()).hash, `#/devices/${raop.id}`);
      assert.equal(await page.locator("[data-testid=device-page] [data-testid=state-badge]").textContent(), "Blocked");
      assert.equal(await page.locator("[data-testid=merge-question]").count(), 0);
      const after_ = await cliDevices(dataDir);
      assert.ok(!after_.some((d) => d.id === companion.id), "the other record was folded in");
      assert.equal(after_.find((d) => d.id === raop.id).state, "blocked");
      assert.deepEqual(pageProblems, []);
    });

    test("a learned topic that is another device's says whose it is, and allowing it asks first", async () => {
      const frontDoor = await device("Front door", { publish: ["tele/frontdoor/#", "stat/frontdoor/#"], subscribe: ["cmnd/frontdoor/#"] });
      const plug = await device("Cheap plug");
      for (const topic of ["tele/frontdoor/LWT", "cmnd/status"]) assert.equal((await pub(broker, plug, topic, "x")).code, 0);
      await open(plug.id);
      const section = page.locator("[data-testid=broker]");
      const needs = page.locator("[data-testid=needs-you-box]");
      const theirs = needs.locator('[data-testid=proposal][data-pattern="tele/frontdoor/LWT"]');
      const plain = needs.locator('[data-testid=proposal][data-pattern="cmnd/status"]');
      await theirs.waitFor({ timeout: 10_000 });
      await plain.waitFor();
      const concern = theirs.locator("[data-testid=concern]");
      assert.equal((await concern.textContent()).replace(/\s+/g, " ").trim(), "This is Front door's topic: allowing it lets Cheap plug speak for Front door.");
      assert.equal(await concern.getByRole("link", { name: "Front door" }).getAttribute("href"), `#/devices/${frontDoor.id}`);
      assert.equal(await plain.locator("[data-testid=concern]").count(), 0, "a topic of nobody's has no warning");
      assert.equal((await plain.getByRole("button", { name: /^Allow/ }).textContent()).trim(), "Allow");

      // Allow asks first; Escape keeps things as they were, with focus back on the button.
      const allow = theirs.getByRole("button", { name: "Allow sending on tele/frontdoor/LWT (asks first)" });
      await allow.click();
      const dialog = page.locator("[data-testid=confirm-dialog]");
      assert.equal(await dialog.locator("h2").textContent(), "Let Cheap plug publish to Front door's topic?");
      assert.match((await dialog.locator("#confirm-body").textContent()).replace(/\s+/g, " "), /tele\/frontdoor\/LWT is Front door's topic\. Allowing it lets Cheap plug speak for Front door/);
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "confirm-cancel", "Cancel has the focus");
      await snap("allow-asks");
      await page.keyboard.press("Escape");
      await dialog.locator("h2").waitFor({ state: "detached" });
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Allow sending on tele/frontdoor/LWT (asks first)");
      const learned = (await api(`/devices/${plug.id}/broker`)).rules.find((r) => r.pattern === "tele/frontdoor/LWT");
      assert.equal(learned.status, "learned", "nothing allowed");

      // Confirmed: a rule.
      await allow.click();
      await dialog.locator("[data-testid=confirm-yes]").click();
      await section.locator("[data-testid=rule][data-status=allowed]", { hasText: "tele/frontdoor/LWT" }).waitFor();
      assert.equal(await theirs.count(), 0);
      // The one with no concern is still one click.
      await plain.getByRole("button", { name: "Allow sending on cmnd/status" }).click();
      await section.locator("[data-testid=rule][data-status=allowed]", { hasText: "cmnd/status" }).waitFor();
      assert.equal(await dialog.locator("h2").count(), 0);
      assert.deepEqual(pageProblems, []);
    });

    test("the page of a device that is away says what waits for it and what its full queue dropped", async () => {
      const dashboard = await device("Wall dashboard", { subscribe: ["cam/#"] });
      const camera = await device("Porch camera", { publish: ["cam/#"] });
      const [host, port] = broker.split(":");
      // The dashboard subscribes with a persistent session and goes away (-E: exit once subscribed).
      const away = spawn("mosquitto_sub", ["-h", host, "-p", port, "-u", dashboard.username, "-P", dashboard.password, "-i", "wall-dash", "-c", "-q", "1", "-t", "cam/#", "-E"]);
      children.push(away);
      await new Promise((r) => away.once("exit", r));
      // 40 snapshots of 512 KiB: its session's queue keeps 16 MiB of them.
      const snapshot = path.join(dataDir, "..", `snapshot-${process.pid}`);
      await writeFile(snapshot, Buffer.alloc(512 * 1024, 7));
      temp.push(snapshot);
      for (let i = 0; i < 40; i++) assert.equal((await pub(broker, camera, "cam/porch/snapshot", null, ["-f", snapshot])).code, 0);
      await eventually("the drops counted", async () => (await api(`/devices/${dashboard.id}/broker`)).waiting.dropped === 9);
      await open(dashboard.id);
      const waiting = page.locator("[data-testid=waiting]");
      await waiting.waitFor();
      const text = (await waiting.textContent()).replace(/\s+/g, " ").trim();
      assert.match(text, /^Away: Hearth keeps its session for its return, with 31 messages \(1\d(\.\d)? MB\) waiting\./, text);
      assert.match(text, /9 messages to it were dropped since Hearth started: its queue was full \(at most 100\D?000 messages or 1\d(\.\d)? MB\)\.$/, text);
      await snap("waiting");
      assert.deepEqual(pageProblems, []);
    });

    test("a client id held by another device names it and binding takes it back; attempts, retained messages and refused connections", async () => {
      const panel = await device("Alarm panel", { subscribe: ["alarm/#"] });
      const squatter = await device("Squatting plug", { subscribe: ["squat/#"] });
      const frontDoor = await device("Front door lock", { publish: ["stat/frontlock/#"] });
      const [host, port] = broker.split(":");

      // The squatter holds the panel's client id, connected.
      const squat = spawn("mosquitto_sub", ["-h", host, "-p", port, "-u", squatter.username, "-P", squatter.password, "-i", "alarm-panel", "-c", "-t", "squat/#"]);
      children.push(squat);
      const squatGone = new Promise((r) => squat.once("exit", r));
      await eventually("the squatter's session", async () => (await api(`/devices/${squatter.id}/broker`)).sessions.some((s) => s.client_id === "alarm-panel"));
      // The panel is refused its own client id, tries a wrong secret three times, and connects
      // once under another client id.
      assert.notEqual((await pub(broker, { ...panel, clientId: "alarm-panel" }, "alarm/x", "1")).code, 0);
      for (let i = 0; i < 3; i++) assert.notEqual((await pub(broker, { username: panel.username, password: "wrong-secret" }, "alarm/x", "1")).code, 0);
      await pub(broker, { ...panel, clientId: "panel-test" }, "alarm/x", "1"); // connects; the publish itself is not allowed
      await eventually("the attempts counted", async () => {
        const c = (await api(`/devices/${panel.id}/broker`)).connections;
        return c.some((x) => x.refused === "bad_credentials" && x.count === 3) && c.some((x) => x.refused === "client_id_taken") && c.some((x) => x.refused === null);
      });

      await open(panel.id);
      const section = page.locator("[data-testid=broker]");
      const holder = section.locator("[data-testid=client-id-holder]");
      await holder.waitFor();
      assert.match(
        (await holder.textContent()).replace(/\s+/g, " "),
        /Client id alarm-panel is in use by Squatting plug \(connected now\), so Alarm panel cannot connect with it\./,
      );
      assert.equal(await holder.getByRole("link", { name: "Squatting plug" }).getAttribute("href"), `#/devices/${squatter.id}`);
      assert.match((await holder.textContent()).replace(/\s+/g, " "), /Binding the client id to this device takes it back at once/);
      await snap("client-id-holder");
      const attempts = section.locator("[data-testid=attempts]");
      const line = async (reason) => (await attempts.locator(`[data-testid=attempt][data-refused=${reason}]`).textContent()).replace(/\s+/g, " ").trim();
      assert.match(await line("bad_credentials"), new RegExp(`^Refused 3 times from 127\\.0\\.0\\.1 \\(wrong or unknown credential\\), last ${CLOCK} · client id \\S+$`));
      assert.match(await line("client_id_taken"), new RegExp(`^Refused once from 127\\.0\\.0\\.1 \\(client id bound to or held by another device\\), last ${CLOCK} · client id alarm-panel$`));
      assert.match((await attempts.locator("[data-testid=attempts-accepted]").textContent()).replace(/\s+/g, " ").trim(), new RegExp(`^Connected once from 127\\.0\\.0\\.1, last ${CLOCK}$`));

      // One click binds the client id to the panel: the squatter is put out, the notice goes.
      await holder.getByRole("button", { name: "Bind alarm-panel to Alarm panel" }).click();
      await holder.waitFor({ state: "detached" });
      await squatGone;
      await section.locator("[data-testid=credential]", { hasText: "bound to client id alarm-panel" }).waitFor();
      assert.equal((await pub(broker, { ...panel, clientId: "alarm-panel" }, "alarm/x", "1")).code, 0, "the panel connects with its client id");

      // Retained messages: two small states, then five of 1 MB against a 4 MiB limit.
      assert.equal((await pub(broker, frontDoor, "stat/frontlock/state", "locked", ["-r"])).code, 0);
      assert.equal((await pub(broker, frontDoor, "stat/frontlock/battery", "80", ["-r"])).code, 0);
      const blob = path.join(dataDir, "..", `blob-${process.pid}`);
      await writeFile(blob, Buffer.alloc(1_000_000, 120));
      temp.push(blob);
      for (let i = 0; i < 5; i++) assert.equal((await pub(broker, frontDoor, `stat/frontlock/log${i}`, null, ["-r", "-f", blob])).code, 0);
      await open(frontDoor.id);
      const retained = section.locator("[data-testid=retained]");
      await retained.waitFor();
      assert.equal(
        (await retained.textContent()).replace(/\s+/g, " ").trim(),
        "Keeps 6 retained messages for new subscribers, counted as 4.0 MB of its share. 1 more was delivered but not kept: its limit was reached.",
      );

      // The status bar counts refused connections, calmly, once there are some.
      await page.reload();
      const refused = page.locator("[data-testid=refused-connections]");
      await refused.waitFor();
      assert.match((await refused.textContent()).replace(/\s+/g, " ").trim(), /^\d+ refused connections from 1 address in the last day$/);
      assert.equal(await refused.evaluate((e) => e.closest(".warn-text")), null, "not alarming");
      await snap("retained");
      assert.deepEqual(pageProblems, []);
    });

    test("an entity another device described first is given to the right device after a question", async () => {
      const squatter = await device("Cheap sensor", { publish: ["homeassistant/#", "cheap/#"] });
      const early = { ...TEMPERATURE, stat_t: "cheap/temp", avty_t: "cheap/status", dev: { ids: "cheap", name: "cheap" } };
      assert.equal((await pub(broker, squatter, "homeassistant/sensor/cheap/temperature/config", JSON.stringify(early))).code, 0);
      await eventually("the squatter's entity", async () => (await api(`/devices/${squatter.id}/broker`)).described.length > 0);
      const node = await device("Climate node", { publish: ["living-room-climate/#", "homeassistant/+/living-room-climate/+/config"] });
      await pub(broker, node, CONFIG_TOPIC, JSON.stringify(TEMPERATURE), ["-V", "mqttv5"]); // refused: not authorized
      await eventually("the refusal naming the holder", async () => (await api(`/devices/${node.id}/broker`)).contested.length > 0);

      await open(node.id);
      const contested = page.locator("[data-testid=contested]");
      await contested.waitFor();
      assert.equal(
        (await contested.locator("p").textContent()).replace(/\s+/g, " ").trim(),
        `Cheap sensor describes ‘living-room-climate-temperature’ already, so this device's discovery message was refused. (It came on ${CONFIG_TOPIC}.)`,
      );
      assert.equal(await contested.getByRole("link", { name: "Cheap sensor" }).getAttribute("href"), `#/devices/${squatter.id}`);
      const give = contested.getByRole("button", { name: "Give it to Climate node…" });
      await give.click();
      const dialog = page.locator("[data-testid=confirm-dialog]");
      assert.equal(await dialog.locator("h2").textContent(), "Give ‘living-room-climate-temperature’ to Climate node?");
      assert.match((await dialog.locator("#confirm-body").textContent()).replace(/\s+/g, " "), /Cheap sensor loses it/);
      await snap("give-entity");
      await dialog.getByRole("button", { name: "Cancel" }).click();
      assert.equal((await api(`/devices/${squatter.id}/broker`)).described.length, 1, "cancelled: nothing moved");
      await give.click();
      await dialog.locator("[data-testid=confirm-yes]").click();
      await contested.waitFor({ state: "detached" });
      assert.deepEqual((await api(`/devices/${squatter.id}/broker`)).described, [], "the squatter's description of it is gone");
      await eventually("the gift read out", async () => /is Climate node's now; Cheap sensor no longer describes it/.test(await told()));
      // The node's discovery (firmware sends it again) is accepted now and shows on its page.
      assert.equal((await pub(broker, node, CONFIG_TOPIC, JSON.stringify(TEMPERATURE))).code, 0);
      await page.locator("[data-testid=described] [data-testid=entity]", { hasText: "temperature" }).waitFor({ timeout: 10_000 });
      assert.deepEqual(pageProblems, []);
    });
  });
}
