"""The queue engine: every write and every rule, as plain functions over a sqlite_utils.Database.

No request, no emit: every operation is one BEGIN IMMEDIATE transaction and
returns an ``Outcome`` whose events the caller hands to the realtime hub
after the commit. Where each rule lives:

- ``states``: ticket states and their legal transitions (the one table);
- ``order``: queue order: call-next and people-ahead;
- ``estimate``: the wait estimate shown to citizens;
- ``tickets``, ``calls``, ``counters``: the operations;
- ``log``: the hash-chained event log; ``audit``: the setup audit;
- ``setup``, ``targets``, ``settings``, ``accounts``: an office's setup;
- ``booking``: online numbers, appointments, the caps and identities;
- ``checkin``: a booking or online number checking in, and the wrong-digits count;
- ``hours``, ``retention``, ``announcements``: opening hours, data
  retention, the spoken call.
"""

from .accounts import Principal
from .calls import (
    call_next,
    call_ticket,
    cancel,
    find_code_to_call,
    finish,
    no_show,
    recall,
    return_to_queue,
    set_dossier_code,
    start,
    transfer,
    undo,
)
from .counters import close_counter, close_day, open_counter, pause, resume
from .log import last_seq, replay_states, verify_log
from .lookups import find_service, get_counter, get_office, get_ticket
from .order import pick_next
from .outcome import Outcome
from .settings import (
    OFFICE_SETTINGS,
    office_setting,
    office_settings,
    set_office_settings,
)
from .setup import (
    add_counter,
    add_priority_category,
    add_service,
    create_office,
    rotate_board_link,
    update_counter,
    update_office,
    update_priority_category,
    update_service,
)
from .states import STATUS_VI
from .targets import Targets, delete_target, set_target
from .tickets import cancel_by_citizen, issue_ticket, rate_ticket, record_print
from .views import ticket_view

__all__ = [
    "OFFICE_SETTINGS",
    "STATUS_VI",
    "Outcome",
    "Principal",
    "Targets",
    "add_counter",
    "add_priority_category",
    "add_service",
    "call_next",
    "call_ticket",
    "cancel",
    "cancel_by_citizen",
    "close_counter",
    "close_day",
    "create_office",
    "delete_target",
    "find_service",
    "find_code_to_call",
    "finish",
    "get_counter",
    "get_office",
    "get_ticket",
    "issue_ticket",
    "last_seq",
    "no_show",
    "office_setting",
    "office_settings",
    "open_counter",
    "pause",
    "pick_next",
    "rate_ticket",
    "recall",
    "record_print",
    "replay_states",
    "resume",
    "return_to_queue",
    "rotate_board_link",
    "set_dossier_code",
    "set_office_settings",
    "set_target",
    "start",
    "ticket_view",
    "transfer",
    "undo",
    "update_counter",
    "update_office",
    "update_priority_category",
    "update_service",
    "verify_log",
]
