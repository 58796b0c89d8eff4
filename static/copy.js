// Copy buttons: <button class="copy" data-copy="ID" data-copied="Copied" hidden> copies the
// text of the element ID to the clipboard. Without JavaScript the buttons stay hidden and the
// values can be selected by hand (templates/zone/services.html).
(function () {
  "use strict";
  function init() {
    if (!navigator.clipboard) return;
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        if (!source) return;
        var label = button.textContent;
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = button.dataset.copied || label;
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
