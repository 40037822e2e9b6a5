/*
 * util.js — the small helpers every page script shares (no library, no build step).
 *
 *   var U = XephangUtil;
 *   U.byId("code")              document.getElementById
 *   U.esc(text)                 text made safe to put in innerHTML
 *   U.pageData("kiosk-config")  the parsed <script type="application/json" id="..."> data island
 *   U.csrfToken()               the page's <meta name="csrf-token">
 *   U.postJson(url, body, {signal})  fetch() POST of JSON with the CSRF header; the Response
 *
 * Times, one function per way a page shows them ("—" for null or undefined):
 *
 *   U.clock(s)          a running or elapsed time to the second, whole seconds passed:
 *                       "0:07", "12:05", "1:02:03" (counter screen, dashboard clocks)
 *   U.minutes(s, lang)  a duration to the minute: "< 1 phút", "12 phút" (board's average wait)
 *   U.waitWords(state)  what a citizen is told of the wait, {kind, vi, en}: kind "estimate"
 *                       ("khoảng 12 phút", "khoảng 10–20 phút"), "no_counter" (no open
 *                       counter serves the service) or "none" (estimates not yet reliable);
 *                       the same words as engine/estimate.py wait_words (a test keeps them
 *                       equal). The tracker, which updates its wait as the line moves.
 *   U.decimalMinutes(s) a figure to a tenth of a minute: "12,5 phút" (dashboard, reports);
 *                       the server's templates show the same (the ``minutes`` filter)
 *
 * Numbers, the Vietnamese way, the same as xephang/formats.py (a test keeps them equal):
 *
 *   U.number(x, places, grouping)  decimal comma, dots between thousands: "1,6", "12.345"
 *   U.percent(share)               a share as a percentage: 0.95 → "95,0 %"
 *
 * `lang` is "vi" (the default) or "en" ("< 1 min", "~12 min").
 */
(function (global) {
  "use strict";

  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  }

  function byId(id) { return global.document.getElementById(id); }

  function pageData(id) { return JSON.parse(byId(id).textContent); }

  function csrfToken() {
    var meta = global.document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function postJson(url, body, opts) {
    return global.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      signal: opts && opts.signal ? opts.signal : undefined,
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRF-Token": csrfToken()},
      body: JSON.stringify(body || {})
    });
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function clock(seconds) {
    if (seconds == null) return "—";
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return (h ? h + ":" + two(m) : m) + ":" + two(s);
  }

  function unit(lang) { return lang === "en" ? " min" : " phút"; }

  function minutes(seconds, lang) {
    if (seconds == null) return "—";
    return (seconds < 60 ? "< 1" : Math.round(seconds / 60)) + unit(lang);
  }

  var NO_COUNTER = ["Hiện chưa có quầy nào phục vụ dịch vụ này",
                    "No counter is serving this service right now"];
  var PAST_CLOSING = ["có thể không kịp trong giờ làm việc hôm nay",
                      "may run past today's opening hours"];

  function halfUp(x) { return Math.floor(x + 0.5); }

  function waitWords(s) {
    if (s.counters_open === 0) { return {kind: "no_counter", vi: NO_COUNTER[0], en: NO_COUNTER[1]}; }
    var wait = s.estimated_wait_s, span = s.estimate_range_s, vi, en;
    if (wait == null || !s.estimate_shown) { return {kind: "none", vi: "", en: ""}; }
    if (span) {
      var low = Math.max(1, halfUp(span[0] / 60)), high = Math.max(low + 1, halfUp(span[1] / 60));
      vi = "khoảng " + low + "–" + high + " phút";
      en = "about " + low + "–" + high + " min";
    } else if (wait < 60) {
      vi = "dưới 1 phút";
      en = "under a minute";
    } else {
      vi = "khoảng " + halfUp(wait / 60) + " phút";
      en = "about " + halfUp(wait / 60) + " min";
    }
    if (s.past_closing) {
      vi += " (" + PAST_CLOSING[0] + ")";
      en += " (" + PAST_CLOSING[1] + ")";
    }
    return {kind: "estimate", vi: vi, en: en};
  }

  // Half away from zero on the scaled float: the same arithmetic as formats.number.
  function number(value, places, grouping) {
    if (value == null) return "—";
    places = places || 0;
    var scale = Math.pow(10, places);
    var scaled = Math.floor(Math.abs(value) * scale + 0.5);
    var whole = Math.floor(scaled / scale), frac = scaled - whole * scale;
    var digits = String(whole);
    if (grouping !== false) digits = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    var text = digits + (places ? "," + String(frac).padStart(places, "0") : "");
    return value < 0 && scaled ? "-" + text : text;
  }

  function percent(share, places) {
    return share == null ? "—" : number(share * 100, places == null ? 1 : places) + " %";
  }

  function decimalMinutes(seconds) {
    return seconds == null ? "—" : number(seconds / 60, 1) + " phút";
  }

  global.XephangUtil = {
    byId: byId, esc: esc, pageData: pageData, csrfToken: csrfToken, postJson: postJson,
    clock: clock, minutes: minutes, waitWords: waitWords, decimalMinutes: decimalMinutes,
    number: number, percent: percent
  };
})(window);
