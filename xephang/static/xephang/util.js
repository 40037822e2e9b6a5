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
 *   U.estimate(s, lang) an estimated wait: "< 1 phút", "~12 phút" (kiosk ticket, tracker)
 *   U.decimalMinutes(s) a figure to a tenth of a minute: "12.5 phút" (dashboard, reports);
 *                       the server's templates show the same ("manager/_macros.html" minutes)
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

  function estimate(seconds, lang) {
    if (seconds == null) return "—";
    return (seconds < 60 ? "" : "~") + minutes(seconds, lang);
  }

  function decimalMinutes(seconds) {
    return seconds == null ? "—" : (seconds / 60).toFixed(1) + " phút";
  }

  global.XephangUtil = {
    byId: byId, esc: esc, pageData: pageData, csrfToken: csrfToken, postJson: postJson,
    clock: clock, minutes: minutes, estimate: estimate, decimalMinutes: decimalMinutes
  };
})(window);
