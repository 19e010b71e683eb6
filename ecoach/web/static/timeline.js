// Shared by the coach and coachee pages: render exchanges, make ids, stay connected.
"use strict";

window.ecoach = (function () {
  // Functions (li, exchange) that add to an entry as it is built; other scripts push theirs.
  const extras = [];

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // "3 mrt 2027, 14:05" / "3 Mar 2027, 14:05": the pages' one format (core/formats.py
  // MOMENT), 24-hour. The server sends it ready-made ("when"); this is for what it did not.
  function formatWhen(iso, lang, zone) {
    try {
      const parts = {};
      new Intl.DateTimeFormat(lang, {
        day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23", timeZone: zone,
      }).formatToParts(new Date(iso)).forEach((p) => { parts[p.type] = p.value; });
      return parts.day + " " + parts.month.replace(/\.$/, "") + " " + parts.year + ", " + parts.hour + ":" + parts.minute;
    } catch (e) {
      return iso;
    }
  }

  function Timeline(list) {
    this.list = list;
    this.zone = list.dataset.zone || undefined;
    this.viewer = list.dataset.viewer || "coach";
    this.labels = JSON.parse(list.dataset.labels || "{}");
    this.lang = document.documentElement.lang || "en";
    this.empty = document.getElementById("latest");
    this.scroller = list.closest(".chat-log");
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

  // The same shapes as core/notices.shape, for what the server did not shape.
  Timeline.prototype.shapeOf = function (x) {
    if (x.shape) return x.shape;
    if (x.direction === "internal") return x.author === "coach" ? "note" : "system-line";
    const mine = this.viewer === "coach" ? "out" : "in";
    return x.direction === mine ? "from-me" : "from-them";
  };

  function span(className, text) {
    const el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    return el;
  }

  Timeline.prototype.build = function (x, pendingLabel) {
    const shape = this.shapeOf(x);
    const li = document.createElement("li");
    li.className = "exchange " + shape + " dir-" + x.direction + " channel-" + x.channel + (x.author === "system" ? " by-system" : "");
    if (x.id) { li.id = "x" + x.id; li.dataset.id = x.id; } else { li.classList.add("pending"); }
    if (x.client_id) li.dataset.clientId = x.client_id;
    const meta = document.createElement("div");
    meta.className = "meta";
    if (shape === "note") meta.append(span("badge note-badge", this.labels.private_note || ""));
    if (shape !== "system-line") meta.append(span("author", x.author_name || ""));
    if (shape === "from-me" || shape === "from-them") meta.append(span("channel", this.labels[x.channel] || x.channel));
    const time = document.createElement("time");
    if (x.created_at) {
      time.dateTime = x.created_at;
      time.textContent = x.when || formatWhen(x.created_at, this.lang, this.zone);
    } else {
      time.textContent = pendingLabel || "";
    }
    meta.append(time);
    if (this.viewer === "coach") meta.append(span("delivery", ""));
    li.append(meta);
    if (x.subject) {
      const subject = document.createElement("div");
      subject.className = "subject";
      subject.textContent = x.subject;
      li.append(subject);
    }
    const body = document.createElement("div");
    body.className = "body";
    if (x.html) body.innerHTML = x.html; // sanitized by the server (nh3) or built from escaped text
    else body.textContent = x.text;
    li.append(body);
    extras.forEach((extra) => extra(li, x));  // e.g. a file's link (chat_files.js)
    return li;
  };

  Timeline.prototype.nearBottom = function () {
    const s = this.scroller;
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  };

  Timeline.prototype.toBottom = function () {
    if (this.scroller) this.scroller.scrollTop = this.scroller.scrollHeight;
  };

  // Insert an exchange in logbook order; replace its pending twin if there is one.
  Timeline.prototype.add = function (x) {
    if (x.id && this.has(x.id)) return false;
    const follow = this.nearBottom();
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
    if (this.scroller) { if (follow || twin) this.toBottom(); }
    else li.scrollIntoView({ block: "nearest" });
    return true;
  };

  Timeline.prototype.setDelivery = function (id, label) {
    const el = this.list.querySelector('li.exchange[data-id="' + id + '"] .delivery');
    if (el) el.textContent = label;
  };

  Timeline.prototype.addPending = function (item, label) {
    if (this.list.querySelector('li.pending[data-client-id="' + item.client_id + '"]')) return;
    this.list.appendChild(this.build(item, label));
    if (this.empty) this.empty.hidden = true;
    this.toBottom();
  };

  // A websocket that knows when it is really connected: it reconnects with backoff, and
  // treats as offline both the browser's own word (offline/online events) and silence (a
  // ping that gets no answer within TIMEOUT: a dead network often closes nothing).
  const HEARTBEAT = 15000;
  const TIMEOUT = 6000;

  function Socket(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.delay = 500;
    this.stopped = false;
    this.ws = null;
    this.up = false;
    this.retry = null;
    this.beat = null;
    this.deadline = null;
    window.addEventListener("offline", () => this.drop());
    window.addEventListener("online", () => { this.delay = 500; if (!this.ws) this.open(); });
    this.open();
  }

  Socket.prototype.open = function () {
    clearTimeout(this.retry);
    if (this.stopped || navigator.onLine === false) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.up = true;
      this.beat = setInterval(() => this.ping(), HEARTBEAT);
      this.handlers.open();
    };
    ws.onmessage = (ev) => {
      clearTimeout(this.deadline);
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.fatal) this.stopped = true;
      if (frame.type !== "pong") this.handlers.frame(frame);
    };
    ws.onclose = () => { if (this.ws === ws) this.drop(); };
  };

  Socket.prototype.ping = function () {
    if (!this.send({ type: "ping" })) return;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.drop(), TIMEOUT);
  };

  // Offline now: forget this socket (without waiting for a close a dead line never
  // delivers) and try again later.
  Socket.prototype.drop = function () {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.beat);
    clearTimeout(this.deadline);
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch (e) { /* closed */ } }
    if (this.up || ws) { this.up = false; this.handlers.close(); }
    if (this.stopped) return;
    const wait = this.delay + Math.random() * this.delay;
    this.delay = Math.min(this.delay * 2, 10000);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.open(), wait);
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

  return { newId, Timeline, Socket, wsUrl, formatWhen, extras };
})();
