// Wharf's web UI works without this script. With it, every snippet (install and setup
// commands, a new token's secret) gets a Copy button. It is a file of this site, not
// inline code, so the pages' Content-Security-Policy (`script-src 'self'`) still lets
// nothing else run.
"use strict";

(function () {
  // Clipboard API where the page is a secure context (https, or 127.0.0.1 and
  // localhost); plain http elsewhere has none, and there the old selection copy serves.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (e) {
        copied = false;
      }
      document.body.removeChild(area);
      if (copied) {
        resolve();
      } else {
        reject(new Error("the browser refused to copy"));
      }
    });
  }

  // When copying fails, the snippet's text is selected so Ctrl+C (or the phone's own
  // menu) takes it.
  function select(code) {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // One live region tells screen readers what a click did.
  var status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  document.body.appendChild(status);

  document.querySelectorAll(".snippet > pre > code").forEach(function (code) {
    var snippet = code.parentNode.parentNode;
    var what = snippet.getAttribute("data-label") || "snippet";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + what);
    var reset;
    button.addEventListener("click", function () {
      clearTimeout(reset);
      copyText(code.textContent).then(
        function () {
          button.textContent = "Copied";
          button.setAttribute("data-copied", "true");
          status.textContent = what + " copied to the clipboard";
        },
        function () {
          select(code);
          button.textContent = "Press Ctrl+C";
          button.removeAttribute("data-copied");
          status.textContent = "Could not copy; the text is selected, press Ctrl+C";
        }
      );
      reset = setTimeout(function () {
        button.textContent = "Copy";
      }, 4000);
    });
    snippet.insertBefore(button, code.parentNode);
  });
})();
