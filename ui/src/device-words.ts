// What a device's state and a person's decision really do for *this* device, in plain words.
// Approve and block act through Hearth's broker (for a device with a credential) and through
// Hearth's DNS gate and firewall (for a device whose traffic goes through them); for a device
// that uses neither, they change nothing on the network yet, and the page must say so.

import type { Device } from "./generated/Device";
import type { Enforcement } from "./generated/Enforcement";

/** What Hearth can act on for this device now. `enforcement` is unknown until the device page
 *  loads its Internet section (or for someone who may not review it). */
export interface Reach {
  broker: boolean;
  network: Enforcement | undefined;
}

export function reachOf(d: Device, enforcement?: Enforcement): Reach {
  return { broker: d.uses_broker, network: enforcement };
}

function inPath(r: Reach): boolean {
  return r.network === "firewall" || r.network === "dns_only";
}

/** One sentence: what approving and blocking change for this device. */
export function whatDecisionsDo(r: Reach): string {
  const broker = "what it may send and receive through Hearth's broker";
  const network =
    r.network === "firewall"
      ? "whether it reaches the internet (Hearth's firewall is in its path)"
      : r.network === "dns_only"
        ? "which internet names Hearth's DNS answers for it (a device using another DNS server gets around this)"
        : "";
  if (r.broker && network) return `Approve and block decide ${broker}, and ${network}.`;
  if (r.broker) return `Approve and block decide ${broker}. Hearth is not in its path to the internet, so they do not cut it off the network.`;
  if (network) return `Approve and block decide ${network}. It does not use Hearth's broker.`;
  if (r.network === undefined)
    return "It does not use Hearth's broker, so approve and block record your decision but may change nothing on the network for it.";
  return "Approve and block change nothing on the network for this device yet: it does not use Hearth's broker and Hearth is not in its path. They record your decision, which takes effect if it starts using Hearth.";
}

/** The device's state, honestly: what Hearth does with it now. */
export function stateMeaning(d: Device, r: Reach): string {
  const acts = r.broker || inPath(r);
  switch (d.state) {
    case "new":
      return acts
        ? "New: Hearth keeps it in quarantine (it records what the device sends and passes none of it on) until you decide."
        : "New: waiting for your decision. Hearth only watches it for now.";
    case "approved":
      if (d.uses_broker && d.allowed_topics === 0)
        return "Approved, but nothing is allowed yet: Hearth refuses every message until you allow what it may send (see Needs you).";
      return r.broker
        ? "Approved: it may send and receive what its rules allow."
        : "Approved: you know this device. Hearth does not stand between it and the network.";
    case "blocked":
      return acts
        ? "Blocked: Hearth refuses its traffic. Approve it to let it back in."
        : "Blocked in Hearth, but it is still on your network: Hearth is not in its path, so it cannot cut it off. Unplug it or block it on your router.";
  }
}

/** The list row's "needs you": approved with nothing allowed, or topics waiting for a person. */
export function needsYou(d: Device): string | undefined {
  if (d.state !== "approved") return undefined;
  if (d.proposals > 0) return `${d.proposals === 1 ? "1 request waits" : `${d.proposals} requests wait`} for you`;
  if (d.uses_broker && d.allowed_topics === 0) return "Nothing allowed yet";
  return undefined;
}

/** "Online", "Connected" (to the broker), or, for a blocked device still there, say so. */
export function presence(d: Device): { label: string; title: string } {
  if (!d.online) return { label: "Offline", title: "Not seen on the network or connected to Hearth now" };
  const how = d.connected ? "connected to Hearth's broker" : "announcing itself on the network";
  if (d.state === "blocked") return { label: "Still on the network", title: `Blocked, and still ${how}` };
  return { label: d.connected ? "Connected" : "Online", title: `Online: ${how}` };
}
