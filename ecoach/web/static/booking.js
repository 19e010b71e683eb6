// Booking pages: on a coachee's first visit, show the times in the browser's own time zone.
// Without JavaScript the zone field and its "Show times" button do the same.
"use strict";

(function () {
  const form = document.getElementById("zone-form");
  const field = document.getElementById("zone-select");
  // Only coachees' pages follow the browser; a zone already chosen in the URL is kept.
  if (!form || !field || !document.body.classList.contains("coachee") || form.dataset.zoneGiven === "1") return;
  let zone = null;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === field.value) return;
  field.value = zone;
  form.submit();
})();
