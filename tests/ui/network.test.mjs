// Network permissions through the web UI in Chromium, with real DNS: Debian's dnsmasq is the
// home's upstream resolver and Debian's dig is the device. A camera added by hand (pinned to
// 127.0.0.1, so its look-ups are its own) is put on its allowed list with the keyboard; it looks
// up its maker's cloud and is refused, the page shows the name waiting with why, a banner says
// it asked for the first time, one click allows it and the next look-up is answered. A tracker
// is denied in one click and stays refused. The Network page says how Hearth's DNS is set up,
// how many devices use it, and who talks to whom.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/network.test.mjs
// Needs dnsmasq and dig (Debian's dnsmasq and bind9-dnsutils) besides what the other UI tests need.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, HEARTH, eventually, launchBrowser, ownerApi, remember, run, startHub, stop, openNav } from "./helpers.mjs";

const DNSMASQ = "/usr/sbin/dnsmasq";
const VENDOR_V4 = "192.0.2.10";
const TRACKER_V4 = "192.0.2.66";

/** A UDP port nobody holds on loopback right now. */
async function freePort() {
  // DNS listens on TCP as well as UDP: a port free for UDP may be a TCP connection's local port
  // (the browser's, say), and dnsmasq then fails to start ("Address already in use"; seen once
  // in a full run). So the port must also take a TCP listener.
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket("udp4");
    await new Promise((resolve, reject) => udp.bind(0, "127.0.0.1", resolve).once("error", reject));
    const { port } = udp.address();
    const tcp = net.createServer();
    const free = await new Promise((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    await new Promise((resolve) => udp.close(resolve));
    if (free) {
      await new Promise((resolve) => tcp.close(resolve));
      return port;
    }
  }
  throw new Error("no port on 127.0.0.1 was free for both UDP and TCP in 20 tries");
}

/** The device's look-up, from 127.0.0.1: the addresses answered (empty on no answer). */
async function dig(port, name) {
  const { stdout } = await run("dig", ["@127.0.0.1", "-p", String(port), name, "A", "+short", "+tries=1", "+time=3"], { timeout: 15_000 });
  return stdout.split("\n").map((l) => l.trim()).filter(Boolean);
}

/** dnsmasq answering *.vendor.test and *.tracker.test with fixed addresses, and nothing else. */
async function startUpstream() {
  const port = await freePort();
  const child = spawn(
    DNSMASQ,
    [
      "--no-daemon",
      "--no-resolv",
      "--no-hosts",
      "--conf-file=/dev/null",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      `--address=/vendor.test/${VENDOR_V4}`,
      `--address=/tracker.test/${TRACKER_V4}`,
      "--pid-file=",
      "--user=root",
      "--log-facility=-",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => chunk.split("\n").filter(Boolean).forEach((l) => remember(`[dnsmasq] ${l}`)));
  await eventually("dnsmasq to answer", async () => (await dig(port, "up.vendor.test")).includes(VENDOR_V4));
  return { child, port };
}

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the network UI tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/network.test.mjs from the repository root");
  });
} else {
  describe("network permissions in the web UI", { timeout: 120_000 }, () => {
    const temp = [];
    let upstream;
    let hub;
    let dnsPort;
    let base;
    let token;
    let context;
    let page;
    let camera;
    const pageProblems = [];

    /** The API as the owner (the same calls the page makes). */
    const api = ownerApi(() => ({ base, token }));

    before(async () => {
      assert.ok(existsSync(HEARTH), `the hub binary ${HEARTH} is missing: build it (cargo build) or set HEARTH_BIN`);
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HEARTH_CHROMIUM)`);
      assert.ok(existsSync(DNSMASQ), `${DNSMASQ} is missing: apt-get install dnsmasq-base`);
      upstream = await startUpstream();
      dnsPort = await freePort();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-network-"));
      temp.push(dataDir);
      const started = startHub(dataDir, "127.0.0.1:0", [
        "--no-discovery",
        "--dns-listen",
        `127.0.0.1:${dnsPort}`,
        "--dns-upstream",
        `127.0.0.1:${upstream.port}`,
      ]);
      hub = started.child;
      const login = await started.login;
      base = new URL(login).origin;
      token = (await readFile(path.join(dataDir, "owner-token"), "utf8")).trim();

      // The camera: added by hand (approved, no level chosen: learning), and pinned to the
      // address its look-ups come from.
      camera = (await api("POST", "/devices", { name: "Porch camera" })).device;
      await api("POST", `/devices/${encodeURIComponent(camera.id)}/anonymous`, { client_id: "cam", address: "127.0.0.1" });

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
      await context?.close().catch(() => {});
      await Promise.all([stop(hub), stop(upstream?.child)]);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("a name not on its list is refused and waits; one click allows it and the next look-up is answered", async () => {
      await page.locator(".device-name", { hasText: "Porch camera" }).click();
      const section = page.locator("[data-testid=internet]");
      await section.getByRole("heading", { name: "Internet", level: 2 }).waitFor();

      // New to Hearth: learning, on the default nobody chose, and not in Hearth's path yet.
      await section.locator("[data-testid=learning]").waitFor();
      assert.match(await section.locator("[data-testid=level-default]").textContent(), /Hearth's default applies: allowed list/);
      assert.equal(await section.locator("input[type=radio]:checked").count(), 0, "no level is ticked before a person chooses");
      assert.equal(await section.locator("[data-testid=enforcement]").getAttribute("data-enforcement"), "not_in_path");
      assert.equal(
        (await section.locator("[data-testid=destinations-empty]").textContent()).trim(),
        "It has not looked anything up through Hearth yet.",
      );

      // Choose "Allowed list" with the keyboard: this ends the learning.
      const allowedList = section.getByRole("radio", { name: /Allowed list/ });
      await allowedList.focus();
      await page.keyboard.press("Space");
      await section.locator("[data-testid=learning]").waitFor({ state: "detached" });
      assert.ok(await allowedList.isChecked());
      assert.equal(await section.locator("[data-testid=level-default]").count(), 0);

      // The camera looks up its maker's cloud: refused (the null address), and shown live as
      // refused, not on its list, and waiting.
      assert.deepEqual(await dig(dnsPort, "cloud.vendor.test"), ["0.0.0.0"]);
      const row = section.locator('[data-testid=destination][data-name="cloud.vendor.test"]');
      await row.waitFor({ timeout: 5_000 });
      assert.equal((await row.locator("[data-testid=outcome]").textContent()).trim(), "refused");
      assert.equal((await row.locator("[data-testid=because]").textContent()).trim(), "not on its list");
      assert.equal(await row.getAttribute("data-waiting"), "true");
      const waiting = section.locator("[data-testid=waiting]");
      await waiting.locator('[data-testid=waiting-name][data-name="cloud.vendor.test"]').waitFor();
      // A banner says so, wherever the person is.
      await page.locator("[data-testid=destination-news]", { hasText: "Porch camera looked up cloud.vendor.test for the first time" }).waitFor();

      // Honest about how far that holds: through Hearth's DNS only (no firewall here).
      const held = section.locator("[data-testid=enforcement]");
      await eventually("the enforcement to say DNS only", async () => (await held.getAttribute("data-enforcement")) === "dns_only");
      assert.match(await held.textContent(), /Enforced through Hearth's DNS only: a device with its own resolver can go around it/);

      // One click allows it; the next look-up is forwarded and answered.
      await waiting.getByRole("button", { name: "Allow cloud.vendor.test" }).click();
      await section.locator('[data-testid=destination-rule][data-domain="cloud.vendor.test"][data-verdict=allow]').waitFor();
      await waiting.waitFor({ state: "detached" });
      assert.deepEqual(await dig(dnsPort, "cloud.vendor.test"), [VENDOR_V4]);
      await eventually("the row to say allowed, because you allowed it", async () =>
        (await row.locator("[data-testid=outcome]").textContent()).trim() === "allowed" &&
        (await row.locator("[data-testid=because]").textContent()).trim() === "you allowed cloud.vendor.test",
      );

      // A tracker: denied in one click from its row, and still refused, now by that rule.
      assert.deepEqual(await dig(dnsPort, "pixel.tracker.test"), ["0.0.0.0"]);
      const tracker = section.locator('[data-testid=destination][data-name="pixel.tracker.test"]');
      await tracker.waitFor({ timeout: 5_000 });
      await tracker.locator("[data-testid=deny-domain]").click();
      await section.locator('[data-testid=destination-rule][data-domain="pixel.tracker.test"][data-verdict=deny]').waitFor();
      assert.deepEqual(await dig(dnsPort, "pixel.tracker.test"), ["0.0.0.0"]);
      await eventually("the tracker's row to name the rule against it", async () =>
        (await tracker.locator("[data-testid=because]").textContent()).trim() === "your rule against pixel.tracker.test",
      );
      assert.equal(await tracker.getAttribute("data-waiting"), "false");

      // With the rule removed, its next look-up waits for a person again.
      await section.getByRole("button", { name: "Remove the rule for pixel.tracker.test" }).click();
      await section.locator('[data-testid=destination-rule][data-domain="pixel.tracker.test"]').waitFor({ state: "detached" });
      assert.deepEqual(await dig(dnsPort, "pixel.tracker.test"), ["0.0.0.0"]);
      await section.locator('[data-testid=waiting-name][data-name="pixel.tracker.test"]').waitFor({ timeout: 5_000 });
      assert.equal((await tracker.locator("[data-testid=because]").textContent()).trim(), "not on its list");
      assert.deepEqual(pageProblems, []);
    });

    test("the Network page: Hearth's DNS in words, who uses it, and who talks to whom", async () => {
      await openNav(page);
      await page.locator("[data-testid=nav-network]").click();
      const view = page.locator("[data-testid=network-page]");
      await view.getByRole("heading", { name: "Network", level: 1 }).waitFor();
      await view.locator("[data-testid=dns-usage]").waitFor();
      assert.match(await view.locator("[data-testid=dns-usage]").textContent(), /1 of 1 device\s+uses\s+Hearth's DNS/);
      assert.match(await view.locator("[data-testid=dns-gate]").textContent(), new RegExp(`Answers devices on 127\\.0\\.0\\.1:${dnsPort}`));
      assert.match(await view.locator("[data-testid=dns-upstream]").textContent(), new RegExp(`127\\.0\\.0\\.1:${upstream.port}`));
      assert.match(await view.locator("[data-testid=firewall]").textContent(), /Off: devices are held through DNS only/);
      assert.equal((await view.locator("[data-testid=dns-address]").textContent()).trim(), "127.0.0.1");
      assert.match(await view.locator("[data-testid=router-steps]").textContent(), /uci add_list dhcp\.lan\.dhcp_option='6,127\.0\.0\.1'/);

      // The chart: one bar (the camera), its domains, the refused part hatched.
      const chart = view.locator("[data-testid=traffic-chart]");
      await chart.waitFor();
      assert.equal(await chart.locator(`g.bar[data-device-id="${camera.id}"]`).count(), 1);
      assert.equal(await chart.locator('g.part[data-domain="vendor.test"]').count(), 1);
      assert.equal(await chart.locator('g.part[data-domain="tracker.test"] rect.seg-refused').count(), 1);

      // The same as a table, behind its summary; it follows new look-ups live.
      const table = view.locator("[data-testid=traffic-table]");
      await table.locator("summary").focus();
      await page.keyboard.press("Enter");
      const vendor = table.locator('[data-testid=traffic-row][data-domain="vendor.test"]');
      await vendor.waitFor();
      const cells = async () => (await vendor.locator("td").allTextContents()).map((t) => t.trim());
      assert.deepEqual(await cells(), ["vendor.test", "2", "1"]);
      assert.deepEqual(await dig(dnsPort, "cdn.vendor.test"), ["0.0.0.0"]);
      await eventually("the table to count the new look-up", async () => (await cells())[1] === "3");
      assert.deepEqual(pageProblems, []);
    });
  });
}
