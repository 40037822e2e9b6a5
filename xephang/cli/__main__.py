"""``python -m xephang.cli``: the same as the ``xephang`` command."""

from . import main

main()
