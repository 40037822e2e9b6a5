/* forms.js — the small behaviours pages declare in HTML, so no page needs inline script
 * (the Content-Security-Policy allows scripts from this server's files only):
 *   <form data-confirm="Xóa?">     asks before submitting
 *   <select data-autosubmit>        submits its form when changed
 *   <button data-print>             prints the page
 *   <a data-back href="/">          goes back in history (the href is the fallback)
 *   <input type="date">             shows the day it holds as Vietnamese read it beside
 *                                   it (Thứ Sáu 04/12/2026): the browser writes the field
 *                                   in its own locale's order (12/04/2026 in en-US)
 */
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      ev.preventDefault();
    }
  }, true);
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });
  var WEEKDAYS = ["Chủ nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"];
  function dayRead(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m) return "";
    var weekday = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay();
    return WEEKDAYS[weekday] + " " + m[3] + "/" + m[2] + "/" + m[1];
  }
  document.querySelectorAll("input[type=date]").forEach(function (input) {
    var out = document.createElement("output");
    out.className = "day-read";
    out.setAttribute("aria-hidden", "true");  // the field itself is read out already
    input.insertAdjacentElement("afterend", out);
    var show = function () { out.textContent = dayRead(input.value); };
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    show();
  });
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-print], [data-back]") : null;
    if (!el) return;
    if (el.hasAttribute("data-print")) { ev.preventDefault(); window.print(); }
    if (el.hasAttribute("data-back") && window.history.length > 1) {
      ev.preventDefault(); window.history.back();
    }
  });
})();
