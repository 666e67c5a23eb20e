// Keysmith console: small comforts over forms that work without JavaScript.
// Loaded from /assets (the CSP allows no inline script).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Copy to clipboard: <button data-copy="ID-of-a-readonly-input">.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var input = document.getElementById(b.getAttribute("data-copy"));
      if (!input) return;
      input.select();
      var done = function () { b.textContent = "Copied"; b.setAttribute("aria-live", "polite"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
  // Confirm dialogs: <form data-confirm="Question?">.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // Sliders show their value: <input type=range data-output="ID-of-an-output">.
  document.querySelectorAll("input[type=range][data-output]").forEach(function (r) {
    var out = document.getElementById(r.getAttribute("data-output"));
    var show = function () { if (out) out.textContent = r.value + " %"; };
    r.addEventListener("input", show);
    show();
  });
  // Selects that submit their form on change: <select data-autosubmit>.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // Show a fieldset only for one choice: <div data-show-when="name=value">.
  document.querySelectorAll("[data-show-when]").forEach(function (el) {
    var parts = el.getAttribute("data-show-when").split("=");
    var radios = document.querySelectorAll("input[name='" + parts[0] + "']");
    var update = function () {
      var on = false;
      radios.forEach(function (r) { if (r.checked && r.value === parts[1]) on = true; });
      el.hidden = !on;
    };
    radios.forEach(function (r) { r.addEventListener("change", update); });
    update();
  });
});

// A secret shown once (the "secret" part, class .secret, inside an optional
// <div data-shown-once>) stays once. The page is the answer to a POST:
// replacing its history entry makes reloading it a GET (no second
// credential, no secret), and a page kept in the back/forward cache forgets
// the secret when it is left.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.querySelector("[data-shown-once]") || (document.querySelector(".secret") && document.body);
  if (!box) return;
  history.replaceState(null, "", location.href);
  window.addEventListener("pagehide", function () {
    box.querySelectorAll(".secret").forEach(function (s) { s.remove(); });
    box.querySelectorAll(".once-gone").forEach(function (p) { p.hidden = false; });
  });
});
