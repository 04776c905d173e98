// Progressive enhancement only: every page works without this file.
// Shows each UTC time in the reader's own zone as a tooltip.
document.addEventListener("DOMContentLoaded", function () {
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
document.addEventListener("DOMContentLoaded", function () {
  if (!window.Intl || !Intl.DateTimeFormat) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || /^(Etc\/)?(UTC|GMT|Universal|Zulu)$/.test(zone)) { return; }
  var clock = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  var timeOnly = new Intl.DateTimeFormat(undefined, clock);
  var withDay = new Intl.DateTimeFormat(undefined, Object.assign({ weekday: "short", day: "numeric", month: "short" }, clock));
  var day = { year: "numeric", month: "2-digit", day: "2-digit" };
  var utcDay = new Intl.DateTimeFormat("en-CA", Object.assign({ timeZone: "UTC" }, day));
  var localDay = new Intl.DateTimeFormat("en-CA", day);
  document.querySelectorAll("time[data-local-time]").forEach(function (el) {
    var moment = new Date(el.getAttribute("datetime"));
    if (isNaN(moment)) { return; }
    // Name the day too when it differs from the UTC one, so "01:30" is never a day out.
    var format = utcDay.format(moment) === localDay.format(moment) ? timeOnly : withDay;
    var local = document.createElement("span");
    local.className = "local-time";
    local.textContent = " · " + format.format(moment) + " your time (" + zone + ")";
    el.insertAdjacentElement("afterend", local);
  });
});
