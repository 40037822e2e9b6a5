/*
 * live.js — keep a page in step with the xephang realtime hub (needs socket.io.min.js and
 * /xephang/rules.js first: the ticket lifecycle comes from the server's table, never a copy).
 *
 *   var live = XephangLive.connect({
 *     auth: {board: "..."} | {token: "..."} | {visit: "..."} | {counter: 3} | function () {...},
 *                          // handshake auth; the session cookie is sent anyway (may be {}),
 *                          // a function is called again on every reconnect
 *     syncEvent: "sync",   // socket event whose acknowledgement is the state (default "sync")
 *     syncArgs: {},        // its argument (object or function)
 *     gapCheck: true,      // queue_event seq must be contiguous (office room); false for trackers
 *     onState: function (ack) {},          // every (re)connect, seq gap, and each pollMs
 *     onEvent: function (name, payload) {},// "queue_event" / "queue_moved", newer than the state
 *     onStatus: function (status) {},      // "connecting" | "online" | "offline" | "refused"
 *     pollMs: 60000                        // safety-net re-sync period; 0: none (the page
 *                                          // polls by itself, as the tracker does)
 *   });
 *   live.resync();  live.seq();  live.socket;  live.close();
 *
 * Events that arrive while a sync is in flight are held and replayed after
 * it if their seq is newer than the state's. XephangLive.applyEvent(snapshot,
 * event) updates an office snapshot (waiting counts, counters, recent calls)
 * from one queue_event, for pages that render the board state; which events free a
 * counter (XephangRules.releases) or seat a ticket at one (XephangRules.seats: a start,
 * an undo) is the server's table (xephang/engine/states.py).
 * XephangLive.applyMove(tracker, move) updates a tracker state (from `sync`)
 * with one queue_moved: people_ahead ± 1 when the moving ticket's key is
 * ahead of the tracker's; returns false when the tracker should sync instead.
 */
(function (global) {
  "use strict";

  function value(v) { return typeof v === "function" ? v() : v; }

  function connect(opts) {
    opts = opts || {};
    var syncEvent = opts.syncEvent || "sync";
    var gapCheck = opts.gapCheck !== false;
    var pollMs = opts.pollMs == null ? 60000 : opts.pollMs;
    var seq = -1;          // seq of the last queue_event applied; -1 before the first sync
    var stateSeq = -1;     // seq of the last synced state
    var syncing = false, again = false, held = [], generation = 0;
    var status = function (s) { if (opts.onStatus) opts.onStatus(s); };

    var socket = global.io({
      transports: ["websocket", "polling"],
      auth: function (cb) { cb(value(opts.auth) || {}); },
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000
    });

    function deliver(name, payload) {
      if (typeof payload.seq !== "number") { opts.onEvent && opts.onEvent(name, payload); return; }
      if (name !== "queue_event") {            // queue_moved: newer than the state is enough
        if (payload.seq > stateSeq && opts.onEvent) opts.onEvent(name, payload);
        return;
      }
      if (payload.seq <= seq) return;          // already in the state
      if (gapCheck && payload.seq !== seq + 1) { resync(); return; }  // missed something
      seq = payload.seq;
      if (opts.onEvent) opts.onEvent(name, payload);
    }

    function receive(name) {
      return function (payload) {
        if (!payload) return;
        if (syncing || seq < 0) { held.push([name, payload]); return; }
        deliver(name, payload);
      };
    }

    function resync() {
      if (!socket.connected) return;
      if (syncing) { again = true; return; }
      syncing = true;
      var mine = ++generation;
      socket.timeout(15000).emit(syncEvent, value(opts.syncArgs) || {}, function (err, ack) {
        if (mine !== generation) return;       // superseded (the connection dropped meanwhile)
        syncing = false;
        if (!err && ack && ack.ok) {
          seq = stateSeq = typeof ack.seq === "number" ? ack.seq : seq;
          if (opts.onState) opts.onState(ack);
          var queue = held; held = [];
          queue.sort(function (a, b) { return (a[1].seq || 0) - (b[1].seq || 0); });
          queue.forEach(function (item) { deliver(item[0], item[1]); });
        } else if (ack && !ack.ok && opts.onError) {
          opts.onError(ack);
        }
        if (again || err) { again = false; setTimeout(resync, err ? 2000 : 0); }
      });
    }

    socket.on("connect", function () { status("online"); resync(); });
    socket.on("disconnect", function () {
      generation++; syncing = false; again = false;  // an ack in flight is lost with the socket
      status("offline");
    });
    socket.on("connect_error", function (err) {
      status(socket.active ? "offline" : "refused");
      if (!socket.active) setTimeout(function () { socket.connect(); }, 30000);
      if (opts.onError) opts.onError({ok: false, error: String(err && err.message)});
    });
    socket.on("queue_event", receive("queue_event"));
    socket.on("queue_moved", receive("queue_moved"));
    status("connecting");
    var timer = pollMs > 0 ? setInterval(resync, pollMs) : null;

    return {
      socket: socket,
      resync: resync,
      seq: function () { return seq; },
      close: function () { if (timer) clearInterval(timer); socket.close(); }
    };
  }

  function rules() {
    var found = global.XephangRules;
    if (!found) throw new Error("live.js: load /xephang/rules.js first (window.XephangRules)");
    return found;
  }
  function releasesCounter(type) {  // the event frees the counter that held its ticket
    return rules().releases.indexOf(type) !== -1;
  }
  function seatsAtCounter(type) {   // after it a counter holds the ticket (start, undo)
    return (rules().seats || []).indexOf(type) !== -1;
  }

  function applyEvent(snap, ev) {
    snap.seq = ev.seq;
    if (ev.waiting) {
      snap.waiting = ev.waiting;
      snap.waiting_total = ev.waiting_total;
      // of those waiting, online numbers still to check in (not callable yet)
      snap.not_arrived = ev.not_arrived || {};
      (snap.services || []).forEach(function (s) {
        s.waiting = ev.waiting[String(s.id)] || 0;
        s.not_arrived = snap.not_arrived[String(s.id)] || 0;
      });
    }
    var counter = null;
    (snap.counters || []).forEach(function (c) { if (c.id === ev.counter_id) counter = c; });
    var t = ev.ticket;
    if (ev.type === "called" || ev.type === "recalled") {
      if (counter) { counter.current_ticket = t; counter.state = "open"; counter.pause_reason = null; }
      snap.recent_calls = [ev].concat((snap.recent_calls || []).filter(function (c) {
        return c.ticket_id !== ev.ticket_id || c.type !== "called" || ev.type !== "called";
      })).slice(0, 10);
    } else if (seatsAtCounter(ev.type)) {
      if (counter) counter.current_ticket = t;
    } else if (releasesCounter(ev.type)) {
      if (counter && counter.current_ticket && counter.current_ticket.id === ev.ticket_id) {
        counter.current_ticket = null;
      }
    } else if (ev.type === "paused") {
      if (counter) { counter.state = "paused"; counter.pause_reason = ev.details.reason; }
    } else if (ev.type === "resumed") {
      if (counter) { counter.state = "open"; counter.pause_reason = null; }
    } else if (ev.type === "counter_opened") {
      if (counter && counter.state !== "paused") counter.state = "open";  // a pause outlives it
    } else if (ev.type === "counter_closed") {
      if (counter) { counter.state = "closed"; counter.pause_reason = null; }
    } else if (ev.type === "issued" && snap.today) {
      snap.today.issued = (snap.today.issued || 0) + 1;
    }
    return snap;
  }

  function keyBefore(a, b) {  // queue keys [priority flag, queue time, id], compared in order
    for (var i = 0; i < 3; i++) { if (a[i] !== b[i]) return a[i] < b[i]; }
    return false;
  }

  function applyMove(tracker, move) {
    if (!tracker || tracker.people_ahead == null || !tracker.queue_key) return false;
    if (!tracker.ticket || move.service_id !== tracker.ticket.service.id) return true;
    if (move.ticket_id === tracker.ticket.id) return false;   // our own ticket moved: sync
    if (keyBefore(move.key, tracker.queue_key)) {
      tracker.people_ahead += move.change === "left" ? -1 : 1;
    }
    tracker.seq = move.seq;
    return tracker.people_ahead >= 0 && tracker.people_ahead < Math.max(move.waiting, 1);
  }

  global.XephangLive = {connect: connect, applyEvent: applyEvent, applyMove: applyMove};
})(window);
