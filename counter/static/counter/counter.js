/* The counter screen: state from the realtime hub, actions through the JSON API; which
 * action each ticket state allows is the server's table (window.XephangRules).
 *
 * The status banner (#message) says the result of the last action only: it is cleared
 * when an action starts and replaced by that action's result. The last no-show, finish
 * or transfer can be undone (Z) for XephangRules.undo_window_s; the server decides. */
(function () {
  "use strict";
  var U = window.XephangUtil, RULES = window.XephangRules;
  var $ = U.byId, esc = U.esc;
  var app = $("app");
  var officeId = Number(app.dataset.office);
  var me = Number(app.dataset.user);
  var api = app.dataset.api;
  var storeKey = "xephang.counter." + officeId;
  var counterId = Number(localStorage.getItem(storeKey)) || null;
  var snap = null, mine = null, busy = false, live = null, counterTimer = null, expiredOnce = false;
  var undoable = null;    // {ticket, code, at}: the last move that may be undone
  var lastTicket = null;  // {id, code}: the citizen's ticket of the last action (reprint)
  var SHOWN_NO_SHOWS = 4;  // today's latest no-shows listed; the others are counted

  function counter() { return counterById(counterId); }
  function counterById(id) {
    if (!snap) return null;
    for (var i = 0; i < snap.counters.length; i++) if (snap.counters[i].id === id) return snap.counters[i];
    return null;
  }
  function service(id) {
    for (var i = 0; i < snap.services.length; i++) if (snap.services[i].id === id) return snap.services[i];
    return null;
  }
  function heldByOther(c) { return !!(c && c.state !== "closed" && c.officer_id && c.officer_id !== me); }

  function say(text, kind) {
    var m = $("message");
    clearTimeout(say.timer);
    m.textContent = text || "";
    m.hidden = !text;
    m.className = "message" + (kind ? " " + kind : "");
    // a success fades after a while; an error stays until the next action replaces it
    if (text && kind !== "error") say.timer = setTimeout(function () { m.hidden = true; }, 10000);
  }

  // How the citizen came: an appointment shows its booked time, an online number says so.
  function channel(t) {
    if (t.channel === "appointment") {
      return " · <em class='channel'>Lịch hẹn " + esc((t.slot_at || "").slice(11, 16)) + "</em>";
    }
    return t.channel === "online" ? " · <em class='channel'>Trực tuyến</em>" : "";
  }

  // --- rendering ---------------------------------------------------------------------------
  function render() {
    if (!snap) return;
    $("office-name").textContent = snap.office.name;
    var c = counter();
    var named = c && c.name && c.name !== "Quầy " + c.number;
    $("counter-title").textContent = c ? "Quầy số " + c.number + (named ? " — " + c.name : "") : "Chọn quầy";
    var t = c && c.current_ticket, code = $("current-code");
    if (t) {
      code.textContent = t.code;
    } else {
      code.innerHTML = "Chưa gọi ai <small>No one called</small>";
    }
    code.classList.toggle("empty", !t);
    code.dataset.status = t ? t.status : "";
    $("current-info").innerHTML = t
      ? esc(t.service.name_vi) + " · <strong>" + esc(t.status_vi) + "</strong>" +
        (t.priority ? " · Ưu tiên" : "") + channel(t) +
        (t.recalls ? " · đã gọi lại " + t.recalls + " lần" : "")
      : "Nhấn <kbd>N</kbd> để gọi số tiếp theo. <small>Press N to call the next ticket.</small>";
    var state = c ? c.state : "closed";
    var line = $("counter-state");
    if (heldByOther(c)) {
      line.textContent = "Quầy này đang do " + (c.officer || "cán bộ khác") + " phụ trách — nhấn Q để " +
        "chọn quầy khác hoặc nhận lại quầy";
      line.dataset.state = "taken";
    } else {
      line.textContent = !c ? "" : state === "paused"
        ? "Đang tạm dừng: " + (c.pause_reason || "") + " — nhấn P để tiếp tục"
        : state === "closed" ? "Quầy đang đóng — gọi số sẽ mở quầy" : "Quầy đang mở";
      line.dataset.state = state;
    }
    $("btn-pause").firstChild.textContent = state === "paused" ? "Tiếp tục " : "Tạm dừng ";
    var served = c ? c.services : [];
    var away = snap.not_arrived || {};
    $("waiting").innerHTML = served.map(function (sid) {
      var s = service(sid);
      var gone = away[String(sid)] || 0;  // online numbers in line, not checked in yet
      return s ? "<li><span class='prefix'>" + esc(s.prefix) + "</span> <span class='sname'>" + esc(s.name_vi) +
        "</span> <strong data-service='" + s.id + "'>" + (snap.waiting[String(s.id)] || 0) + "</strong>" +
        (gone ? " <small class='not-arrived' data-service='" + s.id + "' title='Số trực tuyến chưa " +
          "xác nhận có mặt: chưa gọi được / Online numbers not checked in yet'>" + gone +
          " chưa đến</small>" : "") + "</li>" : "";
    }).join("");
    var next = mine ? mine.next_tickets : [];
    $("next").innerHTML = next.length ? next.slice(0, 6).map(function (n) {
      // an online number not checked in yet cannot be called: staff check it in instead
      var act = n.awaiting_checkin
        ? esc(n.code) + " <button type='button' class='linklike' data-checkin='" + esc(n.code) +
          "'>Xác nhận có mặt</button>"
        : "<button type='button' class='linklike' data-call='" + esc(n.code) + "'>" + esc(n.code) + "</button>";
      return "<li" + (n.awaiting_checkin ? " class='not-arrived'" : "") + ">" + act + " " +
        esc(n.service.name_vi) + (n.priority ? " · <em>ưu tiên</em>" : "") + channel(n) +
        (n.awaiting_checkin ? " · <em class='away'>chưa xác nhận có mặt</em>" : "") +
        " · " + esc((n.issued_at || "").slice(11, 16)) + "</li>";
    }).join("") : "<li class='muted'>Không có ai đang chờ</li>";
    var gone = mine && mine.no_shows ? mine.no_shows : [];
    $("no-shows").innerHTML = gone.length ? gone.slice(0, SHOWN_NO_SHOWS).map(function (n) {
      return "<li><b>" + esc(n.code) + "</b> · " + esc((n.finished_at || "").slice(11, 16)) +
        " <button type='button' class='linklike' data-call='" + esc(n.code) + "'>Gọi lại</button>" +
        " <button type='button' class='linklike' data-return='" + n.id + "' data-code='" + esc(n.code) +
        "'>Trả về hàng chờ</button></li>";
    }).join("") : "<li class='muted'>Không có</li>";
    var more = mine ? Math.max(0, (mine.no_show_count || 0) - Math.min(gone.length, SHOWN_NO_SHOWS)) : 0;
    $("no-shows-more").hidden = !more;
    $("no-shows-more").textContent = more ? "Còn " + more + " số vắng mặt khác: nhấn G và nhập số để gọi lại" +
      " / " + more + " more: G and the number to call one back" : "";
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
    if (!t) { el.textContent = ""; } else {
      var from = t.status === "serving" ? t.started_at : t.last_called_at;
      var label = t.status === "serving" ? "Đã phục vụ " : "Đã gọi ";
      el.textContent = from ? label + U.clock((Date.now() - Date.parse(from)) / 1000) : "";
    }
    var open = undoOpen();
    var undo = $("btn-undo");
    if (undo.disabled === open && !busy && c && !heldByOther(c)) enable();
    undo.title = open ? "Hoàn tác " + undoable.code + " (còn " + undoLeft() + " giây)" : "";
  }
  setInterval(tick, 1000);

  function undoLeft() {
    return undoable ? Math.max(0, Math.ceil(RULES.undo_window_s - (Date.now() - undoable.at) / 1000)) : 0;
  }
  function undoOpen() { return !!undoable && undoLeft() > 0; }
  function reprintTarget() {
    var c = counter(), t = c && c.current_ticket;
    return t ? {id: t.id, code: t.code} : lastTicket;
  }

  // The buttons acting on the current ticket take the API's action names; the others
  // (call next, call a ticket by its code, pause, close, undo, reprint) act otherwise.
  // A counter calls only when it holds nobody (the engine's rule too): call-next and call
  // wait for the current ticket's finish or no-show.
  var CALLS = ["call-next", "call"];
  function holding(t) { return !!t && RULES.states[t.status].at_counter; }
  function allowed(action, t) {
    if (action === "undo-last") return undoOpen();
    if (action === "reprint") return !!reprintTarget();
    if (CALLS.indexOf(action) !== -1) return !holding(t);
    if (RULES.ticket_actions.indexOf(action) === -1) return true;
    return !!t && RULES.needs[action].indexOf(t.status) !== -1;
  }
  function enable() {
    var c = counter(), t = c && c.current_ticket;
    document.body.dataset.busy = busy ? "1" : "";
    document.querySelectorAll("[data-action]").forEach(function (b) {
      b.disabled = busy || !c || heldByOther(c) || !allowed(b.dataset.action, t);
      if (CALLS.indexOf(b.dataset.action) !== -1) {
        b.title = holding(t) ? "Quầy đang giữ số " + t.code + ": " + whatEnds(t) : "";
      }
    });
    runPending();
  }

  // A shortcut pressed while a move is on its way to the server, or while the counter's
  // state that follows its answer is still arriving, is kept (the last one) and acts as
  // soon as its button is enabled: "N" then "S" typed quickly call and start. It is
  // dropped when that state leaves its button disabled, after PENDING_MS, or when it is
  // the key of the move on its way: a double press never calls twice.
  var PENDING_MS = 10000, pending = null, running = null, settling = false;
  function run(action) { running = action; actions[action](); }
  function keep(action) {
    if ((busy || settling) && action !== running) pending = {action: action, at: Date.now()};
  }
  function runPending() {
    var p = pending;
    if (!p || busy) return;
    if (Date.now() - p.at > PENDING_MS) { pending = null; return; }
    var button = document.querySelector('[data-action="' + p.action + '"]');
    if (!button || button.disabled || document.querySelector("dialog[open]")) return;
    pending = null;
    setTimeout(function () { run(p.action); }, 0);
  }

  // --- talking to the server -----------------------------------------------------------------
  function request(path, body, base) {
    return U.postJson((base || api) + path, body).then(function (r) {
      if (r.status === 401) { expired(); }
      return r.json().catch(function () { return {ok: false, error: "HTTP " + r.status}; });
    });
  }
  // An ended session (expired, logged out elsewhere): say so and go to the login form, which
  // comes back here; the counter is remembered on this machine.
  function expired() {
    if (expiredOnce) return;
    expiredOnce = true;
    busy = true; enable();
    $("conn").textContent = "Phiên đăng nhập đã hết hạn";
    $("conn").dataset.status = "expired";
    say("Phiên đăng nhập đã hết hạn — đang mở trang đăng nhập… / Session expired", "error");
    window.removeEventListener("beforeunload", warnLeaving);
    setTimeout(function () { window.location.assign(app.dataset.login); }, 1500);
  }
  function checkSession() {
    fetch(api + "offices", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { if (r.status === 401) expired(); }, function () {});
  }
  setInterval(checkSession, 60000);

  function act(path, body, done, base) {
    if (busy) return;              // one request at a time: a double press never calls twice
    busy = true; say(""); enable();
    request(path, body, base).then(function (res) {
      if (!res.ok) say(res.error || "Lỗi", "error");
      else if (done) done(res);
    }, function () {
      say("Mất kết nối tới máy chủ, thử lại sau / Server unreachable", "error");
    }).then(function () {
      busy = false;
      settling = !!(counterId && live && live.socket.connected);  // refreshCounter's state
      enable();
      if (live) live.resync();
      refreshCounter();
    });
  }
  // The next tickets and today's no-shows come with the counter's own state, asked a
  // moment after each change (refreshCounter): a ticket that left either list (called,
  // here or at another counter; a no-show undone or sent back to the line) leaves it
  // with the move's answer or event, whichever comes first, not with that state.
  function leftItsLists(t) {
    if (!mine) return;
    var other = function (n) { return n.id !== t.id; };
    if (t.status !== "waiting" && mine.next_tickets) mine.next_tickets = mine.next_tickets.filter(other);
    if (t.status !== "no_show" && mine.no_shows) {
      var before = mine.no_shows.length;
      mine.no_shows = mine.no_shows.filter(other);
      mine.no_show_count -= before - mine.no_shows.length;
    }
  }
  function currentTicket() { var c = counter(); return c && c.current_ticket; }

  function moved(res, text, canUndo) {  // a move done: remember it for undo and reprint
    var t = res.ticket, c = counter();
    undoable = canUndo ? {ticket: (res.from_ticket || t).id, code: (res.from_ticket || t).code, at: Date.now()} : null;
    lastTicket = t ? {id: t.id, code: t.code} : lastTicket;
    // The answer's ticket is the counter's from now, not once the refreshed state arrives:
    // a called or served ticket is its current one (S, F, V, R act on it at once), and a
    // finish, no-show or transfer frees it (a reprint pressed in between is of the
    // citizen's new ticket, not the old one). The state that follows confirms it.
    if (c && t) c.current_ticket = t.status === "called" || t.status === "serving" ? t : null;
    if (t) leftItsLists(t);
    render();
    say(text + (canUndo ? " — nhấn Z để hoàn tác trong " + RULES.undo_window_s + " giây" : ""), "ok");
  }

  // Call-next found nobody to call: say whether online numbers still hold places in line
  // (they are called once they check in).
  function nobodyHere() {
    var c = counter(), away = (snap && snap.not_arrived) || {}, n = 0;
    (c ? c.services : []).forEach(function (sid) { n += away[String(sid)] || 0; });
    return n
      ? "Không còn ai có mặt đang chờ; " + n + " số trực tuyến chưa xác nhận có mặt" +
        " / Nobody here waiting; " + n + " online number(s) not checked in yet"
      : "Không còn ai đang chờ / Nobody waiting";
  }

  var actions = {
    "call-next": function () {
      act("counters/" + counterId + "/call-next", {}, function (res) {
        if (res.ticket) moved(res, "Đã gọi số " + res.ticket.code, false);
        else { undoable = null; say(nobodyHere(), "ok"); }
      });
    },
    recall: function () {
      ticketAct("recall", {}, function (res) {
        moved(res, "Đã gọi lại số " + res.ticket.code + " (lần " + (res.ticket.recalls + 1) + ")", false);
      });
    },
    start: function () {
      ticketAct("start", {}, function (res) { moved(res, "Bắt đầu phục vụ số " + res.ticket.code, false); });
    },
    "no-show": function () {
      var t = currentTicket();
      if (!t) return;
      $("noshow-text").textContent = "Số " + t.code + " (" + t.service.name_vi + ") không có mặt?";
      openDialog("dlg-noshow");
    },
    finish: function () { openDialog("dlg-finish"); },
    transfer: function () { fillTransfer(); openDialog("dlg-transfer"); },
    "return": function (id, code) {
      var t = currentTicket(), f = $("dlg-return").querySelector("form");
      openDialog("dlg-return");
      f.ticket.value = id || (t ? t.id : "");
      $("return-what").textContent = id
        ? "Số vắng mặt " + code + " trở lại đúng chỗ cũ trong hàng chờ (cần lý do)."
        : t ? "Số " + t.code + " về cuối hàng chờ của dịch vụ." : "";
      f.reason.required = !!id;
    },
    call: function (code) {
      openDialog("dlg-call");
      if (code) { var f = $("dlg-call").querySelector("form"); f.ticket.value = code; f.reason.focus(); }
    },
    "undo-last": function () {
      if (!undoOpen()) return;
      var u = undoable;
      act("tickets/" + u.ticket + "/undo", {}, function (res) {  // back at this counter
        moved(res, "Đã hoàn tác: số " + res.ticket.code + " trở lại quầy (" + res.ticket.status_vi + ")", false);
      });
    },
    reprint: function () {
      var target = reprintTarget();
      if (!target) return;
      act(target.id + "/print", {counter: counterId}, function (res) {
        say("Đã gửi lệnh in lại phiếu " + res.code + " / Reprint queued", "ok");
      }, app.dataset.reprint);
    },
    pause: function () {
      var c = counter();
      if (c && c.state === "paused") {
        act("counters/" + counterId + "/resume", {}, function () {
          say("Quầy " + c.number + " tiếp tục nhận số / Resumed", "ok");
        });
      } else openDialog("dlg-pause");
    },
    close: function () {
      var c = counter();
      if (confirm("Đóng quầy? / Close this counter?")) {
        act("counters/" + counterId + "/close", {}, function () {
          undoable = null;
          say("Đã đóng quầy " + (c ? c.number : "") + " / Counter closed", "ok");
        });
      }
    }
  };
  function ticketAct(action, body, done, ticketId) {
    var t = currentTicket();
    var id = ticketId || (t && t.id);
    if (id) act("tickets/" + id + "/" + action, body, done);
  }
  var submits = {
    finish: function (f) {
      ticketAct("finish", {dossier_code: f.dossier_code.value, outcome: f.outcome.value}, function (res) {
        moved(res, "Đã kết thúc số " + res.ticket.code, true);
      });
    },
    "no-show": function () {
      ticketAct("no-show", {}, function (res) { moved(res, "Số " + res.ticket.code + " vắng mặt", true); });
    },
    transfer: function (f) {
      ticketAct("transfer", {service: f.service.value || null, counter: f.counter.value || null,
                             reason: f.reason.value}, function (res) {
        moved(res, "Đã chuyển số " + res.from_ticket.code + " thành số " + res.ticket.code + " (" +
              res.ticket.service.name_vi + ")", true);
      });
    },
    "return": function (f) {
      ticketAct("return", {reason: f.reason.value}, function (res) {
        moved(res, "Đã trả số " + res.ticket.code + " về hàng chờ", false);
      }, Number(f.ticket.value) || null);
    },
    call: function (f) {
      act("counters/" + counterId + "/call", {ticket: f.ticket.value.trim(), reason: f.reason.value},
        function (res) { moved(res, "Đã gọi số " + res.ticket.code + " (ngoài thứ tự)", false); });
    },
    pause: function (f) {
      act("counters/" + counterId + "/pause", {reason: f.reason.value}, function () {
        undoable = null;
        say("Quầy tạm dừng: " + f.reason.value + " / Paused", "ok");
      });
    },
    takeover: function (f) { takeOver(Number(f.counter.value)); }
  };
  function fillTransfer() {
    var f = $("dlg-transfer").querySelector("form"), t = currentTicket();
    var own = t ? t.service.id : null;
    f.service.innerHTML = "<option value=''>—</option>" + snap.services.filter(function (s) {
      return s.id !== own;  // a transfer goes somewhere else
    }).map(function (s) {
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
    var first = d.querySelector("input:not([type=hidden]), select");
    if (first) first.focus(); else if (d.querySelector("button.primary")) d.querySelector("button.primary").focus();
  }
  document.querySelectorAll("dialog [data-close]").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); });
  });
  // A closed dialog may still hold the focus for a moment (until the browser's next
  // rendering): its keys and submits then are not its own (V right after Esc in the no-show
  // dialog marked the citizen absent without asking).
  function isOpen(f) { return f.closest("dialog").open; }
  document.querySelectorAll("dialog form[data-submit]").forEach(function (f) {
    f.addEventListener("keydown", function (e) {  // Enter confirms from a select list too
      if (e.key === "Enter" && e.target.tagName === "SELECT" && isOpen(f)) {
        e.preventDefault();
        f.requestSubmit(f.querySelector("button.primary"));
      }
    });
    f.addEventListener("submit", function (e) {
      if (!isOpen(f)) { e.preventDefault(); return; }
      if (e.submitter && e.submitter.value === "cancel") return;
      submits[f.dataset.submit](f);
    });
  });
  // V confirms a no-show in its dialog, as Enter does
  $("dlg-noshow").addEventListener("keydown", function (e) {
    if (e.key.toLowerCase() === "v" && !e.ctrlKey && !e.altKey && !e.metaKey && $("dlg-noshow").open) {
      e.preventDefault();
      var f = $("dlg-noshow").querySelector("form");
      f.requestSubmit(f.querySelector("button.primary"));
    }
  });

  // --- choosing the counter ------------------------------------------------------------------
  function leaveOk() {  // leaving a counter that holds a citizen: say so first
    var t = currentTicket();
    if (!t) return true;
    return confirm("Quầy đang " + (t.status === "serving" ? "phục vụ" : "gọi") + " số " + t.code +
                   ". Rời quầy khi chưa kết thúc? / A citizen is still at this counter. Leave anyway?");
  }
  function chooseCounter() {
    if (!snap) return;
    if ($("dlg-counter").open) return;
    if (!leaveOk()) return;
    $("counter-choices").innerHTML = snap.counters.map(function (c) {
      var who = c.state !== "closed" && c.officer_id ? (c.officer_id === me ? "bạn" : c.officer || "cán bộ khác") : "";
      return "<button type='button' class='choice" + (heldByOther(c) ? " taken" : "") + "' data-counter='" + c.id +
        "'>Quầy " + c.number + "<small>" +
        esc(c.services.map(function (s) { var x = service(s); return x ? x.prefix : ""; }).join(" ")) +
        (c.state === "open" ? " · đang mở" : c.state === "paused" ? " · tạm dừng" : "") + "</small>" +
        (who ? "<small class='who'>" + (heldByOther(c) ? "Đang do " : "") + esc(who) +
               (heldByOther(c) ? " phụ trách" : " đang phụ trách") + "</small>" : "") + "</button>";
    }).join("");
    $("dlg-counter").showModal();
  }
  $("counter-choices").addEventListener("click", function (e) {
    var b = e.target.closest("[data-counter]");
    if (!b) return;
    var c = counterById(Number(b.dataset.counter));
    if (heldByOther(c)) {
      var f = $("dlg-takeover").querySelector("form");
      $("takeover-text").textContent = "Quầy " + c.number + " đang do " + (c.officer || "cán bộ khác") +
        " phụ trách (" + (c.state === "paused" ? "tạm dừng" : "đang mở") + "). Bạn nhận quầy này?";
      $("dlg-counter").close();
      openDialog("dlg-takeover");
      f.counter.value = c.id;
      return;
    }
    select(c.id);
    if (c && c.state === "closed") {  // not an officer's action: keys stay live meanwhile
      request("counters/" + counterId + "/open", {}).then(function (res) {
        if (!res.ok) say(res.error || "Lỗi", "error");
      }, function () {});
    }
  });
  function select(id) {
    var old = counterId;
    counterId = id;
    localStorage.setItem(storeKey, String(counterId));
    if ($("dlg-counter").open) $("dlg-counter").close();
    if (old !== counterId) { undoable = null; lastTicket = null; }
    if (live) {
      if (old && old !== counterId) live.socket.emit("leave", {counter: old});
      live.socket.emit("join", {counter: counterId});
    }
    refreshCounter(); render();
  }
  function takeOver(id) {
    act("counters/" + id + "/open", {takeover: true}, function (res) {
      select(id);
      say("Bạn đã nhận quầy " + res.counter.number + " / Counter taken over", "ok");
    });
  }
  $("dlg-takeover").addEventListener("close", function () {
    if (!counterId && $("dlg-takeover").returnValue !== "ok") chooseCounter();
  });

  function refreshCounter() {
    if (!counterId || !live || !live.socket.connected) return;
    clearTimeout(counterTimer);
    counterTimer = setTimeout(function () {
      var afterMove = settling;  // asked after a move's answer: the state that follows it
      live.socket.emit("counter_sync", {counter: counterId}, function (ack) {
        if (afterMove) settling = false;
        if (ack && ack.ok) { mine = ack.counter; render(); }
        else if (ack && ack.status === 404) { localStorage.removeItem(storeKey); counterId = null; chooseCounter(); }
        if (afterMove && !busy && pending) {  // that state is here: a key it did not enable goes
          if (CALLS.indexOf(pending.action) !== -1 && holding(currentTicket())) stillHolding();
          pending = null;
        }
      });
    }, 150);
  }

  // --- leaving ---------------------------------------------------------------------------------
  function warnLeaving(e) {
    if (currentTicket()) { e.preventDefault(); e.returnValue = ""; }
  }
  window.addEventListener("beforeunload", warnLeaving);
  $("logout").addEventListener("submit", function (e) {
    if (!leaveOk()) { e.preventDefault(); return; }
    window.removeEventListener("beforeunload", warnLeaving);
  });

  // --- keyboard (keys.js: which keys are the page's, and scans) -------------------------------
  var KEYS = {n: "call-next", enter: "call-next", r: "recall", s: "start", f: "finish", v: "no-show",
              t: "transfer", b: "return", g: "call", p: "pause", x: "close", z: "undo-last", i: "reprint"};
  function isShortcut(key) { return key === "?" || key === "q" || key in KEYS; }
  function shortcut(raw) {
    var key = raw.toLowerCase();
    if (key === "?") { $("dlg-help").showModal(); return; }
    if (key === "q") { chooseCounter(); return; }
    var action = KEYS[key];
    if (!action || !counterId || document.querySelector("dialog[open]")) return;
    var button = document.querySelector('[data-action="' + action + '"]');
    if (!button) return;
    if (!button.disabled) run(action);
    else if (busy || settling) keep(action);
    else if (CALLS.indexOf(action) !== -1 && holding(currentTicket())) stillHolding();
  }
  function stillHolding() {
    var t = currentTicket();
    say("Quầy đang giữ số " + t.code + ": " + whatEnds(t) + ", rồi gọi số tiếp / " +
        (t.status === "serving" ? "Finish (F) " : "Start (S) or mark no-show (V) ") + t.code + " first", "error");
  }
  function whatEnds(t) {  // the moves that free the counter, from the ticket's state
    return t.status === "serving" ? "nhấn F khi phục vụ xong" : "nhấn S để bắt đầu phục vụ hoặc V nếu vắng mặt";
  }
  XephangKeys.listen({
    isShortcut: isShortcut,
    shortcut: shortcut,
    scanned: function (text, ended) {  // what a scanner typed goes to the check-in field
      $("checkin-text").value = text;
      $("checkin-text").focus();
      if (ended) checkIn(text);
    },
    ctrl: ["z"]  // Ctrl+Z undoes too
  });
  document.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", function () { if (!b.disabled) run(b.dataset.action); });
  });
  // Staff check a citizen in: a booking (its code, or a scan of its QR or of a CCCD), or an
  // online number that must check in (its code A023, or its QR).
  function checkIn(text) {
    if (!text || busy) return;
    busy = true;
    U.postJson(api + "checkins", {text: text, office: snap ? snap.office.id : null})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (!res.ok) { say(res.error || "Lỗi", "error"); return; }
        $("checkin-text").value = "";
        if (res.kind === "online") {
          say("Đã xác nhận có mặt: số " + res.ticket.code + " (giữ nguyên vị trí trong hàng chờ)", "ok");
          return;
        }
        say("Đã xác nhận lịch hẹn " + res.appointment.code + ": số " + res.ticket.code +
            (res.on_time ? " (đúng giờ hẹn)" : " (đến trễ, xếp như người mới đến)"), "ok");
      }, function () { say("Mất kết nối tới máy chủ, thử lại sau / Server unreachable", "error"); })
      .then(function () { busy = false; if (live) live.resync(); refreshCounter(); });
  }
  $("checkin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    checkIn($("checkin-text").value.trim());
  });
  ["next", "no-shows"].forEach(function (id) {
    $(id).addEventListener("click", function (e) {
      var b = e.target.closest("[data-call], [data-return], [data-checkin]");
      if (!b || busy) return;
      if (b.dataset.checkin) checkIn(b.dataset.checkin);
      else if (b.dataset.call && holding(currentTicket())) stillHolding();
      else if (b.dataset.call) actions.call(b.dataset.call);
      else actions["return"](Number(b.dataset["return"]), b.dataset.code);
    });
  });
  $("btn-change").addEventListener("click", chooseCounter);
  $("btn-help").addEventListener("click", function () { $("dlg-help").showModal(); });

  // --- live ----------------------------------------------------------------------------------
  var STATUS = {connecting: "Đang kết nối…", online: "Trực tuyến", offline: "Mất kết nối — đang thử lại…",
                refused: "Phiên hết hạn — hãy tải lại trang"};
  live = XephangLive.connect({
    auth: function () { return counterId ? {counter: counterId} : {}; },
    onStatus: function (s) {
      if (expiredOnce) return;
      $("conn").textContent = STATUS[s] || s; $("conn").dataset.status = s;
      if (s === "refused") checkSession();  // refused: most often the session has ended
    },
    onState: function (ack) {
      snap = ack.snapshot;
      if (counterId && !counter()) { counterId = null; localStorage.removeItem(storeKey); }
      if (!counterId) chooseCounter();
      render(); refreshCounter();
    },
    onEvent: function (name, ev) {
      if (name !== "queue_event" || !snap) return;
      XephangLive.applyEvent(snap, ev);
      if (ev.ticket) leftItsLists(ev.ticket);
      if (ev.type === "counter_opened" && ev.counter_id === counterId && snap.counters) live.resync();  // a takeover
      render(); refreshCounter();
    }
  });
  window.xephangCounter = {live: live, state: function () {
    return {snap: snap, mine: mine, counterId: counterId, undoable: undoable};
  }};
})();
