// The import page's progress bar (progressive enhancement: without it, a reload shows the same).
// Asks the server every second how far the import is; when it has finished, reloads the page,
// which then shows the result and the problems.
(function () {
  "use strict";
  var card = document.querySelector("[data-import-progress]");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-import-progress");
  var bar = card.querySelector("progress");
  var message = card.querySelector("[data-import-message]");
  var label = card.querySelector("[data-import-label]");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { window.setTimeout(poll, 3000); return; }
        if (state.finished) { window.location.reload(); return; }
        if (state.total) { bar.max = state.total; bar.value = state.done; }
        if (state.message) { message.textContent = state.message; }
        label.textContent = state.label;
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
