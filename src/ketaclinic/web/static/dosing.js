// Dose page behaviour (no inline scripts: the CSP forbids them). Shows only the fields of the
// chosen preparation; without scripts every field stays visible and the server uses only those
// of the chosen kind. The live result itself is an htmx request declared on the form.
"use strict";

function showPreparation(form) {
  const chosen = form.querySelector('input[name="preparation"]:checked');
  const kind = chosen instanceof HTMLInputElement ? chosen.value : "bag";
  for (const group of form.querySelectorAll("[data-preparation]")) {
    group.hidden = group.getAttribute("data-preparation") !== kind;
  }
}

for (const form of document.querySelectorAll("form[data-testid='dose-form']")) {
  showPreparation(form);
}

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.hasAttribute("data-preparation-kind")) {
    if (target.form) {
      showPreparation(target.form);
    }
  }
});
