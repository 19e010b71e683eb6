// Ticking action steps off on the coachee's chat page without leaving it. A tick made
// while offline is kept in the browser and sent once the connection is back; the server
// takes the same tick twice as one. Without JavaScript the forms post as usual.
"use strict";

(function () {
  const forms = Array.from(document.querySelectorAll("form.step-tick"));
  if (!forms.length) return;
  const storeKey = "ecoach-ticks-" + location.pathname;
  const status = document.createElement("p");
  status.className = "tick-status hint";
  status.setAttribute("role", "status");
  forms[0].closest("section").appendChild(status);

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "{}"); } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify(queue)); } catch (e) { /* private mode */ }
  }
  let queue = load();  // step id -> {action, done, csrf}
  let timer = null;

  function show(form, done) {
    const button = form.querySelector("button.tick");
    button.setAttribute("aria-pressed", done ? "true" : "false");
    button.querySelector(".tick-mark").textContent = done ? "✓" : "";
    form.querySelector("input[name=done]").value = done ? "0" : "1";
    const item = form.closest("li");
    if (item) item.classList.toggle("done", done);
  }

  function formOf(id) { return forms.find((f) => f.dataset.step === id); }

  async function send(id) {
    const item = queue[id];
    if (!item) return;
    let response;
    try {
      response = await fetch(item.action, {
        method: "POST", credentials: "same-origin", body: new URLSearchParams({ done: item.done ? "1" : "0" }),
        headers: { "X-CSRF-Token": item.csrf, Accept: "application/json" },
      });
    } catch (e) {
      status.textContent = forms[0].dataset.msgOffline || "";
      return;  // offline: it stays queued
    }
    if (response.status >= 500) return;  // try again later
    delete queue[id];
    save();
    if (!response.ok) {
      const form = formOf(id);
      if (form) show(form, !item.done);
      try { status.textContent = (await response.json()).error.message; } catch (e) { status.textContent = ""; }
    } else {
      status.textContent = "";
    }
  }

  function flush() {
    Object.keys(queue).forEach(send);
    if (timer === null && Object.keys(queue).length) {
      timer = setInterval(() => {
        if (!Object.keys(queue).length) { clearInterval(timer); timer = null; return; }
        Object.keys(queue).forEach(send);
      }, 10000);
    }
  }

  forms.forEach((form) => {
    const id = form.dataset.step;
    if (queue[id]) show(form, queue[id].done);  // ticked earlier, not sent yet
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const done = form.querySelector("input[name=done]").value === "1";
      queue[id] = { action: form.action, done, csrf: form.querySelector("input[name=_csrf]").value };
      save();
      show(form, done);
      flush();
    });
  });
  window.addEventListener("online", flush);
  flush();
})();
