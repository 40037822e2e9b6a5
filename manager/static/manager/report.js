/* Report page: draw the charts (Chart.js, vendored) and colour the weekday × hour
 * heatmaps (period.js shows the date fields the chosen period needs). */
(function () {
  "use strict";
  var U = window.XephangUtil;
  // Heatmaps: white → amber → red; the wait map turns red past the target.
  document.querySelectorAll("table.heatmap").forEach(function (table) {
    var cells = Array.prototype.slice.call(table.querySelectorAll("td[data-v]"));
    var values = cells.map(function (c) { return parseFloat(c.dataset.v); }).filter(function (v) { return !isNaN(v); });
    var target = parseFloat(table.dataset.target);
    var top = table.dataset.kind === "wait" && target ? Math.max(target * 1.5, 1) : Math.max.apply(null, values.concat([1]));
    cells.forEach(function (c) {
      var v = parseFloat(c.dataset.v);
      if (isNaN(v)) return;
      var x = Math.min(v / top, 1);
      var hue = 50 - 50 * x, light = 96 - 46 * x;
      c.style.background = "hsl(" + hue + ", 90%, " + light + "%)";
      if (light < 62) c.style.color = "#fff";
      if (table.dataset.kind === "wait" && target && v > target) c.classList.add("over");
      c.title = table.dataset.kind === "wait" ? U.decimalMinutes(v) : U.number(v, 1) + " vé/ngày";
    });
  });

  if (!window.Chart) return;
  var data = U.pageData("chart-data");
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  Chart.defaults.locale = "vi-VN";  // axis and tooltip numbers with a decimal comma
  var min = function (s) { return s === null ? null : Math.round(s / 6) / 10; };
  new Chart(document.getElementById("chart-daily"), {
    type: "line",
    data: {
      labels: data.daily.map(function (d) { return d.label; }),
      datasets: [
        {label: "Chờ TB mỗi lượt (phút)", data: data.daily.map(function (d) { return min(d.avg_wait_s); }),
         borderColor: "#0b5cad", backgroundColor: "#0b5cad", spanGaps: true, tension: 0.2},
        {label: "Chỉ tiêu (phút)", data: data.daily.map(function (d) { return min(d.target_wait_s); }),
         borderColor: "#b00020", borderDash: [6, 4], pointRadius: 0, stepped: true}
      ]
    },
    options: {responsive: true, scales: {y: {beginAtZero: true, title: {display: true, text: "phút"}}}}
  });
  new Chart(document.getElementById("chart-services"), {
    type: "bar",
    data: {
      labels: data.services.map(function (s) { return s.service; }),
      datasets: [
        {label: "Lượt đạt chỉ tiêu chờ (%)", backgroundColor: "#1b7f3b",
         data: data.services.map(function (s) { return s.share === null ? null : Math.round(s.share * 1000) / 10; })},
        {label: "Hài lòng (%)", backgroundColor: "#f9a825",
         data: data.services.map(function (s) { return s.satisfied === null ? null : Math.round(s.satisfied * 1000) / 10; })}
      ]
    },
    options: {responsive: true, indexAxis: "y", scales: {x: {min: 0, max: 100}}}
  });
})();
