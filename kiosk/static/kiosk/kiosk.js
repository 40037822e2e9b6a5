// The kiosk screen: choose a service (optionally a priority group), show the ticket,
// follow its printing, offer "Hủy số này" for a few seconds (a mis-tap) and the optional
// phone step (SMS/Zalo, with consent), go back to the start (in Vietnamese) by itself,
// and when idle whatever is on screen. Closed, it says until when. No library, no
// network but the app.
(function () {
  "use strict";
  var U = window.XephangUtil;
  var $ = U.byId;
  var config = U.pageData("kiosk-config");
  var body = document.body;
  var screens = ["start", "priority", "ticket", "closed", "phone"].filter(function (s) { return $(s); });
  var state = { priority: null, open: $("closed").hidden, resetTimer: null, countdown: null,
                printTimer: null, busy: false, cancelTimer: null, ticket: null, idleTimer: null,
                ticketId: null, phone: "" };

  var MESSAGES = {
    daily_cap: ["Đã hết số hôm nay cho dịch vụ này", "No more tickets today for this service"],
    office_closed: ["Ngoài giờ làm việc, chưa thể lấy số", "The office is closed now"],
    rate_limited: ["Kiosk đang quá tải, vui lòng đợi một lát rồi thử lại",
                   "Too many tickets from this kiosk, please wait a moment"],
    forbidden: ["Kiosk chưa được kết nối, vui lòng liên hệ cán bộ",
                "This kiosk is not paired, please ask staff"],
    not_authenticated: ["Kiosk chưa được kết nối, vui lòng liên hệ cán bộ",
                        "This kiosk is not paired, please ask staff"],
    network: ["Mất kết nối tới máy chủ, vui lòng thử lại hoặc liên hệ cán bộ",
              "Cannot reach the server, please try again or ask staff"],
    other: ["Có lỗi xảy ra, vui lòng thử lại", "Something went wrong, please try again"]
  };
  var DAYS_CLOSED = ["Nghỉ", "Closed"];
  var PRINT = {
    queued: ["Đang in vé…", "Printing your ticket…"],
    done: ["Mời nhận vé in bên dưới", "Please take your printed ticket below"],
    failed: ["Máy in lỗi — vui lòng chụp mã QR", "Printer error — please take a photo of the QR code"],
    none: ["Vui lòng chụp mã QR hoặc ghi nhớ số thứ tự", "Please photograph the QR code or note your number"]
  };

  function show(name) {
    screens.forEach(function (s) { $(s).hidden = s !== name; });
    $("message").hidden = true;
  }

  function bilingual(el, pair) {
    el.innerHTML = "";
    [["vi", pair[0]], ["en", pair[1]]].forEach(function (p) {
      var span = document.createElement("span");
      span.className = p[0];
      span.textContent = p[1];
      el.appendChild(span);
    });
  }

  function message(pair) {
    $("message-vi").textContent = pair[0];
    $("message-en").textContent = pair[1];
    $("message").hidden = false;
    scheduleReset(config.resetS);
  }

  function setLang(lang) {
    body.classList.toggle("lang-en", lang === "en");
    body.classList.toggle("lang-vi", lang !== "en");
    document.documentElement.lang = lang;
  }

  function clearTimers() {
    clearTimeout(state.resetTimer);
    clearInterval(state.countdown);
    clearTimeout(state.printTimer);
    clearInterval(state.cancelTimer);
    state.printTimer = null;
    $("t-cancel").hidden = true;
  }

  function reset() {
    clearTimers();
    state.priority = null;
    clearPhone();  // the next citizen must never see this one's number
    state.ticket = null;
    $("priority-banner").hidden = true;
    $("t-countdown").textContent = "";
    setLang("vi");
    show(state.open ? "start" : "closed");
    window.scrollTo(0, 0);
  }

  function scheduleReset(seconds) {
    clearTimeout(state.resetTimer);
    clearInterval(state.countdown);
    var left = seconds;
    $("t-countdown").textContent = "(" + left + ")";
    state.countdown = setInterval(function () {
      left -= 1;
      $("t-countdown").textContent = left > 0 ? "(" + left + ")" : "";
    }, 1000);
    state.resetTimer = setTimeout(reset, seconds * 1000);
  }

  function showTicket(data) {
    var t = data.ticket;
    $("t-code").textContent = t.code;
    bilingual($("t-service"), [t.service.name_vi, t.service.name_en || t.service.name_vi]);
    $("t-priority").hidden = !t.priority_vi;
    $("t-priority").textContent = t.priority_vi ? "Ưu tiên: " + t.priority_vi : "";
    $("t-ahead").textContent = t.people_ahead === null ? "—" : t.people_ahead;
    // The wait as the server words it (the receipt prints the same): an estimate, that
    // no counter serves the service now, or nothing while estimates are not yet reliable.
    var w = t.wait || {kind: "none", vi: "", en: ""};
    bilingual($("t-wait"), [w.vi, w.en]);
    $("t-wait-row").hidden = w.kind !== "estimate";
    bilingual($("t-nocounter"), [w.vi, w.en]);
    $("t-nocounter").hidden = w.kind !== "no_counter";
    $("t-qr").src = t.qr_url;
    state.ticket = t;
    state.ticketId = t.id;
    if ($("t-phone")) { $("t-phone").hidden = false; $("t-phone-done").hidden = true; }
    show("ticket");
    printState(data.print.state);
    scheduleReset(Math.max(config.resetS, config.cancelS));
    offerCancel();
    if (data.print.id) { followPrint(data.print.id, Date.now()); }
  }

  // "Hủy số này": for config.cancelS seconds after issue the citizen may take it back.
  function offerCancel() {
    if (!config.cancelS) { return; }
    var left = config.cancelS;
    $("t-cancel").hidden = false;
    $("t-cancel-left").textContent = "(" + left + ")";
    clearInterval(state.cancelTimer);
    state.cancelTimer = setInterval(function () {
      left -= 1;
      $("t-cancel-left").textContent = "(" + left + ")";
      if (left <= 0) { clearInterval(state.cancelTimer); $("t-cancel").hidden = true; }
    }, 1000);
  }

  function cancelTicket() {
    var t = state.ticket;
    if (!t || state.busy) { return; }
    state.busy = true;
    clearInterval(state.cancelTimer);
    $("t-cancel").hidden = true;
    U.postJson(config.cancelUrl + t.id + "/cancel", {}).then(function (r) {
      return r.json().catch(function () { return { ok: false }; });
    }).then(function (data) {
      clearTimeout(state.printTimer);
      if (data.ok) {
        message(["Đã hủy số " + t.code + ". Xin mời chọn lại dịch vụ.",
                 "Number " + t.code + " is cancelled. Please choose again."]);
        $("message").dataset.kind = "cancelled";
      } else {
        message([data.error || MESSAGES.other[0], MESSAGES.other[1]]);
      }
    }).catch(function () {
      message(MESSAGES.network);
    }).then(function () { state.busy = false; state.ticket = null; });
  }

  function renderClosed(c) {  // why the kiosk is closed and when it opens again
    if (!c) { return; }
    var title = $("closed-title");
    title.innerHTML = "";
    bilingual(title, c.holiday !== null && c.holiday !== undefined
      ? ["Hôm nay nghỉ lễ" + (c.holiday ? ": " + c.holiday : ""), "Closed today (holiday)"]
      : ["Ngoài giờ làm việc", "The office is closed"]);
    bilingual($("closed-next"), [c.next_vi || "", c.next_en || ""]);
    var table = $("closed-hours");
    if (!table) { return; }
    Array.prototype.forEach.call(table.querySelectorAll("tr"), function (row, i) {
      var d = c.week[i];
      if (!d) { return; }
      row.className = d.today ? "today" : "";
      var cell = row.querySelector("td");
      if (d.spans.length) { cell.textContent = d.spans.join(", "); } else { bilingual(cell, DAYS_CLOSED); }
    });
  }

  function printState(s) {
    var key = s === "done" || s === "failed" || s === "none" ? s : "queued";
    $("t-print").dataset.state = key;
    bilingual($("t-print"), PRINT[key]);
    if (key === "failed" || key === "none") {
      scheduleReset(config.resetS * 2);  // more time to photograph the QR code
    }
  }

  // Poll the job until it is printed; past the bound, tell the citizen to use the QR code
  // (and keep polling quietly in case it prints after all).
  function followPrint(jobId, started) {
    var tick = function () {
      fetch(config.printUrl + jobId, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if ($("ticket").hidden) { return; }
          var s = data.job ? data.job.state : "failed";
          var late = Date.now() - started > config.printWaitMs;
          if (s === "done" || s === "failed") {
            printState(s);
            return;
          }
          if (late && $("t-print").dataset.state === "queued") { printState("failed"); }
          state.printTimer = setTimeout(tick, late ? 1000 : 150);
        })
        .catch(function () {
          if (!$("ticket").hidden) { printState("failed"); }
        });
    };
    state.printTimer = setTimeout(tick, 100);
  }

  function issue(serviceId) {
    if (state.busy) { return; }
    state.busy = true;
    $("busy").hidden = false;
    var payload = { service: serviceId };
    if (state.priority) { payload.priority = state.priority; }
    var abort = window.AbortController ? new AbortController() : null;
    var giveUp = setTimeout(function () { if (abort) { abort.abort(); } }, 8000);
    U.postJson(config.issueUrl, payload, { signal: abort ? abort.signal : undefined }).then(function (r) {
      return r.json().catch(function () { return { ok: false, code: "other" }; });
    }).then(function (data) {
      if (data.ok) {
        showTicket(data);
      } else {
        if (data.code === "office_closed") { state.open = false; }
        message(MESSAGES[data.code] || [data.error || MESSAGES.other[0], MESSAGES.other[1]]);
        if (data.code === "daily_cap") { refreshState(); }
      }
    }).catch(function () {
      message(MESSAGES.network);
    }).then(function () {
      clearTimeout(giveUp);
      state.busy = false;
      $("busy").hidden = true;
    });
  }

  // --- the optional phone step after the ticket (only where SMS or Zalo is set up) ------
  function clearPhone() {
    state.phone = "";
    if (!$("phone")) { return; }
    $("p-number").textContent = "";
    $("p-consent").checked = false;
    $("p-error").hidden = true;
    $("p-send").disabled = true;
  }

  function phoneReady() {
    $("p-number").textContent = state.phone.replace(/^(\d{4})(\d{0,3})(\d{0,4}).*$/, "$1 $2 $3").trim();
    $("p-send").disabled = !($("p-consent").checked && state.phone.length >= 10);
  }

  function openPhone() {
    clearPhone();
    show("phone");
    scheduleReset(config.resetS * 6);
  }

  function sendPhone() {
    if (!$("p-consent").checked) { return; }
    $("p-send").disabled = true;
    var lang = body.classList.contains("lang-en") ? "en" : "vi";
    U.postJson(config.notifyUrl + state.ticketId + "/notify",
               {phone: state.phone, consent: true, lang: lang}).then(function (r) {
      return r.json().catch(function () { return {ok: false}; });
    }).then(function (data) {
      if (!data.ok) {
        $("p-error").textContent = data.error || MESSAGES.other[0];
        $("p-error").hidden = false;
        phoneReady();
        return;
      }
      clearPhone();
      show("ticket");
      $("t-phone").hidden = true;
      $("t-phone-done").hidden = false;
      scheduleReset(config.resetS);
    }).catch(function () {
      $("p-error").textContent = MESSAGES.network[0] + " / " + MESSAGES.network[1];
      $("p-error").hidden = false;
      phoneReady();
    });
  }

  function refreshState() {
    fetch(config.stateUrl, { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { window.location.reload(); }
        return r.json();
      })
      .then(function (data) {
        if (!data.ok) { return; }
        var idle = !$("start").hidden || !$("closed").hidden;
        if (data.menu_version !== config.menuVersion && idle) { window.location.reload(); return; }
        state.open = data.open;
        renderClosed(data.closed);
        $("printer-down").hidden = !data.printer || data.printer.state !== "error";
        document.querySelectorAll(".k-service[data-service]").forEach(function (b) {
          var full = data.full.indexOf(Number(b.dataset.service)) !== -1;
          b.disabled = full;
          b.querySelector(".k-full").hidden = !full;
        });
        if (idle) { show(state.open ? "start" : "closed"); }
      })
      .catch(function () { /* server unreachable: keep the screen, try again later */ });
  }

  function tickClock() {
    // The office's time, whatever time zone the kiosk's own clock is set to.
    var now = new Date(), tz = config.timezone;
    var time = now.toLocaleTimeString("vi-VN", {timeZone: tz, hour: "2-digit", minute: "2-digit", hour12: false});
    var date = now.toLocaleDateString("vi-VN", {timeZone: tz, day: "2-digit", month: "2-digit", year: "numeric"});
    $("clock").textContent = time + " · " + date;
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button");
    if (!button) { return; }
    if (button.dataset.service) { issue(Number(button.dataset.service)); return; }
    if (button.dataset.priority) {
      state.priority = button.dataset.priority;
      $("priority-name").textContent = body.classList.contains("lang-en")
        ? button.dataset.nameEn : button.dataset.nameVi;
      $("priority-banner").hidden = false;
      show("start");
      scheduleReset(config.resetS * 3);  // an abandoned priority choice must not linger
      return;
    }
    if (button.id === "priority-open") { show("priority"); scheduleReset(config.resetS * 3); return; }
    if (button.id === "priority-clear") { state.priority = null; $("priority-banner").hidden = true; return; }
    if (button.id === "lang") { setLang(body.classList.contains("lang-en") ? "vi" : "en"); return; }
    if (button.id === "t-phone") { openPhone(); return; }
    if (button.dataset.key) {
      var key = button.dataset.key;
      state.phone = key === "⌫" ? state.phone.slice(0, -1) : (state.phone + key).slice(0, 11);
      $("p-error").hidden = true;
      phoneReady();
      scheduleReset(config.resetS * 6);
      return;
    }
    if (button.id === "p-send") { sendPhone(); return; }
    if (button.id === "p-skip") { clearPhone(); show("ticket"); scheduleReset(config.resetS); return; }
    if (button.id === "t-cancel") { cancelTicket(); return; }
    // data-home, not data-back: forms.js takes data-back to go back in history, which on a
    // kiosk is the pairing page
    if (button.id === "t-done" || button.dataset.home !== undefined) { reset(); }
  });
  document.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  if ($("p-consent")) { $("p-consent").addEventListener("change", phoneReady); }

  // Idle: whatever happened (English chosen, a priority group, a message), the next
  // citizen finds the start screen in Vietnamese.
  function idle() {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(function () {
      if (!state.busy) { reset(); }
      idle();
    }, config.idleS * 1000);
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, idle, { capture: true, passive: true });
  });
  idle();

  tickClock();
  setInterval(tickClock, 15000);
  setInterval(refreshState, 30000);
})();
