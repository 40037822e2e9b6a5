/* The waiting-room board: state from the realtime hub, calls announced by voice.
 *
 * Each area shows only what fits it: counters and services in pages that turn every
 * PAGE_MS (20 services and 30 counters fit at 1920×1080 and 1366×768 alike), as many
 * recent calls as there are rows; a service name too long for its chip is ellipsised and
 * scrolls to its end now and then. A zone (a display's, from setup, or ?services= and
 * ?counters= on the public link) limits the board to some services and counters. */
(function () {
  "use strict";
  var U = window.XephangUtil, RULES = window.XephangRules;
  var $ = U.byId, esc = U.esc;
  var root = $("board");
  var zone = U.pageData("board-zone");
  var snap = null, voice = null, seen = {}, syncs = 0;
  var pages = {counters: 0, services: 0};
  var COMMON_CLIPS = ["chime", "phrase_moi_cong_dan_co_so_thu_tu", "phrase_den_quay_so"];
  var PAGE_MS = 8000, REVEAL_MS = 4000;

  function counterNumber(ev) {
    return (ev.details && ev.details.counter_number) || (ev.ticket && ev.ticket.counter && ev.ticket.counter.number) || "";
  }

  // --- the zone ----------------------------------------------------------------------------
  function has(list, id) { return list.indexOf(id) !== -1; }
  function zoneServices() {  // service ids shown: the zone's, else those its counters serve
    if (zone.services.length) return zone.services;
    if (!zone.counters.length) return null;
    var ids = [];
    snap.counters.forEach(function (c) {
      if (has(zone.counters, c.id)) c.services.forEach(function (s) { if (!has(ids, s)) ids.push(s); });
    });
    return ids;
  }
  function zoneCounters() {  // counter ids shown: the zone's, else those serving its services
    if (zone.counters.length) return zone.counters;
    if (!zone.services.length) return null;
    return snap.counters.filter(function (c) {
      return c.services.some(function (s) { return has(zone.services, s); });
    }).map(function (c) { return c.id; });
  }
  function callInZone(ev) {
    if (zone.counters.length && !has(zone.counters, ev.counter_id)) return false;
    if (zone.services.length && !(ev.ticket && has(zone.services, ev.ticket.service.id))) return false;
    return true;
  }
  function shownServices() {
    var ids = zoneServices();
    return snap.services.filter(function (s) { return !ids || has(ids, s.id); });
  }
  function shownCounters() {
    var ids = zoneCounters();
    return snap.counters.filter(function (c) { return !ids || has(ids, c.id); });
  }

  // --- fitting -----------------------------------------------------------------------------
  function vw(n) { return n * window.innerWidth / 100; }
  function vh(n) { return n * window.innerHeight / 100; }
  function gridFit(box, count, minWidth, height, colGap, rowGap) {  // columns, rows per page
    var cols = Math.max(1, Math.floor((box.clientWidth + colGap) / (minWidth + colGap)));
    var rows = Math.max(1, Math.floor((box.clientHeight + rowGap) / (height + rowGap)));
    cols = Math.min(cols, Math.max(1, count));  // few items: wider tiles, still one page
    return {cols: cols, rows: rows, per: cols * rows};
  }
  function page(items, per, key) {
    var count = Math.max(1, Math.ceil(items.length / per));
    if (pages[key] >= count) pages[key] = 0;
    $(key + "-page").textContent = count > 1 ? (pages[key] + 1) + "/" + count : "";
    return items.slice(pages[key] * per, (pages[key] + 1) * per);
  }
  function overflows(el) { return el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1; }
  function fitFont(el, box, largest, smallest) {  // the largest font (vw) at which ``box`` holds it all
    var size = largest;
    el.style.fontSize = size + "vw";
    while (size > smallest && overflows(box)) {
      size -= 0.1;
      el.style.fontSize = size.toFixed(2) + "vw";
    }
  }
  function fitOfficeName() {  // the whole name, on up to two lines, as large as it goes
    var el = $("office-name");
    fitFont(el, el, 2.3, 1);
  }
  var LATEST_VW = {"latest-code": 7.5, "latest-arrow": 4, "latest-counter": 4.2};
  function fitLatest() {  // a long code or counter number shrinks the call, never cuts it
    var box = $("latest"), idle = box.classList.contains("empty");
    for (var k = 1; k >= 0.5; k -= 0.05) {
      Object.keys(LATEST_VW).forEach(function (id) {
        $(id).style.fontSize = ((idle && id === "latest-code" ? 4.5 : LATEST_VW[id]) * k).toFixed(2) + "vw";
      });
      if (box.scrollWidth <= box.clientWidth + 1 && !overflows($("latest-code"))) return;
    }
  }

  // --- rendering ---------------------------------------------------------------------------
  function statusLine(c, t) {
    if (c.state === "paused") return ["Tạm dừng", "Paused"];
    if (c.state === "closed" && !t) return ["Đóng", "Closed"];
    if (!t) return ["Sẵn sàng", "Ready"];
    var s = RULES.states[t.status] || {vi: t.status_vi, en: ""};
    return [s.vi, s.en];
  }

  function renderCalls() {
    var calls = (snap.recent_calls || []).filter(callInZone);
    var latest = calls[0];
    $("latest").classList.toggle("empty", !latest);
    $("latest-code").textContent = latest ? latest.ticket.code : "Xin kính chào";
    $("latest-counter").textContent = latest ? counterNumber(latest) : "—";
    fitLatest();
    var template = (snap.board && snap.board.announce_template) || "";
    $("latest-text").textContent = !latest ? "Welcome" : latest.announcement ? latest.announcement.text
      : template.replace("{code}", latest.ticket.code).replace("{counter}", counterNumber(latest));
    var box = $("recent-box"), head = box.querySelector("thead").offsetHeight;
    var rows = Math.max(0, Math.floor((box.clientHeight - head) / vh(5.6)));
    $("recent").innerHTML = calls.slice(0, rows).map(function (c, i) {
      return "<tr class='" + (i === 0 ? "newest" : "") + "'><td>" + esc(c.ticket.code) + "</td><td>" +
        esc(counterNumber(c)) + "</td><td class='at'>" + esc((c.at || "").slice(11, 16)) +
        (c.type === "recalled" ? " · gọi lại" : "") + "</td></tr>";
    }).join("");
  }

  function renderCounters() {
    var grid = $("counters"), all = shownCounters();
    var fit = gridFit(grid, all.length, vw(12), vh(11), vw(0.8), vh(1.2));
    grid.style.gridTemplateColumns = "repeat(" + fit.cols + ", minmax(0, 1fr))";
    grid.style.gridAutoRows = vh(11) + "px";
    var latest = (snap.recent_calls || []).filter(callInZone)[0];
    grid.innerHTML = page(all, fit.per, "counters").map(function (c) {
      var t = c.current_ticket, words = statusLine(c, t);
      var idle = c.state === "paused" || (c.state === "closed" && !t);
      var now = idle ? words[0] : t ? t.code : "—";
      if (idle) words = ["", words[1]];  // "Tạm dừng" is the tile's word already: English below
      var calling = t && t.status === "called" && latest && latest.ticket_id === t.id;
      return "<div class='counter " + c.state + (calling ? " calling" : "") + "' data-counter='" + c.number +
        "'><div class='num'>Quầy " + c.number + " <small>Counter " + c.number + "</small></div><div class='now'>" +
        esc(now) + "</div><div class='status'>" + esc(words[0]) + " <small>" + esc(words[1]) + "</small></div></div>";
    }).join("");
  }

  function renderServices() {
    var box = $("services"), all = shownServices();
    var fit = gridFit(box, all.length, vw(15), vh(4.8), vw(0.8), vh(1));
    box.style.gridTemplateColumns = "repeat(" + fit.cols + ", minmax(0, 1fr))";
    box.style.gridAutoRows = vh(4.8) + "px";
    box.innerHTML = page(all, fit.per, "services").map(function (s) {
      return "<div class='service' data-service='" + esc(s.prefix) + "' title='" + esc(s.name_vi) + "'>" +
        "<span class='prefix'>" + esc(s.prefix) + "</span><span class='name'><span>" + esc(s.name_vi) +
        "</span></span><b>" + (snap.waiting[String(s.id)] || 0) + "</b></div>";
    }).join("");
  }

  function renderWait() {
    var w = snap.wait_today || {};
    var cls = w.avg_s != null && w.target_s != null ? (w.avg_s <= w.target_s ? "within" : "over") : "";
    $("wait-today").innerHTML = "Chờ trung bình hôm nay <small>Avg wait today</small><br><b class='" + cls + "'>" +
      U.minutes(w.avg_s) + "</b>" + (w.target_s != null ? "<br>mục tiêu " + U.minutes(w.target_s) +
      " <small>target</small>" : "");
    var msg = (snap.board && snap.board.board_message) || "";
    if ($("message").textContent !== msg) $("message").textContent = msg;
    $("ticker").classList.toggle("quiet", !msg);
  }

  function render() {
    if (!snap) return;
    fitOfficeName();
    renderCalls();
    renderCounters();
    renderServices();
    renderWait();
  }

  // A name longer than its chip: one of them at a time scrolls to its end and back.
  var revealAt = 0;
  function reveal() {
    var long = Array.prototype.filter.call(document.querySelectorAll(".service .name"), function (n) {
      return n.scrollWidth > n.clientWidth + 1;
    });
    if (!long.length) return;
    var n = long[revealAt++ % long.length];
    n.style.setProperty("--shift", (n.clientWidth - n.scrollWidth - 8) + "px");
    n.style.setProperty("--reveal-s", (REVEAL_MS / 1000 * 0.9) + "s");
    n.classList.remove("scrolling"); void n.offsetWidth; n.classList.add("scrolling");
    setTimeout(function () { n.classList.remove("scrolling"); }, REVEAL_MS * 0.9);
  }
  function turnPages() {
    pages.counters++; pages.services++;
    render();
  }
  setInterval(reveal, REVEAL_MS);
  setInterval(turnPages, PAGE_MS);
  window.addEventListener("resize", render);

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

  var silent = false;
  function setupVoice() {
    if (voice || silent) return;
    if (!(snap.board && snap.board.voice_enabled)) { silent = true; report({audio: "off"}); return; }
    voice = XephangVoice(root.dataset.voice, {onBlocked: function (blocked) {
      $("sound").hidden = !blocked;
      fitOfficeName();
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
    onState: function (ack) {
      syncs++; snap = ack.snapshot;
      if (snap.zone) zone = snap.zone;  // a paired display's zone, as setup has it now
      setupVoice(); render(); clock();
    },
    onEvent: function (name, ev) {
      if (name !== "queue_event" || !snap) return;
      XephangLive.applyEvent(snap, ev);
      render();
      if ((ev.type === "called" || ev.type === "recalled") && !seen[ev.seq] && callInZone(ev)) {
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

  var reported = {};
  function report(status) {
    if (root.dataset.mode !== "session") return;
    status.screen = window.innerWidth + "x" + window.innerHeight;
    Object.keys(status).forEach(function (k) { reported[k] = status[k]; });
    if (live && live.socket.connected) live.socket.emit("display_status", reported);
  }
  live.socket.on("connect", function () { if (reported.audio) report({}); });  // after a restart
  window.xephangBoard = {live: live, state: function () { return snap; },
                         syncs: function () { return syncs; },
                         turnPages: turnPages, reveal: reveal,
                         pages: function () { return {counters: pages.counters, services: pages.services}; }};
})();
