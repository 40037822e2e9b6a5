/*
 * voice.js — announcements from the offline voice pack, queued, never overlapping.
 *
 *   var voice = XephangVoice(baseUrl, {onBlocked: fn(blocked)});
 *   voice.announce({clips: ["chime", "phrase_moi_cong_dan_co_so_thu_tu", ...], text: "..."});
 *   voice.unlock();   // from a click: browsers keep audio off until the first gesture
 *   voice.log         // what was played (for tests and diagnostics)
 *
 * Clips are <baseUrl><name>.ogg (docs/voice.md); a missing clip is skipped.
 */
(function (global) {
  "use strict";
  var GAP_S = 0.03, MAX_PENDING = 6;

  function XephangVoice(baseUrl, opts) {
    opts = opts || {};
    var Ctx = global.AudioContext || global.webkitAudioContext;
    var ctx = Ctx ? new Ctx() : null;
    var buffers = {}, queue = [], playing = false, current = null, log = [];
    var blocked = null;

    function setBlocked(b) {
      if (b === blocked) return;
      blocked = b;
      if (opts.onBlocked) opts.onBlocked(b);
    }
    function load(name) {
      if (!buffers[name]) {
        buffers[name] = fetch(baseUrl + name + ".ogg").then(function (r) {
          return r.ok ? r.arrayBuffer() : null;
        }).then(function (data) {
          return data ? new Promise(function (ok) { ctx.decodeAudioData(data, ok, function () { ok(null); }); }) : null;
        }).catch(function () { return null; });
      }
      return buffers[name];
    }
    function pump() {
      if (playing || !queue.length || !ctx) return;
      if (ctx.state !== "running") {
        ctx.resume().catch(function () {});
        setBlocked(ctx.state !== "running");
        if (ctx.state !== "running") return;
      }
      setBlocked(false);
      playing = true;
      var item = queue.shift();
      current = item;
      Promise.all(item.clips.map(load)).then(function (bufs) {
        var t = ctx.currentTime + 0.05, last = null;
        bufs.forEach(function (buf) {
          if (!buf) return;
          var src = ctx.createBufferSource();
          src.buffer = buf; src.connect(ctx.destination); src.start(t);
          t += buf.duration + GAP_S; last = src;
        });
        log.push({text: item.text, clips: item.clips, played: bufs.filter(Boolean).length,
                  at: Date.now(), duration_ms: Math.round((t - ctx.currentTime) * 1000)});
        document.body.dataset.announcing = item.text || "";
        var finish = function () {
          if (!playing || current !== item) return;  // a late timer of an earlier announcement
          playing = false; current = null; document.body.dataset.announcing = "";
          setTimeout(pump, 400);   // a breath between two announcements
        };
        if (last) last.onended = finish;
        setTimeout(finish, (t - ctx.currentTime) * 1000 + 1500);  // if onended never fires
      });
    }
    function announce(a) {
      if (!a || !a.clips || !a.clips.length) return;
      queue.push(a);
      if (queue.length > MAX_PENDING) queue.splice(0, queue.length - MAX_PENDING);
      pump();
    }
    function unlock() {
      if (!ctx) return Promise.resolve();
      return ctx.resume().then(function () { setBlocked(false); pump(); });
    }
    function preload(names) { if (ctx) names.forEach(load); }
    if (ctx) {
      ctx.onstatechange = function () { if (ctx.state === "running") { setBlocked(false); pump(); } };
      ctx.resume().catch(function () {});  // allowed without a click where the policy permits
      setTimeout(function () { if (ctx.state !== "running") setBlocked(true); else setBlocked(false); }, 300);
    }
    return {announce: announce, unlock: unlock, preload: preload, log: log,
            state: function () { return ctx ? ctx.state : "unsupported"; }};
  }
  global.XephangVoice = XephangVoice;
})(window);
