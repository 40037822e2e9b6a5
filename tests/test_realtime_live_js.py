"""live.js, the shared browser helper, run under Node with a fake Socket.IO client.

live.js reads the ticket lifecycle from ``window.XephangRules``; the harness
evaluates the app's own ``/xephang/rules.js`` first, as the pages do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from xephang import create_app
from xephang.engine.states import browser_rules

LIVE_JS = Path(__file__).resolve().parents[1] / "xephang" / "static" / "xephang" / "live.js"
# Events that move no ticket (counters, printing, ratings, the close of day).
OTHER_EVENTS = (
    "printed",
    "print_failed",
    "rated",
    "paused",
    "resumed",
    "counter_opened",
    "counter_closed",
    "day_closed",
)

HARNESS = r"""
const fs = require("fs");
const window = {}; global.window = window;
const sockets = [];
window.io = function (opts) {
  const s = {handlers: {}, emitted: [], connected: false, active: true, opts: opts,
    on(name, fn) { this.handlers[name] = fn; },
    timeout() { return this; },
    emit(name, arg, cb) { this.emitted.push({name: name, arg: arg, cb: cb}); },
    close() {}, connect() {},
    fire(name, payload) { this.handlers[name](payload); }};
  sockets.push(s);
  return s;
};
eval(fs.readFileSync(process.argv[2], "utf8"));  // /xephang/rules.js: window.XephangRules
eval(fs.readFileSync(process.argv[1], "utf8"));
const log = [];
const live = window.XephangLive.connect({
  auth: function () { return {board: "b1"}; },
  onState: function (ack) { log.push(["state", ack.seq]); },
  onEvent: function (name, ev) { log.push([name, ev.seq]); },
  onStatus: function (s) { log.push(["status", s]); },
  pollMs: 3600000
});
const s = sockets[0];
const syncs = () => s.emitted.filter(e => e.name === "sync");
const ack = (i, seq) => syncs()[i].cb(null, {ok: true, seq: seq, snapshot: {seq: seq}});
s.connected = true; s.fire("connect");
s.fire("queue_event", {seq: 6, type: "issued"});          // arrives during the first sync: held
s.fire("queue_event", {seq: 5, type: "issued"});          // already in the snapshot
ack(0, 5);
s.fire("queue_event", {seq: 7, type: "called"});
s.fire("queue_event", {seq: 7, type: "called"});          // duplicate
s.fire("queue_moved", {seq: 7, change: "left"});          // same seq, other kind: delivered
s.fire("queue_event", {seq: 9, type: "called"});          // gap: 8 was lost
log.push(["syncs", syncs().length]);
ack(1, 9);
s.fire("queue_event", {seq: 10, type: "started"});
s.connected = false; s.fire("disconnect");                 // server restart
s.connected = true; s.fire("connect");
log.push(["syncs", syncs().length]);
ack(2, 12);
s.fire("queue_event", {seq: 12, type: "started"});        // covered by the new snapshot
s.fire("queue_event", {seq: 13, type: "finished"});
let auth = null; s.opts.auth(function (a) { auth = a; });

const snap = {seq: 1, waiting: {"1": 2}, waiting_total: 2, today: {issued: 2},
  services: [{id: 1, waiting: 2}],
  counters: [{id: 3, number: 3, state: "closed", pause_reason: null, current_ticket: null}],
  recent_calls: []};
const A = window.XephangLive.applyEvent;
const t = {id: 17, code: "A001", status: "called"};
A(snap, {seq: 2, type: "called", counter_id: 3, ticket_id: 17, ticket: t, details: {},
         waiting: {"1": 1}, waiting_total: 1});
const afterCall = JSON.parse(JSON.stringify(snap));
A(snap, {seq: 3, type: "paused", counter_id: 3, details: {reason: "Họp"}});
const paused = JSON.parse(JSON.stringify(snap.counters[0]));
A(snap, {seq: 4, type: "counter_opened", counter_id: 3, details: {}});
const stillPaused = snap.counters[0].state;
A(snap, {seq: 5, type: "resumed", counter_id: 3, details: {}});
A(snap, {seq: 6, type: "no_show", counter_id: 3, ticket_id: 17, ticket: t, details: {}});
const M = window.XephangLive.applyMove;
const tracker = {people_ahead: 3, queue_key: [1, "2026-11-26T02:00:00.000+00:00", 40],
                 ticket: {id: 40, service: {id: 1}}};
const moves = [
  M(tracker, {seq: 20, service_id: 1, change: "left", ticket_id: 30, waiting: 5,
              key: [1, "2026-11-26T01:00:00.000+00:00", 30]}),      // ahead left: 2
  M(tracker, {seq: 21, service_id: 1, change: "joined", ticket_id: 50, waiting: 6,
              key: [0, "2026-11-26T03:00:00.000+00:00", 50]}),      // priority joined: 3
  M(tracker, {seq: 22, service_id: 1, change: "left", ticket_id: 60, waiting: 5,
              key: [1, "2026-11-26T02:00:00.000+00:00", 60]}),      // behind: 3
  M(tracker, {seq: 23, service_id: 2, change: "left", ticket_id: 70, waiting: 1,
              key: [0, "2026-11-26T00:00:00.000+00:00", 70]}),      // other service: 3
];
const ahead = tracker.people_ahead;
const own = M(tracker, {seq: 24, service_id: 1, change: "left", ticket_id: 40, waiting: 4,
                        key: tracker.queue_key});
const insane = M({people_ahead: 0, queue_key: [1, "b", 9], ticket: {id: 9, service: {id: 1}}},
                 {seq: 25, service_id: 1, change: "left", ticket_id: 8, waiting: 3,
                  key: [1, "a", 8]});
console.log(JSON.stringify({log: log, auth: auth, afterCall: afterCall, paused: paused,
                            stillPaused: stillPaused, final: snap,
                            moves: moves, ahead: ahead, own: own, insane: insane}));
process.exit(0);  // the safety-net timer would keep Node running
"""


# For each event type given, a counter holding ticket 17 gets that event about ticket 17:
# is the counter free afterwards? Also which setInterval periods connect() starts.
RELEASE_HARNESS = r"""
const fs = require("fs");
const window = {}; global.window = window;
window.io = function () {
  return {on() {}, emit() {}, timeout() { return this; }, close() {}, connected: false};
};
if (process.argv[2]) eval(fs.readFileSync(process.argv[2], "utf8"));
eval(fs.readFileSync(process.argv[1], "utf8"));
const freed = {}, seated = {};
for (const type of JSON.parse(process.argv[3])) {
  const t = {id: 17, code: "A001", status: "called"};
  const snap = {seq: 1, services: [], recent_calls: [], today: {issued: 0},
    counters: [{id: 3, number: 3, state: "open", pause_reason: null, current_ticket: t}]};
  const empty = {seq: 1, services: [], recent_calls: [], today: {issued: 0},
    counters: [{id: 3, number: 3, state: "open", pause_reason: null, current_ticket: null}]};
  try {
    window.XephangLive.applyEvent(snap, {seq: 2, type: type, counter_id: 3, ticket_id: 17,
                                         ticket: t, details: {}});
    freed[type] = snap.counters[0].current_ticket === null;
    window.XephangLive.applyEvent(empty, {seq: 2, type: type, counter_id: 3, ticket_id: 17,
                                          ticket: t, details: {}});
    seated[type] = empty.counters[0].current_ticket !== null;
  } catch (err) {
    freed[type] = String(err.message);
  }
}
const periods = [];
global.setInterval = function (fn, ms) { periods.push(ms); return periods.length; };
window.XephangLive.connect({});
window.XephangLive.connect({pollMs: 0});  // a page that polls by itself (the tracker)
console.log(JSON.stringify({freed: freed, seated: seated, periods: periods}));
process.exit(0);
"""


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return node


@pytest.fixture(scope="module")
def rules_js(tmp_path_factory) -> Path:
    """The app's /xephang/rules.js, saved to a file for Node."""
    folder = tmp_path_factory.mktemp("rules")
    app = create_app({"DB": str(folder / "xephang.db"), "TESTING": True, "SECRET_KEY": "test"})
    response = app.test_client().get("/xephang/rules.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    path = folder / "rules.js"
    path.write_bytes(response.data)
    return path


@pytest.fixture(scope="module")
def run(rules_js):
    out = subprocess.run(
        [node_or_skip(), "-e", HARNESS, str(LIVE_JS), str(rules_js)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def run_releases(rules: Path | None, types: list[str]) -> dict:
    out = subprocess.run(
        [node_or_skip(), "-e", RELEASE_HARNESS, str(LIVE_JS), str(rules or ""), json.dumps(types)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def test_sync_on_connect_holds_events_and_skips_known_ones(run):
    log = run["log"]
    assert log[:4] == [
        ["status", "connecting"],
        ["status", "online"],
        ["state", 5],
        ["queue_event", 6],
    ]
    assert log[4:7] == [["queue_event", 7], ["queue_moved", 7], ["syncs", 2]]


def test_gap_resyncs_instead_of_applying(run):
    log = run["log"]
    assert ["queue_event", 9] not in log  # the event that revealed the gap is not applied
    assert log[7:9] == [["state", 9], ["queue_event", 10]]


def test_reconnect_resyncs_and_reauthenticates(run):
    log = run["log"]
    assert log[9:] == [
        ["status", "offline"],
        ["status", "online"],
        ["syncs", 3],
        ["state", 12],
        ["queue_event", 13],
    ]
    assert run["auth"] == {"board": "b1"}


def test_apply_event_updates_the_board_state(run):
    after = run["afterCall"]
    assert after["counters"][0]["current_ticket"]["code"] == "A001"
    assert after["counters"][0]["state"] == "open"
    assert after["recent_calls"][0]["ticket_id"] == 17
    assert after["waiting_total"] == 1 and after["services"][0]["waiting"] == 1
    assert run["paused"]["state"] == "paused" and run["paused"]["pause_reason"] == "Họp"
    assert run["stillPaused"] == "paused"  # opening does not lift a pause
    final = run["final"]
    counter = final["counters"][0]
    assert counter["state"] == "open" and counter["current_ticket"] is None
    assert final["seq"] == 6


def test_apply_move_counts_people_ahead_from_keys(run):
    assert run["moves"] == [True, True, True, True] and run["ahead"] == 3
    assert run["own"] is False  # the tracker's own ticket left the line: it must sync
    assert run["insane"] is False  # fewer than nobody ahead: sync


def test_the_counter_is_freed_exactly_by_the_events_the_server_table_says(rules_js):
    """live.js's release rule is the server's (engine/states.py), for every event type."""
    rules = browser_rules()
    types = sorted(rules["after"]) + list(OTHER_EVENTS)
    freed = run_releases(rules_js, types)["freed"]
    assert freed == {t: t in rules["releases"] for t in types}
    assert rules["releases"]  # the comparison above is not vacuous


def test_a_ticket_is_seated_at_its_counter_by_the_events_the_table_says(rules_js):
    """A start and an undo put the ticket (back) at its counter on every board, as a call
    does: live.js reads ``seats`` from the server's table."""
    rules = browser_rules()
    types = sorted(rules["after"]) + list(OTHER_EVENTS)
    seated = run_releases(rules_js, types)["seated"]
    assert seated == {t: t in rules["seats"] for t in types}
    assert {"called", "recalled", "started", "undone"} <= set(rules["seats"])


def test_apply_event_refuses_to_guess_without_the_rules():
    freed = run_releases(None, ["finished"])["freed"]
    assert "rules.js" in freed["finished"]


def test_a_page_that_polls_by_itself_starts_no_sync_timer(rules_js):
    assert run_releases(rules_js, [])["periods"] == [60000]
