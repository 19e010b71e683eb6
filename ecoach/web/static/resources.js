// The resource library's forms: sent by script so that a file larger than an ordinary
// form post may go (read as a stream by the server, within the file limit).
"use strict";

(function () {
  document.querySelectorAll("form[data-upload-form]").forEach((form) => {
    const errorLine = form.querySelector(".form-error");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errorLine.hidden = true;
      let response;
      try {
        response = await fetch(form.action, {
          method: "POST", body: new FormData(form), credentials: "same-origin",
          headers: { "X-CSRF-Token": form.elements._csrf.value, "Accept": "application/json" },
        });
      } catch (e) {
        form.submit();  // the ordinary way, with its own error page
        return;
      }
      let body = {};
      try { body = await response.json(); } catch (e) { /* not JSON */ }
      if (response.ok && body.location) { location.href = body.location; return; }
      errorLine.textContent = (body.error && body.error.message) || response.statusText;
      errorLine.hidden = false;
    });
  });
})();
