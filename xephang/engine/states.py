"""The one table of ticket states and the transitions between them.

Every rule about a ticket's lifecycle reads this module: the engine checks
an operation against ``TRANSITIONS`` before it writes, the event-log replay
rebuilds states from it, the realtime hub derives who joins or leaves a
line from it, and the browser code gets it as ``window.XephangRules``
(``browser_rules``, served at ``/xephang/rules.js``) instead of a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import IllegalTransitionError

WAITING, CALLED, SERVING, DONE = "waiting", "called", "serving", "done"
NO_SHOW, TRANSFERRED, CANCELLED, EXPIRED = "no_show", "transferred", "cancelled", "expired"


@dataclass(frozen=True)
class State:
    """A ticket state: its names, whether a counter holds it, whether it is over."""

    name: str
    vi: str
    en: str
    at_counter: bool = False
    final: bool = False


STATES: dict[str, State] = {
    s.name: s
    for s in (
        State(WAITING, "Đang chờ", "Waiting"),
        State(CALLED, "Đã gọi", "Called", at_counter=True),
        State(SERVING, "Đang phục vụ", "Being served", at_counter=True),
        State(DONE, "Đã xong", "Done", final=True),
        State(NO_SHOW, "Vắng mặt", "No-show", final=True),
        State(TRANSFERRED, "Đã chuyển", "Transferred", final=True),
        State(CANCELLED, "Đã hủy", "Cancelled", final=True),
        State(EXPIRED, "Hết hạn", "Expired", final=True),
    )
}
STATUS_VI = {name: s.vi for name, s in STATES.items()}
AT_COUNTER = tuple(name for name, s in STATES.items() if s.at_counter)


@dataclass(frozen=True)
class Transition:
    """An event that moves a ticket: the states it may leave, the state it leaves behind.

    ``action`` is the name staff use for it (the API path, the counter
    screen's button); ``verb_vi`` goes into the refusal message. A target of
    ``RESTORED`` means the state the ticket had before the move it undoes
    (undoing a transfer puts a called ticket back to called, a served one to
    serving); ``replay_states`` and ``state_before`` follow it.
    """

    event: str
    action: str | None
    sources: tuple[str, ...]
    target: str
    verb_vi: str

    @property
    def restores(self) -> bool:
        return self.target == RESTORED


RESTORED = "restored"  # the target of an undo: the state before the undone move

# A no-show can be brought back the same day: called again (by its id or code, with a
# reason) or returned to the line at its original place. The last no-show, finish or
# transfer of a counter can be undone shortly after, if nothing happened since
# (engine.calls.undo: UNDOABLE, UNDO_WINDOW_S).
TRANSITIONS: tuple[Transition, ...] = (
    Transition("issued", None, (), WAITING, "lấy số"),
    Transition("called", "call", (WAITING, NO_SHOW), CALLED, "gọi"),
    Transition("recalled", "recall", (CALLED,), CALLED, "gọi lại"),
    Transition("started", "start", (CALLED,), SERVING, "bắt đầu phục vụ"),
    Transition("finished", "finish", (SERVING,), DONE, "kết thúc"),
    Transition("no_show", "no-show", (CALLED,), NO_SHOW, "đánh vắng mặt"),
    Transition("transferred", "transfer", (CALLED, SERVING), TRANSFERRED, "chuyển"),
    Transition("returned", "return", (CALLED, SERVING, NO_SHOW), WAITING, "trả về hàng chờ"),
    Transition("cancelled", "cancel", (WAITING, CALLED), CANCELLED, "hủy"),
    Transition("expired", None, (WAITING,), EXPIRED, "hết hạn"),
    Transition("undone", "undo", (NO_SHOW, DONE, TRANSFERRED), RESTORED, "hoàn tác"),
)
# The moves ``undone`` takes back, and for how long after them.
UNDOABLE = ("no_show", "finished", "transferred")
UNDO_WINDOW_S = 30
BY_EVENT = {t.event: t for t in TRANSITIONS}
# Staff actions on one ticket through /api/v1/tickets/<id>/<action> (calling goes
# through a counter instead).
TICKET_ACTIONS = tuple(t.action for t in TRANSITIONS if t.action and t.action != "call")


def check(ticket: dict, event: str) -> Transition:
    """The transition ``event`` makes from the ticket's state; raises if it is not allowed."""
    move = BY_EVENT[event]
    if ticket["status"] not in move.sources:
        raise IllegalTransitionError(
            f"Không thể {move.verb_vi} số {ticket['code']} khi đang ở trạng thái"
            f" '{STATUS_VI[ticket['status']]}'",
            f"Cannot {move.action or event} a ticket in state {ticket['status']}",
            ticket_status=ticket["status"],
        )
    return move


def state_after(event: str) -> str | None:
    """The state an event leaves its ticket in; None for events that move no ticket
    (and for an undo, whose state is the one before the undone move: ``replay``)."""
    move = BY_EVENT.get(event)
    return move.target if move and not move.restores else None


def replay(events) -> dict[int, str]:
    """Ticket states from (ticket id, event type) pairs in log order, through this table."""
    now: dict[int, str] = {}
    before: dict[int, str | None] = {}
    for ticket_id, event in events:
        move = BY_EVENT.get(event)
        if move is None:
            continue  # printed, rated: no move
        if move.restores:
            now[ticket_id] = before[ticket_id]
            continue
        before[ticket_id] = now.get(ticket_id)
        now[ticket_id] = move.target
    return now


def joins_line(event: str, from_status: str | None) -> bool:
    """Whether the event puts its ticket into a waiting line."""
    return state_after(event) == WAITING and from_status != WAITING


def leaves_line(event: str, from_status: str | None) -> bool:
    """Whether the event takes its ticket out of a waiting line."""
    after = state_after(event)
    return from_status == WAITING and after is not None and after != WAITING


def releases_counter(event: str) -> bool:
    """Whether the event frees the counter that held its ticket."""
    move = BY_EVENT.get(event)
    return bool(move and set(move.sources) & set(AT_COUNTER) and move.target not in AT_COUNTER)


def seats_at_counter(event: str) -> bool:
    """Whether the event leaves its ticket held by a counter (a call, a start, an undo:
    only moves from a counter are undone, and they go back to it)."""
    move = BY_EVENT.get(event)
    return bool(move and (move.target in AT_COUNTER or move.restores))


def browser_rules() -> dict:
    """The table as the browser code uses it (``window.XephangRules``).

    ``states``: each state's names and flags; ``needs``: each staff action
    (the API's name) → the states it may start from; ``ticket_actions``: the
    actions on one ticket (``/api/v1/tickets/<id>/<action>``, the counter
    screen's buttons for its current ticket; ``call`` goes through a
    counter); ``releases``: the events that free the counter holding the
    ticket; ``seats``: the events after which a counter holds the ticket;
    ``after``: each event → the state it leaves its ticket in ("restored" for
    an undo); ``undo_window_s``: how long after a move it may be undone.
    """
    return {
        "states": {
            name: {"vi": s.vi, "en": s.en, "at_counter": s.at_counter, "final": s.final}
            for name, s in STATES.items()
        },
        "needs": {t.action: list(t.sources) for t in TRANSITIONS if t.action},
        "ticket_actions": list(TICKET_ACTIONS),
        "releases": [t.event for t in TRANSITIONS if releases_counter(t.event)],
        "seats": [t.event for t in TRANSITIONS if seats_at_counter(t.event)],
        "after": {t.event: t.target for t in TRANSITIONS},
        "undoable": list(UNDOABLE),
        "undo_window_s": UNDO_WINDOW_S,
    }
