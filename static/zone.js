/* ispzone client zone: small progressive enhancements (the pages work without this file).
   - copy buttons next to payment details ([data-copy]);
   - after a failed form, focus moves to the first field marked aria-invalid. */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy") ? resolve() : reject(); } catch (e) { reject(e); }
      document.body.removeChild(area);
    });
  }

  function setUpCopy() {
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(button.getAttribute("data-copy")).then(function () {
          button.textContent = button.getAttribute("data-copied") || label;
          button.classList.add("copied");
          window.setTimeout(function () {
            button.textContent = label;
            button.classList.remove("copied");
          }, 2000);
        }, function () {});
      });
    });
  }

  function focusFirstError() {
    var invalid = document.querySelector("main [aria-invalid='true']");
    if (invalid) { invalid.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopy();
    focusFirstError();
  });
})();
