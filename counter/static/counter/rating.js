/* The counter's rating tablet. It follows its counter over Socket.IO (the public events of
 * `tablet:<counter>`; after each one it asks `sync` for its state: counter, officer's display
 * name, current ticket, and `pending`, the ticket the counter just finished and nobody has
 * rated), asks the citizen for a level of the office's scale, optional attributes and a
 * comment, sends it once, thanks and goes back to showing the counter. */
(function () {
  "use strict";
  var U = window.XephangUtil;
  var $ = U.byId, esc = U.esc;
  var config = U.pageData("tablet-config");
  var state = config.state;
  var mode = "idle";        // idle | ask | thanks
  var asking = null;        // the pending ticket the citizen is asked about
  var chosen = null, answers = {}, sending = false;
  var dismissed = {};       // tickets left unrated past the reset time: not asked again
  var idleTimer = null, thanksTimer = null, pollTimer = null;
  var THANKS_MS = 5000;

  function show(next) {
    mode = next;
    $("tablet").dataset.mode = next;
    $("idle").hidden = next !== "idle";
    $("ask").hidden = next !== "ask";
    $("thanks").hidden = next !== "thanks";
  }

  function en(text) { return text ? " <span lang='en'>/ " + esc(text) + "</span>" : ""; }

  function renderCounter() {
    var c = state.counter, t = state.ticket;
    $("counter-number").textContent = c.number;
    $("counter-name").textContent = c.name && c.name !== "Quầy " + c.number ? c.name : "";
    $("officer").textContent = state.officer || "";
    $("officer-line").hidden = !state.officer;
    $("code").textContent = t ? t.code : "—";
    $("service").innerHTML = t ? esc(t.service.name_vi) + en(t.service.name_en) : "";
    $("idle-label").hidden = !t;
    $("idle-note").innerHTML = c.state === "closed" ? "Quầy đang đóng" + en("Counter closed")
      : c.state === "paused" ? "Quầy tạm dừng" + en("Counter paused")
      : t ? "" : "Mời công dân có số thứ tự tiếp theo" + en("Next, please");
  }

  function render() {
    renderCounter();
    if (mode === "thanks" || sending) return;
    var p = state.pending;
    if (p && !dismissed[p.ticket_id]) {
      if (mode === "ask" && asking && asking.ticket_id === p.ticket_id) return;
      if (mode === "ask" && chosen !== null) { send(); return; }  // the earlier citizen's choice
      startAsk(p);
    } else if (mode === "ask") {  // rated on the tracker page meanwhile, or too late now
      asking = null;
      clearTimeout(idleTimer);
      show("idle");
    }
  }

  // --- asking ------------------------------------------------------------------------------
  function levelClass(i, n) { return i === n - 1 ? " low" : i === 0 ? "" : " mid"; }

  function startAsk(pending) {
    asking = pending; chosen = null; answers = {};
    $("ask-code").textContent = pending.code;
    $("ask-service").textContent = pending.service.name_vi;
    var n = state.scale.length;
    $("levels").className = "rt-levels";
    $("levels").innerHTML = state.scale.map(function (lv, i) {
      return "<button type='button' class='rt-level" + levelClass(i, n) + "' aria-pressed='false'" +
        " data-level='" + lv.level + "'>" + esc(lv.vi) + "<small lang='en'>" + esc(lv.en) +
        "</small></button>";
    }).join("");
    $("attributes").innerHTML = (state.attributes || []).map(function (a) {
      return "<div class='rt-attr' data-key='" + esc(a.key) + "'>" +
        "<button type='button' aria-pressed='false' data-answer='1'>" + esc(a.good_vi) +
        "<small lang='en'>" + esc(a.good_en) + "</small></button>" +
        "<button type='button' aria-pressed='false' data-answer='0'>" + esc(a.bad_vi) +
        "<small lang='en'>" + esc(a.bad_en) + "</small></button></div>";
    }).join("");
    $("comment").value = "";
    $("tablet").classList.remove("chosen");
    $("extras").hidden = true;
    $("error").hidden = true;
    show("ask");
    armIdle();
  }

  // Without a touch for resetS the chosen level is sent; with none chosen the tablet goes
  // back to the counter and does not ask for that ticket again (the QR code still can).
  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () {
      if (mode !== "ask") return;
      if (chosen !== null) { send(); return; }
      dismissed[asking.ticket_id] = true;
      asking = null;
      show("idle");
    }, config.resetS * 1000);
  }

  $("levels").addEventListener("click", function (e) {
    var b = e.target.closest("[data-level]");
    if (!b || sending) return;
    chosen = Number(b.dataset.level);
    Array.prototype.forEach.call($("levels").children, function (x) {
      x.setAttribute("aria-pressed", x === b ? "true" : "false");
    });
    $("levels").className = "rt-levels chosen";
    $("tablet").classList.add("chosen");
    $("extras").hidden = false;
    armIdle();
  });
  $("attributes").addEventListener("click", function (e) {
    var b = e.target.closest("[data-answer]");
    if (!b || sending) return;
    var row = b.parentNode, key = row.dataset.key;
    var again = b.getAttribute("aria-pressed") === "true";
    Array.prototype.forEach.call(row.children, function (x) { x.setAttribute("aria-pressed", "false"); });
    if (again) delete answers[key];
    else { answers[key] = b.dataset.answer === "1"; b.setAttribute("aria-pressed", "true"); }
    armIdle();
  });
  $("comment").addEventListener("input", armIdle);
  $("send").addEventListener("click", function () { send(); });

  function say(text) { $("error").textContent = text; $("error").hidden = !text; }

  function send() {
    if (!asking || chosen === null || sending) return;
    sending = true;
    clearTimeout(idleTimer);
    $("send").disabled = true;
    var ticketId = asking.ticket_id;
    U.postJson(config.rateUrl, {ticket: ticketId, level: chosen, attributes: answers,
                                comment: $("comment").value})
      .then(function (r) {
        return r.json().catch(function () { return {ok: false, status: r.status, error: "HTTP " + r.status}; });
      })
      .then(function (res) {
        sending = false;
        $("send").disabled = false;
        if (res.ok) { state = res.tablet; thank(); return; }
        if (res.status >= 500) { say(res.error || "Lỗi"); armIdle(); return; }
        dismissed[ticketId] = true;   // refused for good (already rated, too late): move on
        say(res.error || "Lỗi");
        setTimeout(function () { say(""); asking = null; show("idle"); render(); }, THANKS_MS);
      }, function () {
        sending = false;
        $("send").disabled = false;
        say("Mất kết nối, vui lòng bấm Gửi lại / Connection lost, please press Send again");
        armIdle();
      });
  }

  function thank() {
    say("");
    asking = null;
    show("thanks");
    clearTimeout(thanksTimer);
    thanksTimer = setTimeout(function () { show("idle"); render(); }, THANKS_MS);
  }

  // --- live ----------------------------------------------------------------------------------
  function poll(on) {  // the state over HTTP while the socket is down
    clearInterval(pollTimer);
    if (!on) return;
    pollTimer = setInterval(function () {
      fetch(config.stateUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (res) { if (res.ok) { state = res.tablet; render(); } }, function () {});
    }, 10000);
  }

  var live = XephangLive.connect({
    auth: {},
    gapCheck: false,   // its room carries one counter's events: seq is not contiguous
    onStatus: function (s) { $("conn").dataset.status = s; poll(s !== "online"); },
    onState: function (ack) { if (ack.tablet) { state = ack.tablet; render(); } },
    onEvent: function (name) { if (name === "queue_event") live.resync(); }
  });
  render();
  window.xephangTablet = {
    live: live,
    mode: function () { return mode; },
    state: function () { return state; }
  };
})();
