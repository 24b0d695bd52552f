// The desktop transport: Tauri IPC into the hub embedded in the app. The only module that
// imports `@tauri-apps/api`; `backend.ts` loads it only inside the desktop window.
//
// The window has one command, `call`, which runs any of the hub's declared commands as the
// person at this computer (the local owner), through the same check as every HTTP request.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Event } from "../generated/Event";
import type { CommandArgs, CommandName, CommandResult, Transport } from "./backend";
import { toApiError } from "./errors";

/** `call` answers `Result<Value, ApiError>`; an `Err` arrives as the rejected `{code, message}`. */
async function call<N extends CommandName>(command: N, args: CommandArgs<N>): Promise<CommandResult<N>> {
  try {
    return await invoke<CommandResult<N>>("call", { command, args });
  } catch (e) {
    throw toApiError(e, `The desktop app could not run "${command}".`);
  }
}

export function tauriTransport(): Transport {
  return {
    call,
    // The window is the owner over IPC, with no session to list or end (see `Backend.signIns`).
    signIns: undefined,
    // Browsers download the hub's streamed CSV; the window gets the same text from `export_csv`.
    exportCsv: (id) => call("export_csv", { id }),
    onEvent(cb: (e: Event) => void): () => void {
      let stopped = false;
      const unlisten = listen<Event>("hearth://event", (e) => cb(e.payload)).then((un) => {
        if (stopped) {
          un();
        } else {
          // Events emitted before the listener was attached are lost: reload once.
          cb({ type: "resync" });
        }
        return un;
      });
      return () => {
        stopped = true;
        void unlisten.then((un) => un());
      };
    },
    onConnection(cb: (connected: boolean) => void): () => void {
      // The hub lives in the same process: the stream cannot drop.
      cb(true);
      return () => {};
    },
  };
}
