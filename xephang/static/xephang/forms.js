/* forms.js — the small behaviours pages declare in HTML, so no page needs inline script
 * (the Content-Security-Policy allows scripts from this server's files only):
 *   <form data-confirm="Xóa?">     asks before submitting
 *   <select data-autosubmit>        submits its form when changed
 *   <button data-print>             prints the page
 *   <a data-back href="/">          goes back in history (the href is the fallback)
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
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-print], [data-back]") : null;
    if (!el) return;
    if (el.hasAttribute("data-print")) { ev.preventDefault(); window.print(); }
    if (el.hasAttribute("data-back") && window.history.length > 1) {
      ev.preventDefault(); window.history.back();
    }
  });
})();
