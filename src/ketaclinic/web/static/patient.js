// Patient-facing pages: after a form is answered, move keyboard and screen-reader focus to the
// result or the error summary, so it is read out first; print buttons on patient documents.
// No inline scripts (the CSP forbids them).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const target = document.querySelector("[data-focus]");
  if (target instanceof HTMLElement) {
    target.focus();
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
});
