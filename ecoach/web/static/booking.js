// Booking pages: show the times in the visitor's own time zone; selects apply at once.
// Without JavaScript the zone select and its "Show times" button do the same.
"use strict";

(function () {
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  const form = document.getElementById("zone-form");
  const select = document.getElementById("zone-select");
  // Only coachees' pages follow the browser; a zone already chosen in the URL is kept.
  if (!form || !select || !document.body.classList.contains("coachee") || form.dataset.zoneGiven === "1") return;
  let zone = null;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === select.value) return;
  if (!Array.from(select.options).some((option) => option.value === zone)) return;
  select.value = zone;
  form.submit();
})();
