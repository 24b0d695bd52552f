// Shared by the browser tests: paths, starting the hub and the simulated home, the CLI, waiting,
// and launching Debian's Chromium through playwright-core.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "..", "..");
export const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), ".cache", "hearth-target");
export const HEARTH = process.env.HEARTH_BIN || path.join(TARGET, "debug", "hearth");
export const CHROMIUM = process.env.HEARTH_CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = path.join(ROOT, "tests", "artifacts");
/** The Python with python-zeroconf that scripts/test sets up (HEARTH_VENV, as there). */
export const PYTHON = process.env.HEARTH_PY || path.join(process.env.HEARTH_VENV || path.join(os.homedir(), ".cache", "hearth-venv"), "bin", "python");
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The demo announces 18 devices; the list must show most of them within a few seconds. */
export const MIN_DEVICES = 12;
export const run = promisify(execFile);

// ---- helpers ----

/** The hub's log, kept short, to explain a failure. */
export const hubLog = [];
export function remember(line) {
  hubLog.push(line);
  if (hubLog.length > 60) hubLog.shift();
}

/** Polls `check` until it returns something truthy; fails with `what` and the hub's log. */
export async function eventually(what, check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const why = last ? ` (last error: ${last.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}\n--- hub log (tail) ---\n${hubLog.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function hubEnv() {
  const env = { ...process.env };
  delete env.HEARTH_DATA_DIR; // every command names the test's own data dir
  return env;
}

export async function cli(dataDir, ...args) {
  const { stdout } = await run(HEARTH, [...args, "--data-dir", dataDir], { env: hubEnv(), timeout: 30_000 });
  return stdout;
}

export async function cliDevices(dataDir) {
  return JSON.parse(await cli(dataDir, "devices", "--json"));
}

/** Starts `hearth serve` on a free loopback port; resolves with its one-time sign-in link.
 *  `extra`: more of its options (`--dns-listen ADDR`, say). */
export function startHub(dataDir, listen = "127.0.0.1:0", extra = []) {
  const args = ["serve", "--data-dir", dataDir, "--http-listen", listen, "--mqtt-listen", "127.0.0.1:0", "--mqtts-listen", "127.0.0.1:0", ...extra];
  const child = spawn(HEARTH, args, {
    env: hubEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const login = new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`hearth serve printed no sign-in link within 30 s\n${hubLog.join("\n")}`)), 30_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        remember(`[serve] ${line}`);
        const m = /^\s*(http:\/\/127\.0\.0\.1:\d+\/login\?code=[0-9A-Za-z]+)\s*$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    });
    child.stderr.setEncoding("utf8");
    // eslint-disable-next-line no-control-regex
    child.stderr.on("data", (chunk) => chunk.split("\n").filter(Boolean).forEach((l) => remember(`[serve] ${l.replace(/\x1b\[[0-9;]*m/g, "")}`)));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      // Once the link was printed this changes nothing; before, it explains the failure.
      reject(new Error(`hearth serve exited early (${signal ?? code})\n${hubLog.join("\n")}`));
    });
  });
  return { child, login };
}

export function startDemo() {
  const child = spawn(HEARTH, ["demo", "--duration", "120"], { env: hubEnv(), stdio: ["ignore", "ignore", "pipe"] });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => chunk.split("\n").filter(Boolean).forEach((l) => remember(`[demo] ${l}`)));
  return child;
}

export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The screens the stories run at: `HEARTH_UI_VIEWPORT=phone` runs them at a phone's size (390 px
 *  wide, touch), which scripts/test does after the desktop run, so every story holds on both. */
export const SCREENS = {
  desktop: { viewport: { width: 1200, height: 900 }, options: {} },
  phone: { viewport: { width: 390, height: 844 }, options: { isMobile: true, hasTouch: true } },
};
const screenName = process.env.HEARTH_UI_VIEWPORT || "desktop";
if (!(screenName in SCREENS)) throw new Error(`HEARTH_UI_VIEWPORT=${screenName}: expected one of ${Object.keys(SCREENS).join(", ")}`);
/** The screen this run uses (`"desktop"` or `"phone"`), for the few checks that differ. */
export const SCREEN = screenName;
export const PHONE = SCREEN === "phone";

/** `viewport`: this run's screen unless a story needs its own. `options`: more of playwright's
 *  context options (a phone's `userAgent`, `colorScheme`, say). The device page's Advanced
 *  section (credential, rules, services) starts open, as for someone who opened it once, since
 *  most stories work there; `{ advancedOpen: false }` keeps a first visitor's closed section.
 *  The list's first-run explanation was read already (most stories are not a first visit);
 *  `{ explained: false }` is a browser's first visit, with it open. */
export async function launchBrowser(userDataDir, viewport = undefined, options = {}, { advancedOpen = true, explained = true } = {}) {
  const screen = SCREENS[SCREEN];
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...(viewport ? { viewport } : { viewport: screen.viewport, ...screen.options }),
    ...options,
  });
  if (advancedOpen) {
    await context.addInitScript(() => {
      if (localStorage.getItem("hearth.advanced") === null) localStorage.setItem("hearth.advanced", "open");
    });
  }
  if (explained) {
    await context.addInitScript(() => {
      if (localStorage.getItem("hearth.explained") === null) localStorage.setItem("hearth.explained", "seen");
    });
  }
  return context;
}

/** Clicks (or focuses) a link of the main navigation: on a phone the links are behind the menu
 *  button, which a person opens first. */
export async function openNav(page) {
  const toggle = page.getByTestId("menu-toggle");
  if ((await toggle.isVisible()) && (await toggle.getAttribute("aria-expanded")) !== "true") {
    await toggle.click();
    await page.locator("#main-nav a").first().waitFor(); // the menu opens on the next frame
  }
}

/**
 * An mDNS responder (python-zeroconf, `announce.py`) announcing from `address` of the namespace:
 * 10.77.0.2 is the device side of its veth pair; another address (an attacker's host) is added
 * to that side first. `announce({type, instance, host, txt, port})` resolves once registered.
 */
export async function startResponder(address) {
  const have = (await run("ip", ["-4", "addr", "show", "dev", "hearth1"])).stdout;
  if (!have.includes(`${address}/`)) await run("ip", ["addr", "add", `${address}/24`, "dev", "hearth1"]);
  const child = spawn(PYTHON, [path.join(HERE, "announce.py"), address], { stdio: ["pipe", "pipe", "pipe"] });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => chunk.split("\n").filter(Boolean).forEach((l) => remember(`[responder ${address}] ${l}`)));
  child.stdout.setEncoding("utf8");
  const waiting = [];
  let buffered = "";
  child.stdout.on("data", (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  const answer = () => new Promise((resolve) => waiting.push(resolve));
  const ready = await Promise.race([
    answer(),
    new Promise((_, reject) => child.once("exit", (code) => reject(new Error(`announce.py exited (${code}): is python-zeroconf installed for ${PYTHON}?\n${hubLog.join("\n")}`)))),
  ]);
  if (ready !== "ready") throw new Error(`announce.py said ${ready}`);
  return {
    async announce(service) {
      const reply = answer();
      child.stdin.write(`${JSON.stringify(service)}\n`);
      const said = await reply;
      if (said !== "ok") throw new Error(`announcing ${service.instance}: ${said}`);
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin.end(); // goodbyes, then exit
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The hub's API as its owner (the owner token, the same calls the page makes): `(method, path,
 *  body?)` answers the parsed JSON, or null for 204; a failure asserts with the hub's words.
 *  `hub()` gives `{ base, token }` when called, since tests learn them after starting the hub. */
export function ownerApi(hub) {
  return async (method, p, body) => {
    const { base, token } = hub();
    const r = await fetch(`${base}/api/v1${p}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "X-Hearth-Request": "1", ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(r.ok, `${method} ${p} answered ${r.status}: ${await r.clone().text()}`);
    return r.status === 204 ? null : r.json();
  };
}
