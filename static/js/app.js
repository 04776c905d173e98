// Progressive enhancement only: every page works without this file.
// Shows each UTC time in the reader's own zone as a tooltip.
document.addEventListener("DOMContentLoaded", function () {
  // The bar's Admin menu closes on a click elsewhere or on Escape, as menus do.
  var menus = document.querySelectorAll("details.navmenu");
  document.addEventListener("click", function (ev) {
    menus.forEach(function (menu) { if (menu.open && !menu.contains(ev.target)) { menu.open = false; } });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") { return; }
    menus.forEach(function (menu) { if (menu.open) { menu.open = false; menu.querySelector("summary").focus(); } });
  });
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) { el.title = "Your time: " + d.toLocaleString(); }
  });
  // Ctrl/Cmd+Enter posts the quick update from its text box.
  var quick = document.querySelector(".quick-post textarea");
  if (quick) {
    quick.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); quick.form.requestSubmit(); }
    });
  }
});

// Timeline times: the server shows UTC; add the reader's own time beside it, with the zone named,
// e.g. "10:00 UTC · 12:00 your time (Europe/Berlin)". Readers already on UTC get nothing extra.
// live.js calls it again on the regions it swaps in.
window.showLocalTimes = function (root) {
  if (!window.Intl || !Intl.DateTimeFormat) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || /^(Etc\/)?(UTC|GMT|Universal|Zulu)$/.test(zone)) { return; }
  var clock = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  var timeOnly = new Intl.DateTimeFormat(undefined, clock);
  var withDay = new Intl.DateTimeFormat(undefined, Object.assign({ weekday: "short", day: "numeric", month: "short" }, clock));
  var day = { year: "numeric", month: "2-digit", day: "2-digit" };
  var utcDay = new Intl.DateTimeFormat("en-CA", Object.assign({ timeZone: "UTC" }, day));
  var localDay = new Intl.DateTimeFormat("en-CA", day);
  root.querySelectorAll("time[data-local-time]").forEach(function (el) {
    var moment = new Date(el.getAttribute("datetime"));
    if (isNaN(moment)) { return; }
    // Name the day too when it differs from the UTC one, so "01:30" is never a day out.
    var format = utcDay.format(moment) === localDay.format(moment) ? timeOnly : withDay;
    var local = document.createElement("span");
    local.className = "local-time";
    local.textContent = " · " + format.format(moment) + " your time (" + zone + ")";
    el.insertAdjacentElement("afterend", local);
  });
};
document.addEventListener("DOMContentLoaded", function () { window.showLocalTimes(document); });

// Postmortem editor: a live preview under each written section, rendered and sanitised by the
// server (the same Markdown rendering as the saved document). Without JavaScript the form's
// "Preview" button does the same with a full page.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-preview-url]");
  if (!form || !window.fetch) { return; }
  var url = form.getAttribute("data-preview-url");
  var tokenInput = form.querySelector("input[name=csrf_token]");
  form.querySelectorAll("textarea[data-preview]").forEach(function (area) {
    var box = form.querySelector('[data-preview-for="' + area.id + '"]');
    if (!box) { return; }
    var timer = null, sent = 0;
    function render() {
      var body = new FormData();
      body.append("text", area.value);
      if (tokenInput) { body.append("csrf_token", tokenInput.value); }
      var mine = ++sent;
      fetch(url, { method: "POST", body: body, credentials: "same-origin",
                   headers: tokenInput ? { "X-CSRFToken": tokenInput.value } : {} })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (mine !== sent) { return; }  // a newer preview is on its way
          if (data.error) { box.textContent = data.error; box.hidden = false; return; }
          // The HTML comes from the server's sanitiser (nh3), like every rendered Markdown.
          box.innerHTML = '<p class="pm-preview-label">Preview</p>' + data.html;
          box.hidden = !area.value.trim();
        })
        .catch(function () { /* the Preview button still works */ });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(render, 300);
    });
  });
});
