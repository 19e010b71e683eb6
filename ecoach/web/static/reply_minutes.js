// The time spent on a reply: an estimate from its length while the coach types (the same
// rule as ecoach.core.bundles.estimate_minutes), until the coach types a number themselves.
"use strict";

(function () {
  const field = document.getElementById("reply-minutes");
  const form = document.getElementById("reply");
  if (!field || !form) return;
  const perMinute = Math.max(1, Number(field.dataset.wordsPerMinute) || 20);
  const minimum = Number(field.dataset.minimum) || 0;
  let chosen = false;

  function estimate(text) {
    const words = (text.match(/[\p{L}\p{N}_]+/gu) || []).length;
    return Math.max(minimum, Math.ceil(words / perMinute));
  }

  field.addEventListener("input", () => { chosen = field.value !== ""; });
  form.elements.text.addEventListener("input", () => {
    if (chosen) return;
    const text = form.elements.text.value;
    field.value = text.trim() ? String(estimate(text)) : "";
  });
  // coach.js sends replies over the websocket and clears the box on the server's ack.
  form.addEventListener("ecoach:sent", () => { chosen = false; field.value = ""; });
})();
