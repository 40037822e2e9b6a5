/* The counter screen: state from the realtime hub, actions through the JSON API; which
 * action each ticket state allows is the server's table (window.XephangRules). */
(function () {
  "use strict";
  var U = window.XephangUtil, RULES = window.XephangRules;
  var $ = U.byId, esc = U.esc;
  var app = $("app");
  var officeId = Number(app.dataset.office);
  var api = app.dataset.api;
  var storeKey = "xephang.counter." + officeId;
  var counterId = Number(localStorage.getItem(storeKey)) || null;
  var snap = null, mine = null, busy = false, live = null, counterTimer = null;

  function counter() {
    if (!snap) return null;
    for (var i = 0; i < snap.counters.length; i++) if (snap.counters[i].id === counterId) return snap.counters[i];
    return null;
  }
  function service(id) {
    for (var i = 0; i < snap.services.length; i++) if (snap.services[i].id === id) return snap.services[i];
    return null;
  }
  function say(text, isError) {
    var m = $("message");
    m.textContent = text; m.hidden = !text; m.className = "message" + (isError ? " error" : "");
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { m.hidden = true; }, isError ? 8000 : 3000);
  }

  // --- rendering ---------------------------------------------------------------------------
  function render() {
    if (!snap) return;
    $("office-name").textContent = snap.office.name;
    var c = counter();
    var named = c && c.name && c.name !== "Quầy " + c.number;
    $("counter-title").textContent = c ? "Quầy số " + c.number + (named ? " — " + c.name : "") : "Chọn quầy";
    var t = c && c.current_ticket;
    $("current-code").textContent = t ? t.code : "—";
    $("current-code").dataset.status = t ? t.status : "";
    $("current-info").innerHTML = t
      ? esc(t.service.name_vi) + " · <strong>" + esc(t.status_vi) + "</strong>" +
        (t.priority ? " · Ưu tiên" : "") + (t.recalls ? " · đã gọi lại " + t.recalls + " lần" : "")
      : "Chưa có số nào. Nhấn <kbd>N</kbd> để gọi số tiếp theo.";
    var state = c ? c.state : "closed";
    $("counter-state").textContent = !c ? "" : state === "paused"
      ? "Đang tạm dừng: " + (c.pause_reason || "") + " — nhấn P để tiếp tục"
      : state === "closed" ? "Quầy đang đóng — gọi số sẽ mở quầy" : "Quầy đang mở";
    $("counter-state").dataset.state = state;
    $("btn-pause").firstChild.textContent = state === "paused" ? "Tiếp tục " : "Tạm dừng ";
    var served = c ? c.services : [];
    $("waiting").innerHTML = served.map(function (sid) {
      var s = service(sid);
      return s ? "<li><span class='prefix'>" + esc(s.prefix) + "</span> " + esc(s.name_vi) +
        " <strong data-service='" + s.id + "'>" + (snap.waiting[String(s.id)] || 0) + "</strong></li>" : "";
    }).join("");
    var next = mine ? mine.next_tickets : [];
    $("next").innerHTML = next.length ? next.map(function (n) {
      return "<li><button type='button' class='linklike' data-call='" + esc(n.code) + "'>" +
        esc(n.code) + "</button> " + esc(n.service.name_vi) + (n.priority ? " · <em>ưu tiên</em>" : "") +
        " · " + esc((n.issued_at || "").slice(11, 16)) + "</li>";
    }).join("") : "<li class='muted'>Không có ai đang chờ</li>";
    var f = mine ? mine.mine : null;
    $("mine").innerHTML = f ? "<dt>Đã gọi</dt><dd>" + f.called + "</dd><dt>Đã phục vụ xong</dt><dd>" +
      f.done + "</dd><dt>Vắng mặt</dt><dd>" + f.no_show + "</dd><dt>Thời gian phục vụ TB</dt><dd>" +
      U.clock(f.avg_service_s) + "</dd>" : "";
    tick();
    enable();
    document.dispatchEvent(new CustomEvent("xephang:counter-render"));  // dossier.js follows
  }
  function tick() {
    var c = counter(), t = c && c.current_ticket, el = $("current-elapsed");
    if (!t) { el.textContent = ""; return; }
    var from = t.status === "serving" ? t.started_at : t.last_called_at;
    var label = t.status === "serving" ? "Đã phục vụ " : "Đã gọi ";
    el.textContent = from ? label + U.clock((Date.now() - Date.parse(from)) / 1000) : "";
  }
  setInterval(tick, 1000);

  // The buttons acting on the current ticket take the API's action names; the others
  // (call next, call a ticket by its code, pause, close) act on the counter.
  function allowed(action, t) {
    if (RULES.ticket_actions.indexOf(action) === -1) return true;
    return !!t && RULES.needs[action].indexOf(t.status) !== -1;
  }
  function enable() {
    var c = counter(), t = c && c.current_ticket;
    document.body.dataset.busy = busy ? "1" : "";
    document.querySelectorAll("[data-action]").forEach(function (b) {
      b.disabled = busy || !c || !allowed(b.dataset.action, t);
    });
  }

  // --- talking to the server -----------------------------------------------------------------
  function request(path, body) {
    return U.postJson(api + path, body).then(function (r) {
      return r.json().catch(function () { return {ok: false, error: "HTTP " + r.status}; });
    });
  }
  function act(path, body, done) {
    if (busy) return;              // one request at a time: a double press never calls twice
    busy = true; enable();
    request(path, body).then(function (res) {
      if (!res.ok) say(res.error || "Lỗi", true);
      else if (done) done(res);
    }, function () {
      say("Mất kết nối tới máy chủ, thử lại sau / Server unreachable", true);
    }).then(function () { busy = false; enable(); if (live) live.resync(); refreshCounter(); });
  }
  function currentTicket() { var c = counter(); return c && c.current_ticket; }

  var actions = {
    "call-next": function () {
      act("counters/" + counterId + "/call-next", {}, function (res) {
        say(res.ticket ? "Đã gọi số " + res.ticket.code : "Không còn ai đang chờ / Nobody waiting");
      });
    },
    recall: function () { ticketAct("recall"); },
    start: function () { ticketAct("start"); },
    "no-show": function () { ticketAct("no-show"); },
    finish: function () { openDialog("dlg-finish"); },
    transfer: function () { fillTransfer(); openDialog("dlg-transfer"); },
    "return": function () { openDialog("dlg-return"); },
    call: function (code) {
      openDialog("dlg-call");
      if (code) { var f = $("dlg-call").querySelector("form"); f.ticket.value = code; f.reason.focus(); }
    },
    pause: function () {
      var c = counter();
      if (c && c.state === "paused") act("counters/" + counterId + "/resume");
      else openDialog("dlg-pause");
    },
    close: function () {
      if (confirm("Đóng quầy? / Close this counter?")) act("counters/" + counterId + "/close");
    }
  };
  function ticketAct(action, body) {
    var t = currentTicket();
    if (t) act("tickets/" + t.id + "/" + action, body);
  }
  var submits = {
    finish: function (f) { ticketAct("finish", {dossier_code: f.dossier_code.value, outcome: f.outcome.value}); },
    transfer: function (f) {
      ticketAct("transfer", {service: f.service.value || null, counter: f.counter.value || null,
                             reason: f.reason.value});
    },
    "return": function (f) { ticketAct("return", {reason: f.reason.value}); },
    call: function (f) {
      act("counters/" + counterId + "/call", {ticket: f.ticket.value.trim(), reason: f.reason.value});
    },
    pause: function (f) { act("counters/" + counterId + "/pause", {reason: f.reason.value}); }
  };
  function fillTransfer() {
    var f = $("dlg-transfer").querySelector("form");
    f.service.innerHTML = "<option value=''>—</option>" + snap.services.map(function (s) {
      return "<option value='" + s.id + "'>" + esc(s.prefix + " — " + s.name_vi) + "</option>";
    }).join("");
    f.counter.innerHTML = "<option value=''>—</option>" + snap.counters.filter(function (c) {
      return c.id !== counterId;
    }).map(function (c) { return "<option value='" + c.id + "'>Quầy " + c.number + "</option>"; }).join("");
  }
  function openDialog(id) {
    var d = $(id), f = d.querySelector("form");
    if (f && f.dataset.submit) f.reset();
    d.showModal();
    var first = d.querySelector("input, select");
    if (first) first.focus();
  }
  document.querySelectorAll("dialog [data-close]").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); });
  });
  document.querySelectorAll("dialog form[data-submit]").forEach(function (f) {
    f.addEventListener("keydown", function (e) {  // Enter confirms from a select list too
      if (e.key === "Enter" && e.target.tagName === "SELECT") {
        e.preventDefault();
        f.requestSubmit(f.querySelector("button.primary"));
      }
    });
    f.addEventListener("submit", function (e) {
      if (e.submitter && e.submitter.value === "cancel") return;
      submits[f.dataset.submit](f);
    });
  });

  // --- choosing the counter ------------------------------------------------------------------
  function chooseCounter() {
    if (!snap) return;
    $("counter-choices").innerHTML = snap.counters.map(function (c) {
      return "<button type='button' class='choice' data-counter='" + c.id + "'>Quầy " + c.number +
        "<small>" + esc(c.services.map(function (s) { var x = service(s); return x ? x.prefix : ""; }).join(" ")) +
        (c.state === "open" ? " · đang mở" : c.state === "paused" ? " · tạm dừng" : "") + "</small></button>";
    }).join("");
    if (!$("dlg-counter").open) $("dlg-counter").showModal();
  }
  $("counter-choices").addEventListener("click", function (e) {
    var b = e.target.closest("[data-counter]");
    if (!b) return;
    var old = counterId;
    counterId = Number(b.dataset.counter);
    localStorage.setItem(storeKey, String(counterId));
    $("dlg-counter").close();
    if (live) {
      if (old && old !== counterId) live.socket.emit("leave", {counter: old});
      live.socket.emit("join", {counter: counterId});
    }
    var c = counter();
    if (c && c.state === "closed") {  // not an officer's action: keys stay live meanwhile
      request("counters/" + counterId + "/open").then(function (res) {
        if (!res.ok) say(res.error || "Lỗi", true);
      }, function () {});
    }
    refreshCounter(); render();
  });

  function refreshCounter() {
    if (!counterId || !live || !live.socket.connected) return;
    clearTimeout(counterTimer);
    counterTimer = setTimeout(function () {
      live.socket.emit("counter_sync", {counter: counterId}, function (ack) {
        if (ack && ack.ok) { mine = ack.counter; render(); }
        else if (ack && ack.status === 404) { localStorage.removeItem(storeKey); counterId = null; chooseCounter(); }
      });
    }, 150);
  }

  // --- keyboard ----------------------------------------------------------------------------
  var KEYS = {n: "call-next", enter: "call-next", r: "recall", s: "start", f: "finish", v: "no-show",
              t: "transfer", b: "return", g: "call", p: "pause", x: "close"};
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    if (document.querySelector("dialog[open]")) return;   // dialogs keep their own keys
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
    var key = e.key.toLowerCase();
    if (e.target.tagName === "BUTTON" && (key === "enter" || key === " ")) return;  // native click
    if (key === "?") { e.preventDefault(); $("dlg-help").showModal(); return; }
    if (key === "q") { e.preventDefault(); chooseCounter(); return; }
    var action = KEYS[key];
    if (!action || !counterId) return;
    var button = document.querySelector('[data-action="' + action + '"]');
    e.preventDefault();
    if (button && !button.disabled) actions[action]();
  });
  document.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", function () { if (!b.disabled) actions[b.dataset.action](); });
  });
  $("next").addEventListener("click", function (e) {
    var b = e.target.closest("[data-call]");
    if (b) actions.call(b.dataset.call);
  });
  $("btn-change").addEventListener("click", chooseCounter);
  $("btn-help").addEventListener("click", function () { $("dlg-help").showModal(); });

  // --- live ----------------------------------------------------------------------------------
  var STATUS = {connecting: "Đang kết nối…", online: "Trực tuyến", offline: "Mất kết nối — đang thử lại…",
                refused: "Phiên hết hạn — hãy tải lại trang"};
  live = XephangLive.connect({
    auth: function () { return counterId ? {counter: counterId} : {}; },
    onStatus: function (s) { $("conn").textContent = STATUS[s] || s; $("conn").dataset.status = s; },
    onState: function (ack) {
      snap = ack.snapshot;
      if (counterId && !counter()) { counterId = null; localStorage.removeItem(storeKey); }
      if (!counterId) chooseCounter();
      render(); refreshCounter();
    },
    onEvent: function (name, ev) {
      if (name !== "queue_event" || !snap) return;
      XephangLive.applyEvent(snap, ev);
      render(); refreshCounter();
    }
  });
  window.xephangCounter = {live: live, state: function () { return {snap: snap, mine: mine, counterId: counterId}; }};
})();
