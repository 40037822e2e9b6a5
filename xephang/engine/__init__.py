"""The queue engine: plain functions over a sqlite_utils.Database.

No request, no emit: every operation is one BEGIN IMMEDIATE transaction and
returns an ``Outcome`` whose events the caller hands to the realtime hub.
"""

from .calls import (
    call_next,
    call_ticket,
    cancel,
    finish,
    no_show,
    pick_next,
    recall,
    return_to_queue,
    start,
    transfer,
)
from .chain import replay_states, verify_log
from .core import STATUS_VI, Outcome, find_service, get_counter, get_office, get_ticket
from .counters import close_counter, close_day, open_counter, pause, resume
from .queries import current_seq, snapshot, waiting_list
from .settings import OFFICE_SETTINGS, office_setting, office_settings, set_office_setting
from .setup import (
    add_counter,
    add_priority_category,
    add_service,
    create_office,
    delete_target,
    record_setup_change,
    set_counter_services,
    set_target,
    target_on,
    update_counter,
    update_office,
    update_priority_category,
    update_service,
)
from .tickets import estimate_wait, issue_ticket, office_is_open, rate_ticket, record_print
from .views import ticket_view

__all__ = [
    "OFFICE_SETTINGS", "STATUS_VI", "Outcome", "add_counter", "add_priority_category",
    "add_service", "call_next", "call_ticket", "cancel", "close_counter", "close_day",
    "create_office", "current_seq", "estimate_wait", "find_service", "finish", "get_counter",
    "get_office", "get_ticket", "issue_ticket", "no_show", "office_is_open", "office_setting",
    "office_settings", "open_counter", "pause", "pick_next", "rate_ticket", "recall",
    "record_print", "replay_states", "resume", "return_to_queue", "set_counter_services",
    "set_office_setting", "set_target", "snapshot", "start", "target_on", "ticket_view",
    "transfer", "verify_log", "waiting_list", "delete_target", "record_setup_change",
    "update_counter", "update_office", "update_priority_category", "update_service",
]
