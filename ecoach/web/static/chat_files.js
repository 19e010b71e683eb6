// Files in the chat, coach and coachee: choose, send, show. A file chosen while offline
// waits in IndexedDB (it survives a reload) and is sent when the connection is back; the
// upload is keyed by its client id, so a resend is stored once.
"use strict";

(function () {
  const box = document.getElementById("chat-files");
  const list = document.getElementById("timeline");
  if (!box || !list) return;
  const data = box.dataset;
  const timeline = new ecoach.Timeline(list);
  const input = document.getElementById("chat-file");
  const errorLine = box.querySelector(".file-error");
  const allowed = data.allowed.split(",");
  const maxBytes = Number(data.maxBytes);
  const isCoachee = data.direction === "in";
  const DB = "ecoach-files", STORE = "outbox";
  let memory = [];  // when IndexedDB is not available (then a reload forgets)
  let retryDelay = 1000;
  let retryTimer = null;
  let flushing = false;
  box.hidden = false;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function kb(size) { return "(" + (size / 1024).toFixed(1) + " KB)"; }

  // A file's link and preview, and a shared resource's link, in a timeline entry.
  ecoach.extras.push(function (li, x) {
    if (!x.id) return;
    const base = data.download + x.id;
    const name = (x.text || "").split("\n")[0];
    if (x.file) {
      const p = el("p", { class: "file-link" });
      p.append(el("a", { href: base + "/file", download: "" }, data.msgDownload), " ", el("span", { class: "size" }, kb(x.file.size)));
      li.append(p);
      if (x.file.preview) {
        li.append(el("img", { class: "file-preview", src: base + "/preview", loading: "lazy",
          alt: data.msgPreview.replace("{name}", name), width: x.file.width, height: x.file.height }));
      }
    }
    if (x.share && isCoachee) {
      const href = location.pathname + "/shared/" + x.id;
      const p = el("p", { class: "share-link" });
      p.append(el("a", { href: href }, data.msgOpen));
      li.append(p);
      const shared = document.getElementById("shared-list");
      if (shared && !shared.querySelector('a[href="' + href + '"]')) {
        const item = el("li");
        item.append(el("a", { href: href }, name));
        shared.prepend(item);
        const empty = document.getElementById("shared-empty");
        if (empty) empty.hidden = true;
      }
    }
  });

  function showError(message) {
    errorLine.textContent = message || "";
    errorLine.hidden = !message;
  }

  function db() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "client_id" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  function withStore(mode, work) {
    return db().then((handle) => new Promise((resolve, reject) => {
      const tx = handle.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => { handle.close(); resolve(request ? request.result : undefined); };
      tx.onerror = () => { handle.close(); reject(tx.error); };
    }));
  }

  async function waiting() {
    let items = memory.slice();
    try { items = items.concat(await withStore("readonly", (s) => s.getAll())); } catch (e) { /* memory only */ }
    return items.filter((i) => i.scope === data.upload).sort((a, b) => a.created - b.created);
  }

  async function keep(item) {
    try { await withStore("readwrite", (s) => s.put(item)); } catch (e) { memory.push(item); }
  }

  async function forget(clientId) {
    memory = memory.filter((i) => i.client_id !== clientId);
    try { await withStore("readwrite", (s) => s.delete(clientId)); } catch (e) { /* memory only */ }
  }

  function pendingEntry(item) {
    timeline.addPending({ client_id: item.client_id, text: item.name, direction: data.direction,
      channel: "chat", author_name: "" }, data.msgQueued);
  }

  function waitAgain(item) {
    const twin = list.querySelector('li.pending[data-client-id="' + item.client_id + '"]');
    if (twin) twin.dataset.retry = "1";  // tried once at least: it waits for the connection
    return false;
  }

  // true: done with this item (sent, or refused for good); false: try again later.
  async function send(item) {
    let response;
    try {
      response = await fetch(data.upload + item.client_id, {
        method: "PUT", body: item.blob, credentials: "same-origin",
        headers: { "X-CSRF-Token": data.csrf, "X-File-Name": encodeURIComponent(item.name),
          "Content-Type": "application/octet-stream", "Accept": "application/json" },
      });
    } catch (e) {
      return waitAgain(item);  // offline, or the server is away
    }
    if (response.status >= 500 || response.status === 408 || response.status === 429) return waitAgain(item);
    let body = {};
    try { body = await response.json(); } catch (e) { /* no JSON */ }
    await forget(item.client_id);
    if (response.ok && body.exchange) {
      timeline.add(body.exchange);
      return true;
    }
    const twin = list.querySelector('li.pending[data-client-id="' + item.client_id + '"]');
    if (twin) twin.remove();
    showError(item.name + ": " + ((body.error && body.error.message) || data.msgFailed));
    return true;
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    clearTimeout(retryTimer);
    try {
      for (const item of await waiting()) {
        if (!(await send(item))) {
          retryTimer = setTimeout(flush, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 30000);
          return;
        }
        retryDelay = 1000;
      }
    } finally {
      flushing = false;
    }
  }

  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    if (!allowed.includes(extension)) { showError(file.name + ": " + data.msgType); return; }
    if (file.size > maxBytes) { showError(file.name + ": " + data.msgTooLarge); return; }
    showError("");
    const item = { client_id: ecoach.newId(), scope: data.upload, name: file.name, size: file.size,
      blob: file, created: Date.now() };
    await keep(item);
    pendingEntry(item);
    flush();
  });

  window.addEventListener("online", () => { retryDelay = 1000; flush(); });
  waiting().then((items) => { items.forEach(pendingEntry); flush(); });
})();
