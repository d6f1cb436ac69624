// ketaclinic page behaviour: small, progressive, no inline scripts (the CSP forbids them).
"use strict";

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
    target.form?.requestSubmit();
  }
});

// Send the page's CSRF token with every htmx request.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('input[name="csrf_token"]');
  if (token instanceof HTMLInputElement) {
    event.detail.headers["X-CSRF-Token"] = token.value;
  }
});
