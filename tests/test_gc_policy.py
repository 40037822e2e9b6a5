"""The production server's garbage collection (``web.gc_policy``) and gevent settings.

Each check runs in a process of its own: freezing, collecting and gevent's patching
are process-wide and would reach into the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

POLICY = textwrap.dedent(
    """
    import gc, json, weakref
    from xephang.web.gc_policy import FreezeSurvivors

    now = [0.0]
    policy = FreezeSurvivors(whole_every_s=3600, growth=2.0, clock=lambda: now[0]).install()

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a, weakref.ref(a)

    seen = {}
    kept, ref = cycle()
    gc.collect()  # a walk of everything: its survivors, the cycle with them, are frozen
    seen["frozen_after_first"] = gc.get_freeze_count() > 0
    del kept
    gc.collect()  # walks only what was made since: the frozen cycle stays
    seen["kept_while_frozen"] = ref() is not None
    now[0] = 3600.0  # an hour after the walk of everything
    gc.collect()  # ... so this one unfreezes at its end
    gc.collect()  # and this one walks everything, the garbage with it
    seen["collected_after_an_hour"] = ref() is None
    seen["walks"] = [policy.whole, policy.full - policy.whole]

    # the frozen set growing past twice what the last walk of everything left
    keep = [Node() for _ in range(2 * gc.get_freeze_count() + 1000)]
    kept, ref = cycle()
    gc.collect()
    del kept
    before = policy.whole
    gc.collect()  # the first freeze of all that grew the set past twice: unfrozen
    gc.collect()
    seen["collected_after_growth"] = ref() is None
    seen["grew_whole"] = policy.whole - before
    print(json.dumps(seen))
    """
)


def run(code: str, env: dict | None = None) -> dict:
    """The last line ``code`` printed, as JSON; gevent's tree setting only from ``env``."""
    clean = {k: v for k, v in os.environ.items() if k != "GEVENT_TRACK_GREENLET_TREE"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_full_collections_freeze_their_survivors_and_walk_everything_again_within_an_hour():
    seen = run(POLICY)
    assert seen["frozen_after_first"]
    assert seen["kept_while_frozen"], "a full collection walked the frozen objects"
    assert seen["collected_after_an_hour"], "frozen garbage is kept for ever"
    assert seen["walks"] == [2, 2]  # all, new, new (unfreezes), all
    assert seen["collected_after_growth"], "a frozen set that doubled was not walked again"
    assert seen["grew_whole"] == 1


def test_the_policy_reports_on_metrics():
    seen = run(
        textwrap.dedent(
            """
            import gc, json
            from prometheus_client import CollectorRegistry, generate_latest
            from xephang.web.gc_policy import FreezeSurvivors

            policy = FreezeSurvivors().install()
            gc.collect(); gc.collect()
            registry = CollectorRegistry()
            registry.register(policy)
            text = generate_latest(registry).decode()
            lines = [l for l in text.splitlines() if l.startswith("xephang_gc_")]
            print(json.dumps({"lines": lines, "frozen": gc.get_freeze_count()}))
            """
        )
    )
    assert 'xephang_gc_full_collections_total{walk="all"} 1.0' in seen["lines"]
    assert 'xephang_gc_full_collections_total{walk="new"} 1.0' in seen["lines"]
    assert f"xephang_gc_frozen_objects {float(seen['frozen'])}" in seen["lines"]


SERVING = textwrap.dedent(
    """
    import json
    from xephang import cli
    try:
        cli.main(["serve", "--help"])  # a command that serves in this process
    except SystemExit:
        pass
    import gevent
    from gevent import monkey
    g = gevent.spawn(lambda: None)
    g.join()
    print(json.dumps({"patched": monkey.is_module_patched("socket"),
                      "stack": g.spawning_stack is not None}))
    """
)


TREE = [({}, False), ({"GEVENT_TRACK_GREENLET_TREE": "1"}, True)]


@pytest.mark.parametrize(("env", "stack"), TREE)
def test_a_serving_command_spawns_greenlets_without_their_spawning_stack(env, stack):
    assert run(SERVING, env) == {"patched": True, "stack": stack}
