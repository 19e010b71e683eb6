// The coachee's chat: live messages, an outbox that survives reloads and outages.
"use strict";

(function () {
  const root = document.querySelector("section.chat");
  if (!root) return;
  const timeline = new ecoach.Timeline(document.getElementById("timeline"));
  const form = document.getElementById("chat-form");
  const text = document.getElementById("chat-text");
  const formError = form.querySelector(".reply-error");
  const connection = document.getElementById("connection");
  const fatal = document.getElementById("fatal");
  const notice = document.getElementById("status-notice");
  const maxChars = Number(root.dataset.max);
  const storeKey = "ecoach-outbox-" + location.pathname;

  function loadOutbox() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "[]"); } catch (e) { return []; }
  }
  function saveOutbox(items) {
    try { localStorage.setItem(storeKey, JSON.stringify(items)); } catch (e) { /* private mode */ }
  }
  let outbox = loadOutbox();

  function showError(message) {
    formError.textContent = message;
    formError.hidden = !message;
  }

  function setStatus(status) {
    root.dataset.status = status;
    const open = status === "active";
    form.hidden = !open;
    notice.hidden = open;
    if (!open) notice.textContent = notice.dataset[status] || "";
  }

  function flush() {
    outbox.forEach((item) => socket.send({ type: "message", client_id: item.client_id, text: item.text }));
  }

  const socket = new ecoach.Socket(ecoach.wsUrl(location.pathname + "/ws"), {
    open() {
      connection.textContent = root.dataset.msgOnline;
      connection.className = "connection online";
      socket.send({ type: "sync", after: timeline.lastId() });
      flush();
    },
    close() {
      connection.textContent = root.dataset.msgOffline;
      connection.className = "connection offline";
    },
    frame(frame) {
      if (frame.type === "history") frame.exchanges.forEach((x) => timeline.add(x));
      else if (frame.type === "exchange") timeline.add(frame.exchange);
      else if (frame.type === "status") setStatus(frame.status);
      else if (frame.type === "notice" && frame.kind === "acknowledgement") {
        const notice = document.getElementById("answer-by");  // the agreement box
        if (notice) { notice.textContent = frame.text; notice.hidden = false; }
      }
      else if (frame.type === "ack") {
        outbox = outbox.filter((item) => item.client_id !== frame.client_id);
        saveOutbox(outbox);
        timeline.add(frame.exchange);
      } else if (frame.type === "error") {
        if (frame.fatal) {
          fatal.textContent = frame.message;
          fatal.hidden = false;
          form.hidden = true;
          connection.textContent = "";
          return;
        }
        if (frame.client_id) {
          // Refused for good (too long, engagement paused): keep the text, drop the send.
          const item = outbox.find((i) => i.client_id === frame.client_id);
          outbox = outbox.filter((i) => i.client_id !== frame.client_id);
          saveOutbox(outbox);
          const pending = timeline.list.querySelector('li.pending[data-client-id="' + frame.client_id + '"]');
          if (pending) pending.remove();
          if (item && !text.value) text.value = item.text;
          if (frame.code === "engagement_paused") setStatus("paused");
          if (frame.code === "engagement_closed") setStatus("closed");
        }
        showError(frame.message);
      }
    },
  });

  outbox.forEach((item) => timeline.addPending(
    { client_id: item.client_id, text: item.text, direction: "in", channel: "chat", author_name: "" },
    root.dataset.msgPending));

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    if (value.length > maxChars) { showError(root.dataset.msgTooLong); return; }
    showError("");
    const item = { client_id: ecoach.newId(), text: value };
    outbox.push(item);
    saveOutbox(outbox);
    timeline.addPending(
      { client_id: item.client_id, text: value, direction: "in", channel: "chat", author_name: "" },
      root.dataset.msgPending);
    text.value = "";
    socket.send({ type: "message", client_id: item.client_id, text: value });
  });

  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
  });
})();
