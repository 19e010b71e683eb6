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
  let ended = false;  // the link was withdrawn: no more "offline" notices

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

  function setConnection(online) {
    if (ended) return;
    connection.textContent = online ? root.dataset.msgOnline : root.dataset.msgOffline;
    connection.className = "connection " + (online ? "online" : "offline");
  }

  function flush() {
    outbox.forEach((item) => socket.send({ type: "message", client_id: item.client_id, text: item.text }));
  }

  const socket = new ecoach.Socket(ecoach.wsUrl(location.pathname + "/ws"), {
    open() {
      setConnection(true);
      socket.send({ type: "sync", after: timeline.lastId() });
      flush();
    },
    close() {
      setConnection(false);
    },
    frame(frame) {
      if (frame.type === "history") frame.exchanges.forEach((x) => timeline.add(x));
      else if (frame.type === "exchange") timeline.add(frame.exchange);
      else if (frame.type === "status") setStatus(frame.status);
      else if (frame.type === "notice" && frame.kind === "acknowledgement") {
        const answerBy = document.getElementById("answer-by");
        if (answerBy) { answerBy.textContent = frame.text; answerBy.hidden = false; }
      }
      else if (frame.type === "ack") {
        outbox = outbox.filter((item) => item.client_id !== frame.client_id);
        saveOutbox(outbox);
        timeline.add(frame.exchange);
      } else if (frame.type === "error") {
        if (frame.fatal) {
          ended = true;
          fatal.textContent = frame.message;
          fatal.hidden = false;
          form.hidden = true;
          connection.textContent = "";
          connection.className = "connection";
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
  if (navigator.onLine === false) setConnection(false);

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

  // Enter starts a new line (as in a mail); Ctrl+Enter (or Cmd+Enter) sends, as the page says.
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
  });
})();
