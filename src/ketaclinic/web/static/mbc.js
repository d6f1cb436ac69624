// Questionnaire forms: live answered count, total and subscale totals as answers are chosen.
// A convenience only: the server validates and scores every submission again.
"use strict";

function updateScoreForm(form) {
  let answeredAll = 0;
  for (const section of form.querySelectorAll("[data-instrument]")) {
    const id = section.getAttribute("data-instrument");
    const items = section.querySelectorAll("[data-item]");
    let answered = 0;
    let total = 0;
    const subscales = new Map();
    for (const item of items) {
      const checked = item.querySelector("input[type=radio]:checked");
      if (!checked) continue;
      answered += 1;
      const value = Number(checked.value);
      total += value;
      const sub = item.getAttribute("data-subscale");
      if (sub) subscales.set(sub, (subscales.get(sub) || 0) + value);
    }
    answeredAll += answered;
    const complete = answered === items.length;
    for (const out of form.querySelectorAll(`[data-answered-for="${id}"]`)) {
      out.textContent = String(answered);
    }
    // A partial sum is labelled as such: only a complete set has a total (no prorating).
    for (const out of form.querySelectorAll(`[data-total-for="${id}"]`)) {
      out.textContent = complete ? String(total) : answered ? `${total} so far` : "–";
    }
    for (const out of section.closest("form").querySelectorAll("[data-subscale-total]")) {
      const sub = out.getAttribute("data-subscale-total");
      // A subscale total belongs to one instrument when it says so (forms with several).
      const owner = out.getAttribute("data-subscale-for");
      if (owner && owner !== id) continue;
      const subItems = section.querySelectorAll(`[data-subscale="${sub}"]`);
      if (!owner && !subItems.length) continue;
      const subAnswered = [...subItems].every((i) => i.querySelector("input:checked"));
      out.textContent = subAnswered && subItems.length ? String(subscales.get(sub) || 0) : "–";
    }
  }
  for (const out of form.querySelectorAll("[data-answered-all]")) {
    out.textContent = String(answeredAll);
  }
}

document.addEventListener("change", (event) => {
  const form = event.target instanceof Element ? event.target.closest("form[data-score-form]") : null;
  if (form) updateScoreForm(form);
});

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-score-form]")) updateScoreForm(form);
});
