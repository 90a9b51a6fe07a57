// A jsdom window as Node's globals, so react-dom renders in Node as it does in a browser tab.
// Import this module before react-dom. React schedules its work as in a browser (this is not an
// act() environment): results arrive over WebSockets at any moment, and tests wait on the DOM.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>", { url: "http://localhost/" });
export const window = dom.window;
for (const key of ["window", "document", "navigator", "HTMLElement", "HTMLIFrameElement", "Node", "Element", "Text", "MutationObserver"]) {
  Object.defineProperty(globalThis, key, { value: key === "window" ? window : window[key], configurable: true, writable: true });
}
globalThis.IS_REACT_ACT_ENVIRONMENT = false;

/** A new container in the document (one per "tab"). */
export function container(id) {
  const element = window.document.createElement("div");
  element.id = id;
  window.document.body.appendChild(element);
  return element;
}

/** Closes the window (its timers would keep the process alive). */
export function closeWindow() {
  window.close();
}
