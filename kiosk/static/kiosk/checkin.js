// The kiosk's check-in screen: the 2D scanner types the booking's QR (its page link), an
// online number's QR (its tracker link), a CCCD QR or a code into the focused field and
// presses Enter; the server checks the booking (or the online number) in, prints its
// ticket, and the screen shows the number, then starts again.
(function () {
  "use strict";
  var U = window.XephangUtil;
  var $ = U.byId;
  var config = U.pageData("checkin-config");
  var input = $("checkin-text");
  var busy = false, resetTimer = null, printTimer = null;
  var PRINT = {
    queued: ["Đang in vé…", "Printing your ticket…"],
    printed: ["Mời nhận vé in bên dưới", "Please take your printed ticket below"],
    failed: ["Máy in lỗi — vui lòng chụp mã QR", "Printer error — please take a photo of the QR code"],
    none: ["Vui lòng chụp mã QR hoặc ghi nhớ số thứ tự", "Please photograph the QR code or note your number"]
  };

  function pair(el, vi, en) {
    el.innerHTML = U.esc(vi) + (en ? ' <span class="en-always" lang="en">' + U.esc(en) + "</span>" : "");
  }

  function reset() {
    clearTimeout(resetTimer);
    clearTimeout(printTimer);
    $("done").hidden = true;
    $("scan").hidden = false;
    input.value = "";
    input.focus();
  }

  function error(vi, en) {
    pair($("error-vi"), vi, "");
    $("error-en").textContent = en || "";
    $("checkin-error").hidden = false;
    input.value = "";
    input.focus();
  }

  function followPrint(job, started) {
    if (!job || !job.id) { pair($("c-print"), PRINT.none[0], PRINT.none[1]); return; }
    $("c-print").dataset.state = "queued";
    pair($("c-print"), PRINT.queued[0], PRINT.queued[1]);
    function tick() {
      fetch(config.printUrl + job.id, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var s = data.job ? data.job.state : data.state;
          if (s === "printed" || s === "done") {
            $("c-print").dataset.state = "done";
            pair($("c-print"), PRINT.printed[0], PRINT.printed[1]);
            return;
          }
          if (s === "failed" || Date.now() - started > config.printWaitMs) {
            $("c-print").dataset.state = "failed";
            pair($("c-print"), PRINT.failed[0], PRINT.failed[1]);
            return;
          }
          printTimer = setTimeout(tick, 200);
        })
        .catch(function () { pair($("c-print"), PRINT.failed[0], PRINT.failed[1]); });
    }
    printTimer = setTimeout(tick, 100);
  }

  function shown(data) {
    var t = data.ticket;
    $("checkin-error").hidden = true;
    $("c-code").textContent = t.code;
    pair($("c-service"), t.service.name_vi, t.service.name_en);
    if (data.kind === "online") {
      pair($("c-slot"), "Đã xác nhận có mặt — bạn giữ nguyên vị trí trong hàng chờ",
           "Checked in — you keep your place in line");
    } else if (data.on_time) {
      pair($("c-slot"), "Lịch hẹn " + data.appointment.time + " — bạn được xếp theo giờ hẹn",
           "Appointment at " + data.appointment.time + " — you are in line from your booked time");
    } else if (data.late) {
      pair($("c-slot"), "Bạn đến trễ giờ hẹn " + data.appointment.time + " — xếp hàng như người mới đến",
           "Late for " + data.appointment.time + " — you queue like a walk-in");
    } else {
      pair($("c-slot"), "Lịch hẹn " + data.appointment.time + " — bạn xếp hàng theo giờ đến",
           "Appointment at " + data.appointment.time + " — you queue from your arrival");
    }
    pair($("c-wait"), t.wait.vi || "", t.wait.en || "");
    $("c-qr").src = t.qr_url;
    $("scan").hidden = true;
    $("done").hidden = false;
    followPrint(data.print, Date.now());
    resetTimer = setTimeout(reset, config.resetS * 1000);
  }

  $("checkin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) { return; }
    busy = true;
    U.postJson(config.checkinUrl, { text: text })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.ok) { shown(data); } else { error(data.vi || data.error || "", data.en || ""); }
      })
      .catch(function () {
        error("Mất kết nối tới máy chủ, vui lòng thử lại", "Cannot reach the server, please try again");
      })
      .then(function () { busy = false; });
  });
  $("checkin-form").dataset.ready = "1";  // scans are sent from now on
  $("c-done").addEventListener("click", reset);
  // A scanner needs the field focused: take the focus back whenever it is lost.
  document.addEventListener("click", function () { if (!$("scan").hidden) { input.focus(); } });
})();
