// Shared page behaviour (docs/ui.md). Every piece works without this file; it only makes
// the same thing quicker: confirmations in a dialog instead of a page, a Copy button,
// time-zone suggestions while typing.
"use strict";

(function () {
  // A chat opens at its newest message, as phone chats do, and stays there while what is
  // above it settles (pictures, fonts, a folded part opened, the keyboard): unless the
  // reader has scrolled up to read.
  document.querySelectorAll(".chat-log").forEach((log) => {
    let pinned = true;
    let height = 0;  // the content's height when last seen: a scroll that changed it is not the reader's
    const toEnd = () => { log.scrollTop = log.scrollHeight; height = log.scrollHeight; };
    toEnd();
    log.addEventListener("scroll", () => {
      if (log.scrollHeight !== height) return;
      pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    }, { passive: true });
    if (!window.ResizeObserver) return;
    const watch = new ResizeObserver(() => { if (pinned) toEnd(); else height = log.scrollHeight; });
    watch.observe(log);
    Array.from(log.children).forEach((child) => watch.observe(child));
  });
  // A link to a part folded away (chat page: /c/…#your-data) unfolds it.
  const target = location.hash.length > 1 && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  const fold = target && target.closest("details");
  if (fold && !fold.open) { fold.open = true; target.scrollIntoView({ block: "nearest" }); }

  // Confirm: the GET form would open the confirmation page; open its dialog instead.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    const dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== "function") return;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      dialog.showModal();
    });
    dialog.querySelectorAll("[data-close]").forEach((button) => {
      button.addEventListener("click", () => dialog.close());
    });
  });

  // Copy: the field stays selectable by hand; the button copies and says so.
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    const status = button.closest(".copy-field") && button.closest(".copy-field").querySelector(".copy-status");
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      let done = false;
      try {
        await navigator.clipboard.writeText(field.value);
        done = true;
      } catch (e) {
        field.focus();
        field.select();
        try { done = document.execCommand("copy"); } catch (e2) { done = false; }
      }
      if (status) status.textContent = done ? status.dataset.copied : "";
      if (done) setTimeout(() => { if (status) status.textContent = ""; }, 4000);
    });
  });

  // Time zones: suggestions from /zones as one types ("ams" -> Amsterdam (Nederland)).
  document.querySelectorAll("input[data-zone-suggest]").forEach((input) => {
    const list = input.list;
    if (!list) return;
    let timer = null;
    let asked = "";
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const q = input.value.trim();
        if (q.length < 2 || q === asked) return;
        asked = q;
        try {
          const response = await fetch("/zones?q=" + encodeURIComponent(q) + "&lang=" + document.documentElement.lang);
          if (!response.ok) return;
          const found = await response.json();
          list.replaceChildren(...found.zones.map((z) => {
            const option = document.createElement("option");
            option.value = z.id;
            option.textContent = z.label;
            return option;
          }));
        } catch (e) { /* offline: the server still resolves what was typed */ }
      }, 150);
    });
  });
})();
