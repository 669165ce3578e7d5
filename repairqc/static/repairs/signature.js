// Signature fields: a canvas the customer signs on (mouse, finger or pen), sent as a PNG data URL.
// Each <div data-signature-field> holds a canvas, a hidden input and a "Clear" button; the
// input is filled when its form is submitted, so a form without a signature fails on the server
// with a clear message rather than in the browser.
(function () {
  "use strict";
  function setUp(container) {
    var canvas = container.querySelector("canvas");
    var input = container.querySelector("input[type=hidden]");
    var pad = new SignaturePad(canvas, { backgroundColor: "rgb(255,255,255)" });
    function resize() {
      // Match the drawing buffer to the displayed size, so strokes land under the finger.
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var data = pad.toData();
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      pad.fromData(data);
    }
    window.addEventListener("resize", resize);
    resize();
    container.querySelector("[data-signature-clear]").addEventListener("click", function () {
      pad.clear();
      input.value = "";
    });
    pad.addEventListener("endStroke", function () {
      input.value = pad.toDataURL("image/png");
    });
    input.form.addEventListener("submit", function () {
      input.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-signature-field]").forEach(setUp);
  });
})();
