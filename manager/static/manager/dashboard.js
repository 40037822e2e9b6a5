/* The manager's live dashboard: render the dashboard data, keep it live over Socket.IO
 * (dashboard_sync acknowledgements, refreshed on every queue event), fall back to polling
 * the JSON when the socket is down, and tick the wait clocks every second. */
(function () {
  "use strict";
  var U = window.XephangUtil;
  var script = document.currentScript;
  var officeId = Number(script.dataset.office);
  var jsonUrl = script.dataset.json;
  var logUrl = script.dataset.log;
  var data = U.pageData("dash-data");
  var receivedAt = Date.now();
  var alerted = {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  var minutes = U.decimalMinutes;
  var pct = U.percent;  // "95,0 %", the same as the server's pages (xephang/formats.py)
  function elapsed() { return (Date.now() - receivedAt) / 1000; }
  // The wait clocks count from the figures the server rounded, to the nearest second.
  function clock(seconds) { return U.clock(seconds == null ? null : Math.round(seconds)); }

  function kpi(label, value, note, state) {
    var box = el("div", {"class": "kpi" + (state ? " " + state : "")});
    box.appendChild(el("div", {"class": "kpi-label"}, label));
    box.appendChild(el("div", {"class": "kpi-value"}, value));
    if (note) box.appendChild(el("div", {"class": "kpi-note"}, note));
    return box;
  }

  function renderKpis() {
    var t = data.today, box = document.getElementById("kpis");
    box.textContent = "";
    var target = data.target_wait_s;
    var waitState = t.wait_pass === null ? "" : (t.wait_pass ? "pass" : "fail");
    box.appendChild(kpi("Đang chờ", String(data.waiting_total), data.not_arrived_total
      ? "trong đó " + data.not_arrived_total + " số trực tuyến chưa xác nhận có mặt" : "Waiting now"));
    box.appendChild(kpi("Đã cấp hôm nay", String(t.issued), "Issued today"));
    box.appendChild(kpi("Đã phục vụ", String(t.served), "Served"));
    box.appendChild(kpi("Vắng mặt", String(t.no_show), "No-show"));
    box.appendChild(kpi("Rời đi chưa gọi", String(t.left_unserved), "Left unserved · vẫn tính thời gian chờ",
                        t.left_unserved ? "warn" : ""));
    box.appendChild(kpi("Chờ trung bình", minutes(t.avg_wait_s),
                        "Chỉ tiêu " + minutes(target) + (t.wait_pass === null ? "" :
                        (t.wait_pass ? " · ĐẠT" : " · KHÔNG ĐẠT")), waitState));
    box.appendChild(kpi("Chờ P90", minutes(t.p90_wait_s), "90% lượt chờ không quá",
                        t.p90_wait_s !== null && t.p90_wait_s > target ? "warn" : ""));
    box.appendChild(kpi("Lượt đạt chỉ tiêu", pct(t.within_target_share), "Within target"));
    box.appendChild(kpi("Hài lòng", pct(t.satisfied_share),
                        t.ratings + " đánh giá · chỉ tiêu " + pct(data.target_satisfied_share),
                        t.satisfaction_pass === null ? "" : (t.satisfaction_pass ? "pass" : "fail")));
  }

  function renderServices() {
    var body = document.querySelector("#services tbody");
    body.textContent = "";
    data.services.forEach(function (s) {
      var wait = s.longest_wait_s === null ? null : s.longest_wait_s + elapsed();
      var over = wait !== null && wait > s.target_wait_s;
      var tr = el("tr", {"class": over ? "over" : ""});
      tr.appendChild(el("td", {}, s.prefix + " — " + s.name_vi));
      // online numbers in line but not checked in yet (not callable, no clock here)
      tr.appendChild(el("td", {"class": "num big"}, String(s.waiting) +
                        (s.not_arrived ? " (" + s.not_arrived + " chưa đến)" : "")));
      tr.appendChild(el("td", {"class": "clock", "data-base": s.longest_wait_s === null ? "" : s.longest_wait_s},
                        s.longest_code ? s.longest_code + " · " + clock(wait) : "—"));
      tr.appendChild(el("td", {"class": "num"}, String(s.over_target || 0)));
      tr.appendChild(el("td", {"class": "num"}, minutes(s.target_wait_s)));
      tr.appendChild(el("td", {"class": "num" + (s.waiting && !s.counters_open ? " over" : "")},
                        s.counters_open ? String(s.counters_open) : "Không có"));
      body.appendChild(tr);
    });
  }

  function renderCounters() {
    var body = document.querySelector("#counters tbody");
    body.textContent = "";
    data.counters.forEach(function (c) {
      var tr = el("tr", {"class": "state-" + c.state});
      tr.appendChild(el("td", {}, "Quầy " + c.number));
      var state = c.state_vi + (c.state === "paused" && c.pause_reason ? " — " + c.pause_reason : "");
      tr.appendChild(el("td", {}, state));
      tr.appendChild(el("td", {}, c.officer || "—"));
      tr.appendChild(el("td", {}, c.ticket ? c.ticket + (c.ticket_status === "called" ? " (đã gọi)" : "") : "—"));
      tr.appendChild(el("td", {"class": "num"}, c.since_s === null ? "—" : clock(c.since_s + elapsed())));
      body.appendChild(tr);
    });
  }

  // Times come formatted on the office's clock (reports/live.py): never the browser's zone.
  function renderDevices() {
    var body = document.querySelector("#devices tbody");
    body.textContent = "";
    var kinds = {kiosk: "Kiosk", display: "Màn hình", printer: "Máy in", rating: "Máy đánh giá"};
    data.devices.forEach(function (d) {
      var tr = el("tr", {"class": d.problem ? "warn" : ""});
      tr.appendChild(el("td", {}, kinds[d.kind] || d.kind));
      tr.appendChild(el("td", {}, d.name));
      tr.appendChild(el("td", {}, d.problem || "Hoạt động" + (d.status_vi && d.status_vi !== "—" ? " · " + d.status_vi : "")));
      tr.appendChild(el("td", {}, d.last_seen_shown || "—"));
      body.appendChild(tr);
    });
    (data.printers || []).forEach(function (p) {
      var tr = el("tr", {"class": p.state === "ok" ? "" : "warn"});
      tr.appendChild(el("td", {}, "Máy in"));
      tr.appendChild(el("td", {}, p.printer));
      tr.appendChild(el("td", {}, p.state === "ok" ? "Hoạt động" : (p.problem || p.state) + (p.detail ? " — " + p.detail : "")));
      tr.appendChild(el("td", {}, p.checked_shown || "—"));
      body.appendChild(tr);
    });
    if (!body.children.length) {
      var tr = el("tr"); tr.appendChild(el("td", {colspan: 4, "class": "muted"}, "Chưa có thiết bị nào được ghép nối."));
      body.appendChild(tr);
    }
    var jobs = data.print_jobs || {};
    var parts = [];
    if (jobs.done) parts.push(jobs.done + " phiếu đã in");
    if (jobs.queued || jobs.claimed || jobs.sending) parts.push(((jobs.queued || 0) + (jobs.claimed || 0) + (jobs.sending || 0)) + " đang chờ in");
    if (jobs.failed) parts.push(jobs.failed + " in lỗi");
    document.getElementById("printjobs").textContent = parts.length ? "Hôm nay: " + parts.join(" · ") : "";
  }

  function renderOutbox() {
    var body = document.querySelector("#outbox tbody");
    body.textContent = "";
    var box = data.outbox || {channels: []};
    box.channels.forEach(function (c) {
      var tr = el("tr", {"class": c.failing ? "warn" : ""});
      tr.appendChild(el("td", {}, c.name_vi));
      tr.appendChild(el("td", {"class": "num"}, String(c.queued)));
      tr.appendChild(el("td", {"class": "num"}, String(c.sent_last_hour)));
      tr.appendChild(el("td", {"class": "num"}, String(c.failed_last_hour)));
      tr.appendChild(el("td", {}, c.failing ? "Liên tục gửi lỗi" : "Bình thường"));
      body.appendChild(tr);
    });
    if (!box.channels.length) {
      var tr = el("tr"); tr.appendChild(el("td", {colspan: 5, "class": "muted"}, "Chưa có tin nhắn nào trong giờ qua."));
      body.appendChild(tr);
    }
  }

  function renderBookings() {
    var b = data.bookings || {};
    var node = document.getElementById("bookings-today");
    node.textContent = "Chưa đến: " + (b.booked || 0) + (b.late ? " (" + b.late + " đã quá giờ hẹn)" : "") +
      " · Đã đến: " + (b.checked_in || 0) + " · Đã hủy: " + (b.cancelled || 0);
    node.className = b.late ? "warn" : "";
  }

  function renderAlerts() {
    var box = document.getElementById("alerts");
    box.textContent = "";
    var fresh = false;
    data.alerts.forEach(function (a) {
      var link = el("a", {"class": "alert " + a.level, href: a.code ? logUrl + "&q=" + encodeURIComponent(a.code) : "#"}, a.text);
      box.appendChild(link);
      if (a.level === "danger" && !alerted[a.text]) { alerted[a.text] = true; fresh = true; }
    });
    if (fresh) beep();
  }

  function beep() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator(); osc.frequency.value = 880;
      osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.15);
    } catch (e) { /* no audio: the red banner is the alert */ }
  }

  function render(next) {
    if (next) { data = next; receivedAt = Date.now(); }
    renderKpis(); renderServices(); renderCounters(); renderDevices(); renderOutbox(); renderBookings();
    renderAlerts();
  }

  function setStatus(status) {
    var node = document.getElementById("conn");
    node.dataset.status = status;
    node.textContent = {online: "Trực tuyến", offline: "Mất kết nối — đang thử lại",
                        connecting: "Đang kết nối…", refused: "Bị từ chối"}[status] || status;
  }

  function poll() {
    fetch(jsonUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (next) { if (next && next.ok) render(next); })
      .catch(function () {});
  }

  render();
  // Wait clocks tick locally between updates; a new ticket over target turns red here.
  setInterval(function () { renderServices(); renderCounters(); }, 1000);

  var live = null, pending = null;
  if (window.io && window.XephangLive) {
    live = window.XephangLive.connect({
      auth: {office: officeId},
      syncEvent: "dashboard_sync",
      syncArgs: {office: officeId},
      onState: function (ack) { render(ack.dashboard); },
      onEvent: function () {
        if (pending) return;
        pending = setTimeout(function () { pending = null; live.resync(); }, 400);
      },
      onStatus: setStatus,
      pollMs: 15000
    });
  }
  // Safety net while the socket is down (and without Socket.IO at all).
  setInterval(function () {
    if (!live || !live.socket || !live.socket.connected) poll();
  }, 10000);
})();
