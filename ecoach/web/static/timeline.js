// Shared by the coach and coachee pages: render exchanges, make ids, reconnect.
"use strict";

window.ecoach = (function () {
  // Functions (li, exchange) that add to an entry as it is built; other scripts push theirs.
  const extras = [];

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function Timeline(list) {
    this.list = list;
    this.zone = list.dataset.zone || undefined;
    this.labels = JSON.parse(list.dataset.labels || "{}");
    this.lang = document.documentElement.lang || "en";
    this.empty = document.getElementById("latest");
  }

  Timeline.prototype.lastId = function () {
    let last = 0;
    this.list.querySelectorAll("li.exchange[data-id]").forEach((li) => {
      last = Math.max(last, Number(li.dataset.id));
    });
    return last;
  };

  Timeline.prototype.has = function (id) {
    return this.list.querySelector('li.exchange[data-id="' + id + '"]') !== null;
  };

  Timeline.prototype.formatTime = function (iso) {
    try {
      return new Intl.DateTimeFormat(this.lang, {
        day: "numeric", month: "short", year: "numeric",
        hour: "2-digit", minute: "2-digit", timeZone: this.zone,
      }).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  };

  Timeline.prototype.build = function (x, pendingLabel) {
    const li = document.createElement("li");
    li.className = "exchange dir-" + x.direction + " channel-" + x.channel + (x.author === "system" ? " by-system" : "");
    if (x.id) { li.id = "x" + x.id; li.dataset.id = x.id; } else { li.classList.add("pending"); }
    if (x.client_id) li.dataset.clientId = x.client_id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = x.author_name || "";
    const channel = document.createElement("span");
    channel.className = "channel";
    channel.textContent = this.labels[x.channel] || x.channel;
    const time = document.createElement("time");
    if (x.created_at) { time.dateTime = x.created_at; time.textContent = this.formatTime(x.created_at); }
    else { time.textContent = pendingLabel || ""; }
    meta.append(author, channel, time);
    li.append(meta);
    if (x.subject) {
      const subject = document.createElement("div");
      subject.className = "subject";
      subject.textContent = x.subject;
      li.append(subject);
    }
    const body = document.createElement("div");
    body.className = "body";
    if (x.html) body.innerHTML = x.html; // sanitized by the server (nh3)
    else body.textContent = x.text;
    li.append(body);
    extras.forEach((extra) => extra(li, x));  // e.g. a file's link (chat_files.js)
    return li;
  };

  // Insert an exchange in logbook order; replace its pending twin if there is one.
  Timeline.prototype.add = function (x) {
    if (x.id && this.has(x.id)) return false;
    const li = this.build(x);
    const twin = x.client_id && this.list.querySelector('li.pending[data-client-id="' + x.client_id + '"]');
    if (twin) {
      twin.replaceWith(li);
    } else {
      const firstPending = this.list.querySelector("li.pending");
      let before = firstPending;
      this.list.querySelectorAll("li.exchange[data-id]").forEach((other) => {
        if (!before && Number(other.dataset.id) > x.id) before = other;
      });
      this.list.insertBefore(li, before || null);
    }
    if (this.empty) this.empty.hidden = true;
    li.scrollIntoView({ block: "nearest" });
    return true;
  };

  Timeline.prototype.setDelivery = function (id, label) {
    const span = this.list.querySelector('li.exchange[data-id="' + id + '"] .delivery');
    if (span) span.textContent = label;
  };

  Timeline.prototype.addPending = function (item, label) {
    if (this.list.querySelector('li.pending[data-client-id="' + item.client_id + '"]')) return;
    this.list.appendChild(this.build(item, label));
    if (this.empty) this.empty.hidden = true;
  };

  // A websocket that reconnects with backoff until told to stop.
  function Socket(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.delay = 500;
    this.stopped = false;
    this.ws = null;
    this.open();
  }

  Socket.prototype.open = function () {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => { this.delay = 500; this.handlers.open(); };
    ws.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.fatal) this.stopped = true;
      this.handlers.frame(frame);
    };
    ws.onclose = () => {
      this.handlers.close();
      if (this.stopped) return;
      const wait = this.delay + Math.random() * this.delay;
      this.delay = Math.min(this.delay * 2, 10000);
      setTimeout(() => this.open(), wait);
    };
  };

  Socket.prototype.ready = function () {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  };

  Socket.prototype.send = function (frame) {
    if (!this.ready()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  };

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  return { newId, Timeline, Socket, wsUrl, extras };
})();
