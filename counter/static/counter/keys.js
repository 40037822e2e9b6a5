/* keys.js — which keys are the counter screen's, and a 2D scanner's typing told apart from
 * its shortcuts. counter.js says what the keys do:
 *
 *   XephangKeys.listen({isShortcut: key => bool, shortcut: key => …,
 *                       scanned: (text, ended) => …, ctrl: ["z"]})
 *   XephangKeys.pageKey(keydownEvent, ctrl)   the key if it is the page's, else null
 *                                             (dossier.js's M)
 *
 * A key is the page's when no dialog is open (dialogs keep their own keys), no field has
 * the focus, and it is no Enter or space on a focused button (a click). With Ctrl, only
 * the keys in ``ctrl`` (Ctrl+Z undoes too); never with Alt or Meta.
 *
 * A 2D scanner types like a keyboard, a character every few milliseconds, wherever the
 * focus is. What it types while no field has the focus goes to ``scanned``, not to the
 * shortcuts (a booking code with N, S and F in it would call, start and finish). What it
 * scans starts with a key that is no shortcut (a link's "h", a CCCD's digits): such a key
 * starts a burst, and the keys that follow it within SCAN_GAP_MS belong to it; SCAN_MIN or
 * more are a scan (``ended`` when its Enter came); fewer are the keys they are. A shortcut
 * pressed outside a burst acts at once. */
(function (global) {
  "use strict";
  var SCAN_GAP_MS = 30, SCAN_MIN = 4;

  // A dialog's field keeps the focus for a moment after its form closed the dialog (until
  // the browser's next rendering): a key typed then (N right after a finish's Enter) is the
  // page's, not the hidden field's. An Enter is not: a double Enter that confirmed a dialog
  // does not also call the next.
  function leftBehind(field, key) {
    var d = field.closest("dialog");
    return !!d && !d.open && key !== "enter";
  }

  // The key of a keydown that is the page's (lowercased), or null: ``ctrl`` lists the keys
  // taken with Ctrl.
  function pageKey(e, ctrl) {
    var key = e.key.toLowerCase();
    if (e.altKey || e.metaKey) return null;
    if (e.ctrlKey && (ctrl || []).indexOf(key) === -1) return null;
    if (document.querySelector("dialog[open]")) return null;
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) && !leftBehind(e.target, key)) return null;
    return key;
  }

  function listen(page) {
    var held = [], heldTimer = null, ctrl = page.ctrl;
    function releaseHeld() {
      clearTimeout(heldTimer);
      heldTimer = null;
      var keys = held;
      held = [];
      if (keys.length < SCAN_MIN) { keys.forEach(page.shortcut); return; }
      var text = keys.filter(function (k) { return k.length === 1; }).join("").trim();
      page.scanned(text, keys[keys.length - 1] === "Enter");
    }
    document.addEventListener("keydown", function (e) {
      var key = pageKey(e, ctrl);
      if (key === null) return;
      if (held.length && !e.ctrlKey && (e.key.length === 1 || e.key === "Enter")) {
        e.preventDefault();  // a burst goes on: this key is part of it
        held.push(e.key);
        clearTimeout(heldTimer);
        if (e.key === "Enter" && held.length > SCAN_MIN) releaseHeld();  // the scanner's Enter
        else heldTimer = setTimeout(releaseHeld, SCAN_GAP_MS);
        return;
      }
      if (e.target.tagName === "BUTTON" && (key === "enter" || key === " ")) return;  // a click
      if (page.isShortcut(key)) { e.preventDefault(); page.shortcut(key); return; }
      if (e.key.length === 1 && !e.ctrlKey && e.key !== " ") {  // no shortcut: may start a scan
        held.push(e.key);
        heldTimer = setTimeout(releaseHeld, SCAN_GAP_MS);
      }
    });
  }

  global.XephangKeys = {listen: listen, pageKey: pageKey};
})(window);
