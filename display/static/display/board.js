/* The waiting-room board: state from the realtime hub, calls announced by voice. */
(function () {
  "use strict";
  var U = window.XephangUtil;
  var $ = U.byId, esc = U.esc;
  var root = $("board");
  var snap = null, voice = null, seen = {}, syncs = 0;
  var COMMON_CLIPS = ["chime", "phrase_moi_cong_dan_co_so_thu_tu", "phrase_den_quay_so"];

  function counterNumber(ev) {
    return (ev.details && ev.details.counter_number) || (ev.ticket && ev.ticket.counter && ev.ticket.counter.number) || "";
  }

  function render() {
    if (!snap) return;
    var calls = snap.recent_calls || [];
    var latest = calls[0];
    $("latest").classList.toggle("empty", !latest);
    $("latest-code").textContent = latest ? latest.ticket.code : "Xin kính chào";
    $("latest-counter").textContent = latest ? counterNumber(latest) : "—";
    var template = (snap.board && snap.board.announce_template) || "";
    $("latest-text").textContent = !latest ? "" : latest.announcement ? latest.announcement.text
      : template.replace("{code}", latest.ticket.code).replace("{counter}", counterNumber(latest));
    $("recent").innerHTML = calls.slice(0, 7).map(function (c, i) {
      return "<tr class='" + (i === 0 ? "newest" : "") + "'><td>" + esc(c.ticket.code) + "</td><td>" +
        esc(counterNumber(c)) + "</td><td class='at'>" + esc((c.at || "").slice(11, 16)) +
        (c.type === "recalled" ? " · gọi lại" : "") + "</td></tr>";
    }).join("");
    $("counters").innerHTML = snap.counters.map(function (c) {
      var t = c.current_ticket, now, status;
      if (c.state === "paused") { now = "Tạm dừng"; status = c.pause_reason || ""; }
      else if (c.state === "closed" && !t) { now = "Đóng"; status = ""; }
      else { now = t ? t.code : "—"; status = t ? t.status_vi : "Sẵn sàng"; }
      return "<div class='counter " + c.state + "' data-counter='" + c.number + "'><div class='num'>Quầy " +
        c.number + "</div><div class='now'>" + esc(now) + "</div><div class='status'>" + esc(status) + "</div></div>";
    }).join("");
    $("services").innerHTML = snap.services.map(function (s) {
      return "<div class='service' data-service='" + s.prefix + "'>" + esc(s.prefix) + " · " + esc(s.name_vi) +
        "<b>" + (snap.waiting[String(s.id)] || 0) + "</b></div>";
    }).join("");
    var w = snap.wait_today || {};
    var cls = w.avg_s != null && w.target_s != null ? (w.avg_s <= w.target_s ? "within" : "over") : "";
    $("wait-today").innerHTML = "Chờ trung bình hôm nay <small>Avg wait today</small><br><b class='" + cls + "'>" +
      U.minutes(w.avg_s) + "</b>" + (w.target_s != null ? " / mục tiêu " + U.minutes(w.target_s) : "");
    var msg = (snap.board && snap.board.board_message) || "";
    if ($("message").textContent !== msg) $("message").textContent = msg;
    $("message").parentNode.style.visibility = msg ? "visible" : "hidden";
  }

  function clock() {
    var tz = snap ? snap.office.timezone : undefined, now = new Date();
    try {
      $("time").textContent = now.toLocaleTimeString("vi-VN", {timeZone: tz, hour12: false});
      $("date").textContent = now.toLocaleDateString("vi-VN", {timeZone: tz, weekday: "long", day: "2-digit", month: "2-digit", year: "numeric"});
    } catch (e) { $("time").textContent = now.toTimeString().slice(0, 8); }
  }
  setInterval(clock, 1000); clock();

  function flash() {
    var el = $("latest");
    el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
  }

  function setupVoice() {
    if (voice || !(snap.board && snap.board.voice_enabled)) return;
    voice = XephangVoice(root.dataset.voice, {onBlocked: function (blocked) {
      $("sound").hidden = !blocked;
      report({audio: blocked ? "blocked" : "on"});
    }});
    voice.preload(COMMON_CLIPS);
    window.xephangVoice = voice;
  }
  $("sound").addEventListener("click", function () { if (voice) voice.unlock(); });
  document.addEventListener("click", function () { if (voice) voice.unlock(); });

  var live = XephangLive.connect({
    auth: root.dataset.board ? {board: root.dataset.board} : {},
    onStatus: function (s) { $("conn").dataset.status = s; },
    onState: function (ack) { syncs++; snap = ack.snapshot; setupVoice(); render(); clock(); },
    onEvent: function (name, ev) {
      if (name !== "queue_event" || !snap) return;
      XephangLive.applyEvent(snap, ev);
      render();
      if ((ev.type === "called" || ev.type === "recalled") && !seen[ev.seq]) {
        seen[ev.seq] = true;
        if (Object.keys(seen).length > 500) seen = {};  // a whole day of calls, then start over
        flash();
        if (voice && ev.announcement) voice.announce(ev.announcement);
      }
      if (ev.type === "day_closed") live.resync();
    }
  });
  // A TV runs for months: reload once a day at night, which also renews the paired session's
  // cookie (only HTTP responses renew it, not the socket) and frees what the browser leaked.
  var openedAt = Date.now();
  setInterval(function () {
    var hour = Number(new Date().toLocaleString("en-GB", {hour: "2-digit", hour12: false,
      timeZone: snap ? snap.office.timezone : undefined}));
    if (Date.now() - openedAt > 20 * 3600 * 1000 && hour >= 1 && hour < 5 &&
        !document.body.dataset.announcing) location.reload();
  }, 10 * 60 * 1000);

  function report(status) {
    if (root.dataset.mode === "session" && live.socket.connected) live.socket.emit("display_status", status);
  }
  window.xephangBoard = {live: live, state: function () { return snap; },
                         syncs: function () { return syncs; }};
})();
