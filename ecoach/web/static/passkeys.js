// Passkeys (WebAuthn): adding one on the two-factor page, using one after the password.
// The server sends the options as JSON with binary values in base64url (the WebAuthn
// Level 3 "...JSON" forms, made by py_webauthn); this file turns them into ArrayBuffers for
// navigator.credentials and the authenticator's answer back into that JSON. Nothing is
// loaded from elsewhere. Without support for passkeys the page keeps its hint and codes.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) return;

  // base64url without padding (RFC 4648 section 5), as WebAuthn's JSON forms use it.
  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "===".slice((b64.length + 3) % 4);
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return o;
  }
  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return o;
  }
  function credentialJSON(cred) {
    var r = cred.response;
    var json = {id: cred.id, rawId: toText(cred.rawId), type: cred.type,
                clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
                response: {clientDataJSON: toText(r.clientDataJSON)}};
    if (cred.authenticatorAttachment) json.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      json.response.attestationObject = toText(r.attestationObject);
      json.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(r.authenticatorData);
      json.response.signature = toText(r.signature);
      if (r.userHandle) json.response.userHandle = toText(r.userHandle);
    }
    return json;
  }

  async function post(url, csrf, body) {
    var response = await fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf}});
    var data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      var error = new Error((data.error && data.error.message) || response.statusText);
      error.fromServer = true;  // its message is the server's, in the coach's language
      throw error;
    }
    return data;
  }

  function explain(holder, err) {
    if (err && err.fromServer) return err.message;
    if (err && err.name === "NotAllowedError") return holder.dataset.msgCancelled;
    if (err && err.name === "InvalidStateError" && holder.dataset.msgExists) return holder.dataset.msgExists;
    return holder.dataset.msgFailed;
  }

  function csrfToken() {
    var field = document.querySelector("input[name=_csrf]");
    return field ? field.value : "";
  }

  function wire(holder, button, run) {
    var box = holder.querySelector("[data-passkey-error]");
    return async function (event) {
      if (event) event.preventDefault();
      box.hidden = true;
      button.disabled = true;
      try {
        window.location.assign((await run()).next);
      } catch (err) {
        box.textContent = explain(holder, err);
        box.hidden = false;
        button.disabled = false;
      }
    };
  }

  var form = document.querySelector("[data-passkey-register]");
  if (form) {
    form.hidden = false;
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (n) { n.hidden = true; });
    form.addEventListener("submit", wire(form, form.querySelector("button"), async function () {
      var csrf = form.elements._csrf.value;
      var options = await post("/account/2fa/passkeys/options", csrf,
                               {name: form.elements.name.value, password: form.elements.password.value});
      var cred = await navigator.credentials.create({publicKey: creationOptions(options.publicKey)});
      return post("/account/2fa/passkeys", csrf, {credential: credentialJSON(cred)});
    }));
  }

  var login = document.querySelector("[data-passkey-login]");
  if (login) {
    login.hidden = false;
    var use = login.querySelector("[data-passkey-use]");
    use.addEventListener("click", wire(login, use, async function () {
      var csrf = csrfToken();
      var options = await post("/login/2fa/passkey/options", csrf, {});
      var cred = await navigator.credentials.get({publicKey: requestOptions(options.publicKey)});
      return post("/login/2fa/passkey", csrf, {credential: credentialJSON(cred), next: login.dataset.next});
    }));
  }
})();
