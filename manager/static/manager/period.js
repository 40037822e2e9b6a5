/* Report forms: show the date fields the chosen period needs (a day in the period, or
 * "from" and "to" for a custom one). Used by the reports and the estimates pages. */
(function () {
  "use strict";
  var period = document.getElementById("period");
  if (!period) { return; }
  var form = period.form;
  function toggle() {
    var custom = period.value === "custom";
    form.querySelectorAll(".custom").forEach(function (n) { n.hidden = !custom; });
    form.querySelectorAll(".fixed").forEach(function (n) { n.hidden = custom; });
  }
  period.addEventListener("change", toggle);
  toggle();
})();
