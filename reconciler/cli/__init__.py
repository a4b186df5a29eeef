"""The osml command line: the only place that prints or exits.

Each command maps its options to one core call. Every ReconcilerError becomes
`Error: ...` on stderr and exit 1; anything else is a bug and keeps its traceback.
Command groups live in sibling modules; importing them here registers them on `main`.
"""

from reconciler.cli import (
    apply,  # noqa: F401  (registers apply)
    destroy,  # noqa: F401  (registers destroy)
    export,  # noqa: F401  (registers export)
    fmt,  # noqa: F401  (registers fmt)
    plan,  # noqa: F401  (registers plan)
    sandbox,  # noqa: F401  (registers sandbox)
    secrets,  # noqa: F401  (registers secrets)
    show,  # noqa: F401  (registers show)
    state,  # noqa: F401  (registers lock, state, import)
    validate,  # noqa: F401  (registers validate, schema)
    watch,  # noqa: F401  (registers watch)
)
from reconciler.cli.base import main

__all__ = ["main"]
