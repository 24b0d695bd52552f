// Entry point: pick the transport (desktop IPC or HTTP), then start the app.

import "./styles.css";
import { connectBackend, toApiError } from "./api/backend";
import { App } from "./app";

const root = document.getElementById("app");
if (!root) throw new Error("index.html has no #app element");

connectBackend()
  .then((backend) => {
    root.replaceChildren(); // drop the "Loading Hearth…" placeholder; the app renders from here
    new App(backend, root).start();
  })
  .catch((e: unknown) => {
    const error = toApiError(e, "Hearth's window could not start.");
    root.replaceChildren();
    const panel = document.createElement("div");
    panel.className = "panel error-panel boot";
    panel.setAttribute("role", "alert");
    const title = document.createElement("h1");
    title.textContent = "Hearth could not start";
    const message = document.createElement("p");
    message.textContent = error.message;
    panel.append(title, message);
    root.append(panel);
  });
