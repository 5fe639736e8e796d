// The console's one script. Every page works without it; it adds confirmation dialogs,
// the tester's plan as you type, and following an event until its outcome is final.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

// Forms that change things ask first, in a dialog; without this script the server asks on a
// page of its own, unless the form says it was confirmed.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
  if (!question) return;
  if (!window.confirm(question)) {
    event.preventDefault();
    return;
  }
  const confirmed = document.createElement("input");
  Object.assign(confirmed, { type: "hidden", name: "confirmed", value: "1" });
  form.append(confirmed);
});

// The tester: re-plan the pasted event a moment after typing stops.
for (const area of document.querySelectorAll("textarea[data-plan]")) {
  let timer;
  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const answer = await fetch(area.dataset.plan, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrfToken() },
        body: new URLSearchParams({ event: area.value }),
      });
      const plan = document.getElementById("plan");
      if (plan) plan.outerHTML = await answer.text();
    }, 300);
  });
}

// A story being written (an event just sent): reload its part of the page until it is final.
const follow = async (section) => {
  const answer = await fetch(section.dataset.follow, { headers: { Accept: "text/html" } });
  if (!answer.ok) {
    // Not in the store's reads yet (just sent): ask again.
    setTimeout(() => follow(section), 1000);
    return;
  }
  const holder = document.createElement("div");
  holder.innerHTML = await answer.text();
  const fresh = holder.firstElementChild;
  section.replaceWith(fresh);
  if (fresh.dataset.follow) setTimeout(() => follow(fresh), 1000);
};
for (const section of document.querySelectorAll("[data-follow]")) {
  setTimeout(() => follow(section), 1000);
}
