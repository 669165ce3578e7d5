// The sign-up form's live address check: asks the server, after a short pause in typing,
// whether the address is free, and says so under the field (the server decides again on submit).
(function () {
  "use strict";
  var input = document.querySelector("[data-check-url]");
  var status = document.getElementById("slug-status");
  if (!input || !status) { return; }
  var timer = null;
  var asked = 0;
  function check() {
    var slug = input.value.trim().toLowerCase();
    if (!slug) { return; }
    var mine = ++asked;
    fetch(input.dataset.checkUrl + "?slug=" + encodeURIComponent(slug), {headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (mine !== asked) { return; }  // a later keystroke asked again
        status.textContent = answer.message;
        status.className = "form-text " + (answer.available ? "text-success" : "text-danger");
        input.classList.toggle("is-invalid", !answer.available);
        input.classList.toggle("is-valid", answer.available);
      })
      .catch(function () { /* the server checks again on submit */ });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
  if (input.value) { check(); }
}());
