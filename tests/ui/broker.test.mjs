// The broker through the web UI in Chromium, with Debian's mosquitto clients as the devices:
// add a device by hand and see its secret once (with a QR code), watch the topic it tries
// appear live as a proposal, allow it in one click and see its messages delivered, then revoke;
// and the simulated MQTT home (`hearth demo --mqtt`: Tasmota, Shelly, Zigbee2MQTT, ESPHome, a
// camera) seen through the UI, with a denial taking effect on a live device.
//
// Run from the repository root inside the private network namespace:
//   ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/
// (one file at a time: both run the simulated home, whose goodbyes would confuse the other)

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { HEARTH, cli, eventually, hubEnv, launchBrowser, remember, startHub, stop, openNav } from "./helpers.mjs";

const execFileP = promisify(execFile);

/** mosquitto_pub as a device; resolves with its exit code and output. */
/** `username` null: no credential, as client id `password`. */
async function mosquittoPub(broker, username, password, topic, message) {
  const [host, port] = broker.split(":");
  const who = username === null ? ["-i", password] : ["-u", username, "-P", password];
  try {
    await execFileP("mosquitto_pub", ["-h", host, "-p", port, ...who, "-t", topic, "-m", message, "-q", "1"], {
      timeout: 10_000,
    });
    return { code: 0, stderr: "" };
  } catch (e) {
    return { code: e.code, stderr: String(e.stderr) };
  }
}

if (process.env.HEARTH_IN_NETNS !== "1") {
  test("the broker UI tests run inside the private network namespace", () => {
    assert.fail("HEARTH_IN_NETNS is not 1: run ../shared/tools/in-netns node --test --test-concurrency=1 tests/ui/ from the repository root");
  });
} else {
  describe("the broker in the web UI", { timeout: 120_000 }, () => {
    const temp = [];
    let hub;
    let dataDir;
    let context;
    let page;
    const pageProblems = [];

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-ui-broker-"));
      temp.push(dataDir);
      // As a clean stop whose final save of the broker's sessions failed leaves it (a full disk).
      await writeFile(path.join(dataDir, "mqtt-unsaved"), "");
      const started = startHub(dataDir);
      hub = started.child;
      const login = await started.login;
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
      await stop(hub);
      await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    });

    test("a clean stop that could not save the broker's sessions is told on the page, in a homeowner's words", async () => {
      const banner = page.getByTestId("mqtt-unsaved");
      await banner.waitFor();
      const text = (await banner.textContent()).replace(/\s+/g, " ");
      assert.match(text, /could not save what had changed since its last save \(the disk was probably full\)/);
      assert.match(text, /Messages that came for offline devices in that time may be lost/);
      assert.ok(text.includes(dataDir), "it says which disk needs room");
      assert.equal(await page.getByRole("region", { name: "About this hub" }).getByTestId("mqtt-unsaved").count(), 1);
    });

    test("a device added by hand shows its secret once, learns a topic, is allowed in one click, then revoked", async () => {
      // Add it: keyboard only.
      await page.locator("[data-testid=add-device] summary").focus();
      await page.keyboard.press("Enter");
      await page.getByLabel("Name").fill("Garage sensor");
      await page.keyboard.press("Enter");
      const secret = page.locator("[data-testid=secret]");
      await secret.waitFor();
      const username = (await secret.locator("[data-testid=secret-username]").textContent()).trim();
      const password = (await secret.locator("[data-testid=secret-password]").textContent()).trim();
      const broker = (await secret.locator("[data-testid=secret-broker]").textContent()).trim().split(", ")[0];
      assert.match(password, /^[0-9a-f]{48}$/);
      assert.match(broker, /^127\.0\.0\.1:\d+$/);
      assert.ok(await secret.locator("img.qr").evaluate((img) => img.complete && img.naturalWidth > 100), "a QR code is shown");
      await secret.locator("[data-testid=secret-close]").click();
      await secret.waitFor({ state: "detached" });
      assert.ok(!(await page.content()).includes(password), "the secret is gone from the page once closed");

      // Its page: no rules yet, and an explanation.
      await page.locator(".device-name", { hasText: "Garage sensor" }).click();
      const section = page.locator("[data-testid=broker]");
      await section.locator("[data-testid=no-rules]").waitFor();
      assert.equal((await section.locator("[data-testid=username]").textContent()).trim(), username);
      // TLS: the address, and Hearth's CA certificate to install on the device.
      assert.match(await section.locator("[data-testid=broker-tls]").textContent(), /^127\.0\.0\.1:\d+$/);
      const ca = decodeURIComponent((await section.locator("[data-testid=ca-download]").getAttribute("href")).split(",")[1]);
      assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
      assert.ok(!ca.includes("PRIVATE KEY"));

      // The device publishes a topic nobody allowed: refused, and proposed live on the page.
      assert.equal((await mosquittoPub(broker, username, password, "garage/sensor/temperature", "21.5")).code, 0);
      // What it asks for is at the top of the page, in the Needs you box.
      const proposal = page.locator('[data-testid=needs-you-box] [data-testid=proposal][data-pattern="garage/sensor/temperature"]');
      await proposal.waitFor({ timeout: 5_000 });
      assert.match(await section.locator("[data-testid=decision]").first().textContent(), /Refused: no rule allows it/);

      // A dashboard listens; one click allows the topic; the next message is delivered.
      const dashboard = JSON.parse(await cli(dataDir, "device", "add", "Dashboard", "--json"));
      await cli(dataDir, "device", "allow", dashboard.id, "--subscribe", "garage/#");
      const [host, port] = broker.split(":");
      const sub = spawn("mosquitto_sub", ["-h", host, "-p", port, "-u", dashboard.username, "-P", dashboard.password, "-t", "garage/#", "-C", "1", "-v", "-W", "10"]);
      let received = "";
      sub.stdout.on("data", (c) => (received += c));
      await new Promise((r) => setTimeout(r, 500));
      // The dashboard is on the other end of that topic: the proposal says so, and its Allow asks.
      await eventually("the proposal to name the dashboard", async () =>
        /This reaches Dashboard: it listens on this topic\./.test(await proposal.textContent()),
      );
      await proposal.getByRole("button", { name: /^Allow/ }).click();
      const asked = page.locator("[data-testid=confirm-dialog]");
      assert.equal(await asked.locator("h2").textContent(), "Let Garage sensor send to Dashboard?");
      await asked.getByRole("button", { name: "Allow", exact: true }).click();
      await section.locator('[data-testid=rule][data-status=allowed]', { hasText: "garage/sensor/temperature" }).waitFor();
      assert.equal(await proposal.count(), 0, "the proposal became a rule");
      assert.equal((await mosquittoPub(broker, username, password, "garage/sensor/temperature", "21.6")).code, 0);
      await eventually("the dashboard to receive the allowed message", () => received.includes("garage/sensor/temperature 21.6"));
      await eventually("the allowed publish in the recent activity", async () =>
        (await section.locator("[data-testid=decision][data-decision=allow]", { hasText: "garage/sensor/temperature" }).count()) > 0,
      );

      // Firmware recognised from its topics: its usual topics proposed, allowed in one click.
      assert.equal((await mosquittoPub(broker, username, password, "tele/tasmota_GARAGE/STATE", '{"POWER":"ON"}')).code, 0);
      const suggestion = page.locator("[data-testid=needs-you-box] [data-testid=suggestion][data-firmware=Tasmota]");
      await suggestion.waitFor({ timeout: 5_000 });
      await suggestion.getByRole("button", { name: "Allow Tasmota's usual messages" }).click();
      for (const pattern of ["tele/tasmota_GARAGE/#", "stat/tasmota_GARAGE/#", "cmnd/tasmota_GARAGE/#"]) {
        await section.locator("[data-testid=rule][data-status=allowed]", { hasText: pattern }).waitFor();
      }
      await suggestion.waitFor({ state: "detached" });

      // A new secret is asked about first (it cuts the device off); Escape keeps the old one and
      // gives focus back to the button.
      const confirm = page.locator("[data-testid=credential-dialog]");
      await section.locator("[data-testid=rotate]").click();
      assert.match(await confirm.locator("h2").textContent(), /Give Garage sensor a new secret\?/);
      await page.keyboard.press("Escape");
      await confirm.locator("h2").waitFor({ state: "detached" });
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "rotate");
      assert.equal((await mosquittoPub(broker, username, password, "garage/sensor/temperature", "21.5")).code, 0, "the old secret still works");
      // Confirmed: the new secret is shown in a modal dialog; the old one stops working.
      await section.locator("[data-testid=rotate]").click();
      await confirm.locator("[data-testid=credential-confirm]").click();
      const rotated = page.locator("[data-testid=secret]");
      await rotated.waitFor();
      assert.ok(await page.locator("#secret-dialog").evaluate((d) => d.open && d.matches(":modal")), "the secret is shown in a modal dialog");
      const newPassword = (await rotated.locator("[data-testid=secret-password]").textContent()).trim();
      assert.notEqual(newPassword, password);
      await page.keyboard.press("Escape");
      await rotated.waitFor({ state: "detached" });
      assert.notEqual((await mosquittoPub(broker, username, password, "garage/sensor/temperature", "21.6")).code, 0, "the old secret is refused");

      // Revoke, confirmed: the page says so, and the secret no longer works.
      await section.locator("[data-testid=revoke]").click();
      await confirm.locator("[data-testid=credential-confirm]").click();
      await section.locator("[data-testid=issue]").waitFor();
      const refused = await mosquittoPub(broker, username, newPassword, "garage/sensor/temperature", "21.7");
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /bad user name or password/i);

      // Firmware that cannot use a credential: let in without one, pinned to its client id.
      assert.notEqual((await mosquittoPub(broker, null, "garage-legacy", "garage/sensor/temperature", "21.8")).code, 0, "nothing anonymous by default");
      const anonymous = section.locator("[data-testid=anonymous-form]");
      await anonymous.locator("summary").click();
      await anonymous.getByLabel("Client id").fill("garage-legacy");
      await anonymous.getByRole("button", { name: "Let it in without a credential" }).click();
      await section.locator("[data-testid=anonymous]", { hasText: "garage-legacy" }).waitFor();
      assert.equal((await mosquittoPub(broker, null, "garage-legacy", "garage/sensor/temperature", "21.9")).code, 0);
      assert.notEqual((await mosquittoPub(broker, null, "another-client", "garage/sensor/temperature", "22.0")).code, 0, "only that client id");
      await section.locator("[data-testid=anonymous-off]").click();
      await anonymous.waitFor();
      assert.notEqual((await mosquittoPub(broker, null, "garage-legacy", "garage/sensor/temperature", "22.1")).code, 0);
      assert.deepEqual(pageProblems, []);
    });

    test("the simulated MQTT home: firmware-like devices connect, publish, and a denial takes effect live", async () => {
      const demo = spawn(HEARTH, ["demo", "--mqtt", "--duration", "60", "--data-dir", dataDir], { env: hubEnv(), stdio: ["ignore", "pipe", "pipe"] });
      demo.stdout.setEncoding("utf8");
      demo.stdout.on("data", (c) => c.split("\n").filter(Boolean).forEach((l) => remember(`[demo] ${l}`)));
      try {
        await page.goto(new URL("/#/", page.url()).href);
        for (const name of ["Kitchen plug (Tasmota)", "Desk lamp plug (Shelly Plus Plug S)", "Zigbee2MQTT bridge", "Living room climate (ESPHome)", "Front door camera (Frigate)"]) {
          await page.locator(".device-name", { hasText: name }).waitFor({ timeout: 15_000 });
        }
        // The camera's JPEG snapshot, recorded with its size.
        await page.locator(".device-name", { hasText: "Front door camera (Frigate)" }).click();
        const section = page.locator("[data-testid=broker]");
        const snapshot = section.locator("[data-testid=decision][data-decision=allow]", { hasText: "frigate/front/person/snapshot" });
        await snapshot.first().waitFor({ timeout: 10_000 });
        assert.match(await snapshot.first().textContent(), /1367 B/);

        // The bridge's device list: its door sensor, described under it with what it exposes.
        await page.goto(new URL("/#/", page.url()).href);
        await page.locator(".device-name", { hasText: "Zigbee2MQTT bridge" }).click();
        const door = section.locator("[data-testid=described-device]", { hasText: "front_door" });
        await door.waitFor({ timeout: 10_000 });
        assert.match(await door.locator("h4").textContent(), /Aqara MCCGQ11LM · Zigbee2MQTT's device list/);
        assert.deepEqual(await door.locator("[data-testid=entity] td:first-child").allTextContents(), ["battery (%)", "contact", "linkquality (lqi)"]);

        // The Tasmota plug: connected with its firmware's client id, telemetry allowed.
        await page.goto(new URL("/#/", page.url()).href);
        await page.locator(".device-name", { hasText: "Kitchen plug (Tasmota)" }).click();
        await section.locator("[data-testid=session]", { hasText: "DVES_A1B2C3" }).waitFor({ timeout: 10_000 });
        // Its relay (the energy monitor's readings are entities too, from its sensors message).
        const relay = section.locator("[data-testid=described-device]", { hasText: "Sonoff S31" }).locator("[data-testid=entity]", { hasText: "switch" });
        assert.match(await relay.textContent(), /Kitchen plug.*switch.*stat\/tasmota_A1B2C3\/POWER.*cmnd\/tasmota_A1B2C3\/POWER/s);

        // What it sends: energy and identifiers, on a chart and in tables; the SSID's value is not kept.
        const review = page.locator("[data-testid=review]");
        await review.locator("[data-testid=kind][data-category=energy]").waitFor({ timeout: 15_000 });
        // Over the range its data spans (its first message is minutes old: the last hour), not a
        // week with its data a sliver at the end.
        assert.match(await review.locator("[data-testid=review-summary]").textContent(), /Kitchen plug \(Tasmota\) sent \d+ messages? \(.+\) in the last hour:\s+.*energy/s);
        assert.equal(await review.getByRole("button", { name: "Last hour" }).getAttribute("aria-pressed"), "true");
        assert.match(await review.locator("[data-testid=kind][data-category=energy]").textContent(), /ENERGY\.Power/);
        const drawn = await review.locator("canvas[data-chart]").evaluate((c) => {
          const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          return c.width > 0 && px.some((v, i) => i % 4 === 3 && v > 0);
        });
        assert.ok(drawn, "the chart is drawn");
        // It counts messages: its bars add up to the messages the summary says were sent, each
        // counted once. A report carrying energy and identifiers is one message: on both kinds'
        // lines, which never rise above the bar of their hour.
        const [series, said] = await review.evaluate((r) => [
          JSON.parse(r.querySelector("canvas[data-chart]").dataset.chart),
          r.querySelector("[data-testid=review-summary]").textContent,
        ]);
        const sent = Number(/sent (\d+) messages?/.exec(said)[1]);
        const bars = series.datasets.filter((d) => d.draw === "bar");
        assert.deepEqual(bars.map((d) => d.label), ["Messages"], "one bar per hour: its messages");
        const total = bars[0].data.reduce((x, y) => x + y, 0);
        assert.equal(total, sent, `the chart's bars add up to the ${sent} messages of the summary`);
        const lines = series.datasets.filter((d) => d.draw === "line");
        assert.ok(lines.some((d) => d.label === "With energy") && lines.some((d) => d.label === "With identifiers"), lines.map((d) => d.label).join(", "));
        for (const d of lines) d.data.forEach((n, i) => assert.ok(n <= bars[0].data[i], `${d.label}: ${n} above the ${bars[0].data[i]} messages of its hour`));
        assert.match(await review.locator("[data-testid=field][data-path='Wifi.SSId']").textContent(), /value not kept/);
        // A person keeps energy values for a week only (a month by default): Hearth asks first and
        // says what goes now; cancelled, nothing changes; confirmed, it is done.
        const keeps = review.getByLabel("How long Hearth keeps energy data of Kitchen plug (Tasmota)");
        const asked = page.getByTestId("confirm-dialog");
        await keeps.selectOption("7d");
        await asked.getByTestId("confirm-yes").waitFor(); // the question is written on the next frame
        assert.match(
          (await asked.textContent()).replace(/\s+/g, " "),
          /Now: values for 30 days\. After: values for 7 days\. This deletes history: energy values and saved messages older than 7 days are deleted now\./,
        );
        await asked.getByTestId("confirm-cancel").click();
        await eventually("the choice back on the default", async () => (await keeps.inputValue()) === "default");
        await keeps.selectOption("7d");
        await asked.getByTestId("confirm-yes").click();
        await page.getByText("Hearth keeps energy data of Kitchen plug (Tasmota): values for 7 days.").waitFor({ state: "attached" });
        assert.equal(await keeps.inputValue(), "7d");
        // It removes the voltage from every message: the field says Redacted, with an undo.
        const voltage = review.locator("[data-testid=field][data-path='ENERGY.Voltage']");
        await voltage.getByRole("button", { name: "Redact ENERGY.Voltage" }).click();
        await review.locator("[data-testid=redacted][data-path='ENERGY.Voltage']").waitFor();
        assert.match((await voltage.textContent()).replace(/\s+/g, " "), /ENERGY\.Voltage .* Redacted Undo/);
        // Everything it holds about the plug, downloaded.
        const [download] = await Promise.all([page.waitForEvent("download"), review.locator("[data-testid=export-json]").click()]);
        assert.match(download.suggestedFilename(), /^hearth-d-[0-9a-f]{12}\.json$/);
        const exported = JSON.parse(await readFile(await download.path(), "utf8"));
        assert.ok(exported.messages.length > 0 && exported.privacy.redact.includes("ENERGY.Voltage"));
        // Undone from the field itself: kept again.
        await voltage.getByRole("button", { name: "Undo: keep ENERGY.Voltage again" }).click();
        await review.locator("[data-testid=redacted][data-path='ENERGY.Voltage']").waitFor({ state: "detached" });
        await voltage.getByRole("button", { name: "Redact ENERGY.Voltage" }).waitFor();

        // The home: the camera's pictures rank above the plugs' energy.
        await openNav(page);
        await page.getByRole("link", { name: "What they send" }).click();
        const ranked = page.locator("[data-testid=home-device] th a");
        await ranked.first().waitFor({ timeout: 10_000 });
        assert.equal(await ranked.first().textContent(), "Front door camera (Frigate)");
        await page.goto(new URL("/#/", page.url()).href);
        await page.locator(".device-name", { hasText: "Kitchen plug (Tasmota)" }).click();
        await section.locator("[data-testid=decision][data-decision=allow]", { hasText: "tele/tasmota_A1B2C3/SENSOR" }).first().waitFor({ timeout: 12_000 });
        // A person denies its telemetry on the page; the next report (every 10 s) is refused.
        await section.getByRole("button", { name: "Deny publish tele/tasmota_A1B2C3/#" }).click();
        await section.locator("[data-testid=rule][data-status=denied]", { hasText: "tele/tasmota_A1B2C3/#" }).waitFor();
        await section
          .locator("[data-testid=decision][data-decision=drop]", { hasText: "tele/tasmota_A1B2C3/SENSOR" })
          .first()
          .waitFor({ timeout: 15_000 });
        assert.match(await section.locator("[data-testid=decision][data-decision=drop]").first().textContent(), /Refused: a rule denies it/);
        assert.deepEqual(pageProblems, []);
      } finally {
        await stop(demo);
      }
    });
  });
}
