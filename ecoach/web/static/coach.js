// The coach's pages: live inbox, live timeline, replies over the websocket.
"use strict";

(function () {
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

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

  const engagementId = page ? Number(page.dataset.engagement) : null;
  const timeline = page ? new ecoach.Timeline(document.getElementById("timeline")) : null;
  const form = document.getElementById("reply");
  const formError = form ? form.querySelector(".reply-error") : null;
  let sending = null;

  function showError(message) {
    if (!formError) return;
    formError.textContent = message;
    formError.hidden = !message;
  }

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
          badge.textContent = String(frame.count);
          badge.hidden = frame.count === 0;
        }
        if (inbox) refreshInbox();
        return;
      }
      if (frame.type === "commitment") { if (inbox) refreshInbox(); return; }  // due states changed
      if (frame.type === "exchange" || frame.type === "status") {
        if (inbox) refreshInbox();
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
      ev.preventDefault();
      const text = form.elements.text.value.trim();
      if (!text) return;
      sending = form.elements.client_id.value;
      socket.send({
        type: "message", engagement_id: engagementId, client_id: sending,
        text: text, channel: form.elements.channel.value,
        minutes: form.elements.minutes ? form.elements.minutes.value : "",
      });
    });
    form.elements.text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
    });
  }
})();
