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
