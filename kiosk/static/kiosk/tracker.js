// The ticket tracker: live over XephangLive (a tracker's `sync` re-joins its ticket's rooms),
// fetch the state after each sync and on its own ticket's live events, count people ahead
// locally from queue_moved (XephangLive.applyMove, no request per move), poll as a safety
// net (slowly while live), send the one rating, and subscribe to (or stop) messages about
// the turn: Web Push through the service worker /t/sw.js, or a phone / e-mail with consent.
// It says when it is offline, and when the citizen is called it rings (once the citizen
// allowed sound: phones need a tap) and flashes the screen, besides vibrating.
(function () {
  "use strict";
  var U = window.XephangUtil, RULES = window.XephangRules;
  var $ = U.byId;
  var config = U.pageData("tracker-config");
  var POLL_MS = 5000;       // without a live connection
  var LIVE_POLL_MS = 60000; // safety net while the socket is connected
  var pending = null;
  var state = config.state;       // the last state, kept in step by queue_moved
  var perPerson = null;           // estimated seconds per person ahead, from the last state
  var moves = [];                 // recent queue_moved, replayed on a state older than them
  var lastStatus = config.state.ticket.status;
  var lastTicket = config.state.ticket.id;
  var lastWaiting = config.state.people_ahead != null;
  var live = null, online = false, fetched = true, audio = null, rings = 0;

  function showOffline() {  // the socket is down, or the last fetch failed
    var socketDown = live && !online;
    $("offline").hidden = !(socketDown || !fetched);
  }

  function ring() {  // a chime of three notes, from Web Audio (no file to fetch offline)
    if (!audio) { return; }
    rings += 1;
    try {
      var t = audio.currentTime + 0.05;
      [880, 660, 990].forEach(function (hz, i) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, t + i * 0.35);
        gain.gain.exponentialRampToValueAtTime(0.4, t + i * 0.35 + 0.03);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.35 + 0.32);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(t + i * 0.35); osc.stop(t + i * 0.35 + 0.34);
      });
    } catch (e) { /* no audio: the flash and the vibration remain */ }
  }

  function alertCalled() {
    var flash = $("flash");
    flash.hidden = false;
    flash.classList.remove("on"); void flash.offsetWidth; flash.classList.add("on");
    document.body.dataset.alerted = String(Number(document.body.dataset.alerted || 0) + 1);
    ring();
    if (navigator.vibrate) { navigator.vibrate([400, 200, 400]); }
  }

  function showQueue(s) {
    $("ahead").textContent = s.people_ahead;
    var w = U.waitWords(s);
    $("wait-row").hidden = w.kind !== "estimate";
    $("nocounter").hidden = w.kind !== "no_counter";
    $(w.kind === "no_counter" ? "nocounter-vi" : "wait-vi").textContent = w.vi;
    $(w.kind === "no_counter" ? "nocounter-en" : "wait-en").textContent = w.en;
  }

  function render(s) {
    var t = s.ticket;
    $("code").textContent = t.code;
    // a transfer gives the visit a new ticket of another service: say which, now
    $("service").textContent = t.service.name_vi;
    if (t.service.name_en) {
      var en = document.createElement("span");
      en.lang = "en";
      en.textContent = " / " + t.service.name_en;
      $("service").appendChild(en);
    }
    // an online number that must check in: say so until it has (its QR is shown for the kiosk)
    $("checkin").hidden = !(t.awaiting_checkin && t.status === "waiting");
    $("status").dataset.status = t.status;
    document.querySelector("main.tr").dataset.status = t.status;
    $("status-vi").textContent = s.message_vi;
    $("status-en").textContent = s.message_en;
    var waiting = s.people_ahead !== null && s.people_ahead !== undefined;
    $("queue").hidden = !waiting;
    if (waiting) { showQueue(s); } else { $("nocounter").hidden = true; }  // out of line: no word on counters
    $("visit").hidden = s.visit.length < 2;
    $("visit-codes").textContent = s.visit.map(function (v) { return v.code; }).join(" → ");
    $("rating").hidden = !s.rating.allowed;
    $("rated").hidden = s.rating.level === null;
    renderNotify(s.notify);
    if (t.status === "called" && lastStatus !== "called") { alertCalled(); }
    $("sound-on").hidden = !!audio || t.status !== "waiting";
    $("sound-ready").hidden = !audio || t.status !== "waiting";
    lastStatus = t.status;
    // transferred, called or back in the queue: sync, which re-joins the right ticket and
    // service rooms (and fetches the state again once they are joined)
    if ((t.id !== lastTicket || waiting !== lastWaiting) && live) { live.resync(); }
    lastTicket = t.id;
    lastWaiting = waiting;
  }

  function apply(move) {  // one queue_moved on the state; false when a fetch is needed
    if (!window.XephangLive || !XephangLive.applyMove(state, move)) { return false; }
    if (state.estimated_wait_s == null) { return true; }  // no estimate to scale
    if (state.people_ahead > 0 && perPerson === null) { return false; }
    var scale = function (x) { return Math.round(state.people_ahead * x); };
    state.estimated_wait_s = scale(perPerson[0] || 0);
    if (state.estimate_range_s) {
      state.estimate_range_s = [scale(perPerson[1] || 0), scale(perPerson[2] || 0)];
    }
    return true;
  }

  function pace(s) {  // seconds per person ahead (estimate, low, high), to scale the wait
    if (s.estimated_wait_s == null) { perPerson = null; return; }
    var span = s.estimate_range_s || [s.estimated_wait_s, s.estimated_wait_s];
    perPerson = s.people_ahead > 0
      ? [s.estimated_wait_s / s.people_ahead, span[0] / s.people_ahead, span[1] / s.people_ahead]
      : (s.people_ahead === 0 ? perPerson : null);
  }

  function adopt(s) {  // a fresh state: replay the moves it does not include yet, then show it
    state = s;
    pace(s);
    moves = moves.filter(function (m) { return m.seq > s.seq; });
    var stale = s.people_ahead != null && !moves.every(apply);
    if (stale) { moves = []; }
    render(s);
    return stale;
  }

  function moved(move) {  // a ticket joined or left our service's line: count it here
    if (!move || typeof move.seq !== "number") { return soon(); }
    moves.push(move);
    if (moves.length > 200) { moves.shift(); }
    if (state.people_ahead == null || move.seq <= state.seq) { return; }  // not waiting, or known
    if (apply(move)) { showQueue(state); } else { soon(); }
  }

  function refresh() {
    var stale = false;
    clearTimeout(pending);
    return fetch(config.stateUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) { fetched = true; if (s.ok && adopt(s)) { stale = true; } })
      .catch(function () { fetched = false; /* offline for a moment: the next poll tries again */ })
      .then(function () { showOffline(); })
      .then(function () {
        // a finished visit changes no more (but for the rating): poll slowly
        var over = RULES.states[lastStatus] && RULES.states[lastStatus].final;
        var settled = over && (lastStatus !== "done" || $("rating").hidden);
        pending = setTimeout(refresh, stale ? 150 : settled ? 60000 : online ? LIVE_POLL_MS : POLL_MS);
      });
  }

  function soon() {  // several events in a burst make one refresh
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  }

  $("rating-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var level = e.submitter ? e.submitter.value : null;
    if (!level) { return; }
    var body = { level: Number(level), comment: $("comment").value, attributes: {} };
    // the office's optional questions answered above the levels (key -> good or not)
    document.querySelectorAll("#rating-form .tr-attr").forEach(function (row) {
      var picked = row.querySelector("input:checked");
      if (picked) { body.attributes[row.dataset.key] = picked.value === "1"; }
    });
    U.postJson(config.rateUrl, body).then(function (r) { return r.json(); }).then(function (s) {
      if (s.ok) { adopt(s); $("error").hidden = true; return; }
      $("error").textContent = s.error;
      $("error").hidden = false;
      refresh();
    }).catch(function () {
      $("error").textContent = "Không gửi được, vui lòng thử lại / Could not send, please retry";
      $("error").hidden = false;
    });
  });

  // --- messages about the turn: Web Push from this browser, or a phone / e-mail -------
  function renderNotify(n) {
    if (!n) { return; }
    $("notify").hidden = !n.channels.length;
    var on = n.subscribed.length > 0;
    $("notify-on").hidden = !on;
    $("notify-offer").hidden = on;
    $("notify-channels").textContent = n.subscribed.join(", ");
    $("push-on").hidden = !pushPossible(n);
  }

  function pushPossible(n) {
    return n.push_key && n.channels.indexOf("webpush") !== -1 && "serviceWorker" in navigator &&
      "PushManager" in window && window.isSecureContext;
  }

  function serverKey(b64) {  // base64url to the bytes pushManager.subscribe wants
    var padded = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function notifyError(text) {
    $("notify-error").textContent = text;
    $("notify-error").hidden = !text;
  }

  function subscribe(body) {
    body.consent = true;
    body.lang = document.documentElement.lang === "en" ? "en" : "vi";
    return U.postJson(config.subscribeUrl, body).then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.ok) { adopt(s); notifyError(""); return; }
        notifyError(s.error);
      }).catch(function () {
        notifyError("Không gửi được, vui lòng thử lại / Could not send, please retry");
      });
  }

  $("push-on").addEventListener("click", function () {
    var key = state.notify && state.notify.push_key;
    navigator.serviceWorker.register(config.swUrl).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: serverKey(key)});
    }).then(function (sub) {
      return subscribe({webpush: sub.toJSON()});
    }).catch(function () {
      notifyError("Trình duyệt không cho phép thông báo / This browser does not allow notifications");
    });
  });

  var form = $("contact-form");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = $("contact").value.trim();
      if (!$("consent").checked) {
        notifyError("Hãy đánh dấu đồng ý nhận tin nhắn / Please tick the consent box");
        return;
      }
      subscribe(value.indexOf("@") !== -1 ? {email: value} : {phone: value}).then(function () {
        if ($("notify-error").hidden) { $("contact").value = ""; $("consent").checked = false; }
      });
    });
  }

  $("notify-off").addEventListener("click", function () {
    U.postJson(config.unsubscribeUrl, {}).then(function (r) { return r.json(); })
      .then(function (s) { if (s.ok) { adopt(s); } });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.getRegistration(config.swUrl).then(function (reg) {
        return reg && reg.pushManager.getSubscription();
      }).then(function (sub) { if (sub) { sub.unsubscribe(); } }).catch(function () {});
    }
  });

  $("sound-on").addEventListener("click", function () {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    audio = audio || new Ctx();
    audio.resume().then(function () {
      $("sound-on").hidden = true;
      $("sound-ready").hidden = false;
      ring();  // what it will sound like
    }).catch(function () {});
  });
  window.addEventListener("offline", function () { fetched = false; showOffline(); });
  window.addEventListener("online", function () { soon(); });

  pace(state);
  renderNotify(state.notify);
  if (window.io && window.XephangLive) {
    live = XephangLive.connect({
      auth: { visit: config.token },
      gapCheck: false,   // a tracker sees its own tickets' events only
      pollMs: 0,         // the fetch loop above is the safety net
      onStatus: function (s) {
        var was = online;
        online = s === "online";
        $("live").classList.toggle("on", online);
        showOffline();
        if (was && !online) {  // offline: back to the quick poll
          clearTimeout(pending);
          pending = setTimeout(refresh, POLL_MS);
        }
      },
      onState: function () { soon(); },  // rooms joined ({ok, tracker, seq}): fetch what the page shows
      onEvent: function (name, payload) {
        if (name === "queue_moved") { moved(payload); } else { soon(); }
      }
    });
  }
  pending = setTimeout(refresh, POLL_MS);
  window.xephangTracker = {rings: function () { return rings; }};
})();
