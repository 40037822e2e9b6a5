/* The dossier code (mã hồ sơ) on the counter screen: typed, or scanned from the receipt the
 * officer hands over (a 2D scanner types like a keyboard and ends with Enter), onto the ticket
 * being served or, once it is finished, the one this counter finished last. M puts the cursor
 * in the field; Enter records the code (POST /api/v1/tickets/<id>/dossier-code, logged);
 * Esc leaves the field so the counter's shortcut keys work again. Reads the screen's state
 * from window.xephangCounter after each render of counter.js. */
(function () {
  "use strict";
  var U = window.XephangUtil, $ = U.byId;
  var form = $("dossier-form");
  if (!form || !window.xephangCounter) return;
  var api = $("app").dataset.api;
  var input = $("dossier-code"), save = $("dossier-save"), note = $("dossier-for");
  var target = null, busy = false, message = null;

  function pick() {
    var s = window.xephangCounter.state(), counter = null;
    (s.snap ? s.snap.counters : []).forEach(function (c) { if (c.id === s.counterId) counter = c; });
    var t = counter && counter.current_ticket;
    if (t && t.status === "serving") return {id: t.id, code: t.code, serving: true};
    var last = s.mine && s.mine.counter_id === s.counterId ? s.mine.last_finished : null;
    return last ? {id: last.id, code: last.code, has: last.has_dossier_code} : null;
  }

  function render() {
    target = pick();
    input.disabled = save.disabled = busy || !target;
    note.className = message && message.error ? "error" : "muted";
    note.textContent = message ? message.text : !target
      ? "Chưa có số đang phục vụ hoặc vừa phục vụ xong"
      : (target.serving ? "Cho số đang phục vụ " : "Cho số vừa phục vụ xong ") + target.code +
        (target.has ? " · đã có mã hồ sơ (ghi lại để sửa)" : "");
  }

  function say(text, error) {
    message = {text: text, error: !!error};
    render();
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { message = null; render(); }, error ? 8000 : 4000);
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var code = input.value.trim();
    if (!target || !code || busy) return;
    busy = true;
    render();
    U.postJson(api + "tickets/" + target.id + "/dossier-code", {dossier_code: code})
      .then(function (r) { return r.json().catch(function () { return {ok: false, error: "HTTP " + r.status}; }); })
      .then(function (res) {
        busy = false;
        if (res.ok) {
          input.value = "";
          input.blur();
          say("Đã ghi mã hồ sơ cho số " + res.ticket.code + " / Dossier code recorded");
        } else {
          say(res.error || "Lỗi", true);
        }
      }, function () {
        busy = false;
        say("Mất kết nối tới máy chủ, thử lại sau / Server unreachable", true);
      });
  });

  document.addEventListener("keydown", function (e) {
    if (e.target === input && e.key === "Escape") { input.blur(); return; }
    if (XephangKeys.pageKey(e) === "m" && !input.disabled) { e.preventDefault(); input.focus(); }
  });
  document.addEventListener("xephang:counter-render", render);
  render();
})();
