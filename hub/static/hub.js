// Progressive enhancement only: every page works without JavaScript.
import { initAll } from "./govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
}
initAll();

// A table wider than a narrow screen scrolls inside itself (hub.css): let keyboard users
// reach it to scroll it, and let screen readers name what they are scrolling.
function focusableWhenScrolling() {
  for (const table of document.querySelectorAll(".govuk-table")) {
    if (table.scrollWidth > table.clientWidth + 1) {
      table.tabIndex = 0;
    } else {
      table.removeAttribute("tabindex");
    }
  }
}
focusableWhenScrolling();
window.addEventListener("resize", focusableWhenScrolling);
