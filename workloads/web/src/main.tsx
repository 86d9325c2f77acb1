// The web client's entry: mounts the app on #app. Built by workloads/web/build.ts.
import { render } from "preact";
import { App } from "./app.tsx";
import { ChatState } from "./state.ts";
import "./styles.css";

const state = new ChatState();
const root = document.getElementById("app");
if (root !== null) {
  root.textContent = ""; // the loading note
  render(<App state={state} />, root);
}
state.attempt("Loading your session", () => state.restore());
