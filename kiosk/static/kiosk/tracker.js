// The ticket tracker: poll the state every few seconds, refresh at once on live events
// (Socket.IO when the app serves its client), and send the one rating.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("tracker-config").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var $ = function (id) { return document.getElementById(id); };
  var POLL_MS = 5000;
  var pending = null;
  var lastStatus = config.state.ticket.status;
  var lastTicket = config.state.ticket.id;
  var socket = null;

  function render(s) {
    var t = s.ticket;
    $("code").textContent = t.code;
    $("status").dataset.status = t.status;
    document.querySelector("main.tr").dataset.status = t.status;
    $("status-vi").textContent = s.message_vi;
    $("status-en").textContent = s.message_en;
    var waiting = s.people_ahead !== null && s.people_ahead !== undefined;
    $("queue").hidden = !waiting;
    if (waiting) {
      $("ahead").textContent = s.people_ahead;
      $("wait").textContent = s.estimated_wait_s < 60 ? "< 1 phút"
        : "~" + Math.round(s.estimated_wait_s / 60) + " phút";
    }
    $("visit").hidden = s.visit.length < 2;
    $("visit-codes").textContent = s.visit.map(function (v) { return v.code; }).join(" → ");
    $("rating").hidden = !s.rating.allowed;
    $("rated").hidden = s.rating.level === null;
    if (t.status === "called" && lastStatus !== "called" && navigator.vibrate) {
      navigator.vibrate([400, 200, 400]);
    }
    lastStatus = t.status;
    if (t.id !== lastTicket && socket) {  // transferred: follow the new ticket's room too
      socket.emit("sync", {}, function () {});
    }
    lastTicket = t.id;
  }

  function refresh() {
    clearTimeout(pending);
    return fetch(config.stateUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) { if (s.ok) { render(s); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () {
        // a finished visit changes no more (but for the rating): poll slowly
        var settled = ["no_show", "cancelled", "expired"].indexOf(lastStatus) !== -1 ||
          (lastStatus === "done" && $("rating").hidden);
        pending = setTimeout(refresh, settled ? 60000 : POLL_MS);
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
    fetch(config.rateUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRF-Token": csrf },
      body: JSON.stringify({ level: Number(level), comment: $("comment").value })
    }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.ok) { render(s); $("error").hidden = true; return; }
      $("error").textContent = s.error;
      $("error").hidden = false;
      refresh();
    }).catch(function () {
      $("error").textContent = "Không gửi được, vui lòng thử lại / Could not send, please retry";
      $("error").hidden = false;
    });
  });

  if (window.io) {
    socket = window.io({ auth: { visit: config.token }, transports: ["websocket", "polling"] });
    socket.on("connect", function () { $("live").classList.add("on"); soon(); });
    socket.on("disconnect", function () { $("live").classList.remove("on"); });
    socket.on("queue_event", soon);
    socket.on("queue_moved", soon);
  }
  pending = setTimeout(refresh, POLL_MS);
})();
