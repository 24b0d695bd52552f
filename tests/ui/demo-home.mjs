// The simulated home every page is looked at in (the layout and accessibility checks): a hub, the
// mDNS demo and the MQTT demo (so the review pages have data), and the list of the UI's pages,
// with device pages of several kinds.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, HEARTH, MIN_DEVICES, ROOT, cli, eventually, hubEnv, launchBrowser, ownerApi, remember, startDemo, startHub, stop } from "./helpers.mjs";

/** Devices whose pages are looked at: a speaker (mDNS only), a TV, a lock, an MQTT plug with a
 *  review, a bridge describing other devices, and a camera. */
const DEVICE_PAGES = ["Bedroom Speaker", "Living Room TV", "Front Door Lock", "Kitchen plug (Tasmota)", "Zigbee2MQTT bridge", "Front door camera (Frigate)"];
const MQTT_DEVICES = ["Kitchen plug (Tasmota)", "Zigbee2MQTT bridge", "Front door camera (Frigate)"];

export async function startDemoHome() {
  assert.ok(existsSync(HEARTH), `the hub binary ${HEARTH} is missing: build it (cargo build) or set HEARTH_BIN`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HEARTH_CHROMIUM)`);
  assert.ok(existsSync(path.join(ROOT, "ui", "dist", "index.html")), "ui/dist is missing: run `npm ci && npm run build` in ui/");
  const temp = [];
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-demo-"));
  temp.push(dataDir);
  const hub = startHub(dataDir);
  const children = [hub.child];
  const kill = () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL"));
  process.once("exit", kill);
  const login = await hub.login;
  const base = new URL(login).origin;
  const token = (await readFile(path.join(dataDir, "owner-token"), "utf8")).trim();
  const api = ownerApi(() => ({ base, token }));
  children.push(startDemo());
  const mqtt = spawn(HEARTH, ["demo", "--mqtt", "--duration", "300", "--data-dir", dataDir], { env: hubEnv(), stdio: ["ignore", "pipe", "pipe"] });
  mqtt.stdout.setEncoding("utf8");
  mqtt.stdout.on("data", (c) => c.split("\n").filter(Boolean).forEach((l) => remember(`[demo --mqtt] ${l}`)));
  children.push(mqtt);

  const devices = await eventually(
    "the demo's devices and the MQTT devices' first messages",
    async () => {
      const all = await api("GET", "/devices");
      if (all.length < MIN_DEVICES + MQTT_DEVICES.length || !DEVICE_PAGES.every((n) => all.some((d) => d.name === n))) return false;
      for (const name of MQTT_DEVICES) {
        const id = all.find((d) => d.name === name).id;
        if ((await api("GET", `/devices/${id}/review?since=24h`)).messages === 0) return false;
      }
      return all;
    },
    45_000,
  );
  const pages = [
    { name: "the device list", hash: "#/" },
    { name: "the home review", hash: "#/review" },
    { name: "the network page", hash: "#/network" },
    { name: "the household page", hash: "#/household" },
    { name: "the activity page", hash: "#/activity" },
    { name: "the settings page", hash: "#/settings" },
    { name: "the notification history", hash: "#/notifications" },
    ...DEVICE_PAGES.map((n) => ({ name: `the device page of ${n}`, hash: `#/devices/${encodeURIComponent(devices.find((d) => d.name === n).id)}` })),
  ];

  return {
    base,
    api,
    pages,
    /** A browser signed in as the owner (a fresh one-time link each), at `viewport` or this run's:
     *  a first visit, so the list's first-run explanation is open (its layout and accessibility
     *  are checked with the rest). */
    async browser(viewport, options = {}) {
      const profile = await mkdtemp(path.join(os.tmpdir(), "hearth-chromium-"));
      temp.push(profile);
      const context = await launchBrowser(profile, viewport, options, { explained: false });
      const page = context.pages()[0] ?? (await context.newPage());
      const problems = [];
      page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto((await cli(dataDir, "open")).trim());
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
      return { context, page, problems };
    },
    async close() {
      await Promise.all(children.map((c) => stop(c)));
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** Opens one of `pages` and waits until it has loaded what it shows (nothing says "Loading…"). */
export async function visit(page, { hash }) {
  await page.goto(new URL(`/${hash}`, page.url()).href);
  await page.locator("#page-title").waitFor();
  await eventually(`${hash} to finish loading`, async () => (await page.locator("main [aria-busy=true]").count()) === 0);
  // The chart draws on the next frame after the page is written.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
