// The coach's pages: live inbox, live timeline, replies and notes over the websocket.
"use strict";

(function () {
  const inbox = document.querySelector("[data-live-inbox]");
  const page = document.querySelector("section.engagement");
  if (!inbox && !page) return;

  let refreshTimer = null;
  function refreshInbox() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const url = "/inbox/rows?tab=" + encodeURIComponent(inbox.dataset.tab) + "&page=" + inbox.dataset.page;
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) document.getElementById("inbox-rows").innerHTML = await response.text();
    }, 150);
  }
  // The inbox list is redrawn whole; this says in words what changed (role=status).
  function announce(frame) {
    const status = document.getElementById("inbox-news");
    if (!status || !frame.exchange || frame.exchange.direction !== "in") return;
    status.textContent = status.dataset.template.replace("{name}", frame.exchange.author_name || "");
  }

  // A crisis signal: a red alert at the top of the page, at once, with a link to the message.
  function crisisAlert(frame) {
    const box = document.getElementById("crisis-alert");
    if (!box || frame.resolved) return;
    const link = box.querySelector("a");
    link.textContent = box.dataset.template.replace("{name}", frame.name || "");
    link.href = "/engagements/" + frame.engagement_id + "?signal=" + frame.flag_id + "#crisis";
    box.hidden = false;
  }

  const engagementId = page ? Number(page.dataset.engagement) : null;
  const timeline = page ? new ecoach.Timeline(document.getElementById("timeline")) : null;
  const form = document.getElementById("reply");
  const formError = form ? form.querySelector(".reply-error") : null;
  let sending = null;
  let sendingMode = null;

  function showError(message) {
    if (!formError) return;
    formError.textContent = message;
    formError.hidden = !message;
  }

  // Reply / private note: tabs (links without JavaScript: ?mode=note).
  const tabs = form ? Array.from(document.querySelectorAll("#reply-tabs [role=tab]")) : [];
  function setMode(mode, focus) {
    const tab = tabs.find((t) => t.dataset.mode === mode);
    if (!tab || tab.getAttribute("aria-disabled") === "true") return;
    tabs.forEach((t) => {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
    });
    if (focus) tab.focus();
    form.elements.mode.value = mode;
    form.classList.toggle("mode-note", mode === "note");
    form.classList.toggle("mode-reply", mode !== "note");
    form.setAttribute("aria-labelledby", tab.id);
    form.querySelectorAll(".reply-only").forEach((el) => { el.hidden = mode === "note"; });
    form.querySelectorAll(".note-only").forEach((el) => { el.hidden = mode !== "note"; });
    if (mode !== "note" && form.elements.shared) form.elements.shared.checked = false;
    words();
  }
  // The label, placeholder, button and hint follow the tab and the "share with the
  // coachee" box: a shared note is not private, and must not say so.
  function words() {
    const shared = form.elements.mode.value === "note" && !!(form.elements.shared && form.elements.shared.checked);
    const kind = shared ? "shared" : form.elements.mode.value === "note" ? "note" : "reply";
    form.querySelector("#reply-label").textContent = form.getAttribute("data-label-" + kind);
    form.elements.text.placeholder = form.getAttribute("data-placeholder-" + kind);
    form.querySelector("#reply-send").textContent = form.getAttribute("data-button-" + kind);
    const privateHint = document.getElementById("note-private-hint");
    const sharedHint = document.getElementById("note-shared-hint");
    if (privateHint) privateHint.hidden = kind !== "note";
    if (sharedHint) sharedHint.hidden = kind !== "shared";
  }
  if (form && form.elements.shared) {
    form.elements.shared.addEventListener("change", words);
    words();  // the browser may have restored a ticked box (back button)
    window.addEventListener("pageshow", words);
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", (ev) => { ev.preventDefault(); setMode(tab.dataset.mode, false); });
    tab.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      ev.preventDefault();
      const next = tabs[(i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      setMode(next.dataset.mode, true);
    });
  });

  const socket = new ecoach.Socket(ecoach.wsUrl("/ws"), {
    open() {
      if (page) socket.send({ type: "sync", engagement_id: engagementId, after: timeline.lastId() });
      if (inbox) refreshInbox();
    },
    close() {},
    frame(frame) {
      if (frame.type === "delivery") {
        if (page && frame.engagement_id === engagementId) {
          const labels = timeline.labels;
          const state = frame.state === "sent" ? "" : (labels["state_" + frame.state] || frame.state);
          timeline.setDelivery(frame.exchange_id, state + (state && frame.detail ? ": " + frame.detail : ""));
        }
        return;
      }
      if (frame.type === "quarantine") {
        const badge = document.getElementById("quarantine-count");
        if (badge && typeof frame.count === "number") {
          badge.firstChild.nodeValue = String(frame.count);
          badge.hidden = frame.count === 0;
        }
        if (inbox) refreshInbox();
        return;
      }
      if (frame.type === "commitment") { if (inbox) refreshInbox(); return; }  // due states changed
      if (frame.type === "group_unread") { if (inbox) refreshInbox(); return; }  // a group's unread count
      if (frame.type === "crisis") { crisisAlert(frame); if (inbox) refreshInbox(); return; }
      if (frame.type === "exchange" || frame.type === "status") {
        if (inbox) { refreshInbox(); announce(frame); }
        if (page && frame.engagement_id === engagementId) {
          if (frame.type === "exchange") timeline.add(frame.exchange);
          else location.reload();
        }
      } else if (frame.type === "history" && page && frame.engagement_id === engagementId) {
        frame.exchanges.forEach((x) => timeline.add(x));
      } else if (frame.type === "ack" && page) {
        timeline.add(frame.exchange);
        if (sending === frame.client_id) {
          form.elements.text.value = "";
          form.elements.client_id.value = ecoach.newId();
          form.dispatchEvent(new Event("ecoach:sent"));
          sending = null;
          showError("");
          if (sendingMode === "note") setMode("reply", false);  // a note is an aside: back to replying
        }
      } else if (frame.type === "error") {
        if (frame.fatal) { location.reload(); return; }
        if (frame.client_id && frame.client_id === sending) sending = null;
        showError(frame.message);
      }
    },
  });

  if (form) {
    form.addEventListener("submit", (ev) => {
      if (!socket.ready()) return; // plain form post still works
      // A note shared with the coachee goes as a plain form post (POST /engagements/N/messages).
      if (form.elements.mode.value === "note" && form.elements.shared && form.elements.shared.checked) return;
      ev.preventDefault();
      const text = form.elements.text.value.trim();
      if (!text) return;
      sending = form.elements.client_id.value;
      sendingMode = form.elements.mode.value;
      socket.send({
        type: "message", engagement_id: engagementId, client_id: sending, text: text,
        channel: sendingMode === "note" ? "note" : form.elements.channel.value,
        minutes: form.elements.minutes ? form.elements.minutes.value : "",
      });
    });
    // Enter starts a new line; Ctrl+Enter (or Cmd+Enter) sends, as the page says.
    form.elements.text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
    });
  }
})();
