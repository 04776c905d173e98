// Live updates of the incident page (progressive enhancement: without it, a reload shows the same).
// While the page is open and visible, ask the server every few seconds whether anything changed
// (a 304 when not); when it did, fetch the page and swap in each region marked data-live, except
// one the reader is working in (focus, typed input), which waits for the next; open <details> stay open.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-url]");
  if (!root || !window.fetch || !window.DOMParser) { return; }
  var url = root.getAttribute("data-live-url");
  var version = root.getAttribute("data-live-version");
  var every = Math.max(1, parseInt(root.getAttribute("data-live-interval"), 10) || 5) * 1000;
  var delay = every;
  var timer = null;
  var status = document.getElementById("live-status");

  function changedByReader(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") { return false; }
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      var initial = field.multiple ? -1 : 0;  // with nothing marked selected, a list box starts on its first
      for (var i = 0; i < field.options.length; i++) {
        if (field.options[i].defaultSelected) { initial = i; }
        if (field.multiple && field.options[i].selected !== field.options[i].defaultSelected) { return true; }
      }
      return !field.multiple && field.selectedIndex !== initial;
    }
    return field.value !== field.defaultValue;
  }

  function busy(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && active.matches("input, textarea, select")) { return true; }
    return Array.prototype.some.call(region.querySelectorAll("input, textarea, select"), changedByReader);
  }

  // A <details> (a form behind its button, a correction's history, finished work) stays open or
  // closed as the reader left it: matched by the nearest element with an id and its place in it.
  function detailsKey(details) {
    var owner = details.parentElement.closest("[id]");
    var index = owner ? Array.prototype.indexOf.call(owner.querySelectorAll("details"), details) : -1;
    return (owner ? owner.id : "") + "#" + index;
  }

  function keepOpenness(region, node) {
    var open = {};
    region.querySelectorAll("details").forEach(function (d) { open[detailsKey(d)] = d.open; });
    node.querySelectorAll("details").forEach(function (d) {
      var key = detailsKey(d);
      if (key in open) { d.open = open[key]; }
    });
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var waiting = false;
    document.querySelectorAll("[data-live]").forEach(function (region) {
      var next = region.id && fresh.getElementById(region.id);
      if (!next) { return; }
      if (busy(region)) { waiting = true; return; }
      var node = document.importNode(next, true);
      keepOpenness(region, node);
      region.replaceWith(node);
      if (window.showLocalTimes) { window.showLocalTimes(node); }
    });
    var freshRoot = fresh.querySelector("[data-live-url]");
    // A region left alone keeps the old version, so the next poll fetches again.
    if (!waiting && freshRoot) { version = freshRoot.getAttribute("data-live-version"); }
    if (status) { status.textContent = "New updates at " + new Date().toLocaleTimeString() + "."; }
  }

  // The sign-in ended (idle timeout, sign-out elsewhere): polls do not keep a session alive, so
  // say so once and stop, rather than show a page that silently stopped updating.
  var stopped = false;
  function signedOut() {
    stopped = true;
    clearTimeout(timer);
    var note = document.createElement("p");
    note.className = "flash flash-info live-ended";
    note.setAttribute("role", "status");
    note.textContent = "Live updates stopped: your sign-in ended. Reload the page to sign in again.";
    root.parentNode.insertBefore(note, root);
  }

  function schedule(ms) {
    if (stopped) { return; }
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function poll() {
    if (document.hidden) { schedule(every); return; }
    fetch(url, { headers: { "If-None-Match": "\"" + version + "\"", "Accept": "application/json" },
                 credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 304) { return null; }
        if (answer.redirected || answer.status === 401) { signedOut(); return null; }
        if (!answer.ok) { throw new Error("live check: " + answer.status); }
        return answer.json();
      })
      .then(function (data) {
        if (!data || data.version === version) { return null; }
        return fetch(location.pathname + location.search, { credentials: "same-origin", cache: "no-store" })
          .then(function (page) {
            if (!page.ok || page.redirected) { throw new Error("page: " + page.status); }
            return page.text();
          })
          .then(swap);
      })
      .then(function () { delay = every; schedule(delay); },
            function () { delay = Math.min(delay * 2, 60000); schedule(delay); });  // back off while failing
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) { schedule(0); } });
  schedule(every);
})();
