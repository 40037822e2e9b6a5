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

  if (!window.Chart || !document.getElementById("chart-data")) return;  // no report: an error
  var data = U.pageData("chart-data");
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  Chart.defaults.locale = "vi-VN";  // axis and tooltip numbers with a decimal comma
  var min = function (s) { return s === null ? null : Math.round(s / 6) / 10; };
  var pct = function (x) { return x === null ? null : Math.round(x * 1000) / 10; };
  // One day of data is one point: the target then draws as a wide dash, not nothing.
  var oneDay = data.daily.length === 1;
  var daily = new Chart(document.getElementById("chart-daily"), {
    type: "line",
    data: {
      labels: data.daily.map(function (d) { return d.label; }),
      datasets: [
        {label: "Chờ TB mỗi lượt (phút)", data: data.daily.map(function (d) { return min(d.avg_wait_s); }),
         borderColor: "#0b5cad", backgroundColor: "#0b5cad", spanGaps: true, tension: 0.2,
         pointRadius: oneDay ? 6 : 3},
        {label: "Chỉ tiêu (phút)", data: data.daily.map(function (d) { return min(d.target_wait_s); }),
         borderColor: "#b00020", backgroundColor: "#b00020", borderDash: [6, 4], stepped: true,
         borderWidth: 2, pointStyle: "line", pointRadius: oneDay ? 60 : 0, pointBorderWidth: oneDay ? 3 : 1}
      ]
    },
    options: {responsive: true, scales: {x: {offset: oneDay},
                                          y: {beginAtZero: true, title: {display: true, text: "phút"}}}}
  });

  // Long names (a service, an officer) wrap onto lines instead of being cut at the edge.
  function wrap(label, width) {
    var words = String(label).split(/\s+/), lines = [], line = "";
    words.forEach(function (w) {
      if (line && (line + " " + w).length > width) { lines.push(line); line = w; }
      else { line = line ? line + " " + w : w; }
    });
    if (line) lines.push(line);
    return lines;
  }
  var labels = data.groups.map(function (g) { return wrap(g.label, 28); });
  var lines = labels.reduce(function (n, l) { return n + l.length; }, 0);
  document.getElementById("chart-groups-box").style.height = Math.max(220, 60 + lines * 18 + labels.length * 16) + "px";
  var groups = new Chart(document.getElementById("chart-groups"), {
    type: "bar",
    data: {
      labels: labels,
      datasets: [
        {label: "Lượt đạt chỉ tiêu chờ (%)", backgroundColor: "#1b7f3b",
         data: data.groups.map(function (g) { return pct(g.share); })},
        {label: "Hài lòng (%)", backgroundColor: "#f9a825",
         data: data.groups.map(function (g) { return pct(g.satisfied); })}
      ]
    },
    options: {responsive: true, maintainAspectRatio: false, indexAxis: "y",
              scales: {x: {min: 0, max: 100}, y: {ticks: {autoSkip: false}}}}
  });
  window.xephangCharts = {daily: daily, groups: groups};
})();
