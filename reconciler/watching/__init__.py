"""`osml watch`: continuous reconciliation as a service.

Manifest changes (debounced) and a timer trigger cycles; each cycle plans and, in heal
mode, applies under the state lock, taken for that cycle only. Failures back
off (per cycle and per resource), events are JSON lines, and `/healthz`, `/readyz` and
`/metrics` are served over HTTP. `running` assembles the parts; `cli.watch` calls it.
"""

from reconciler.watching.cycle import CycleSettings, Mode, Status
from reconciler.watching.running import Watcher, WatchOptions, run_watch

__all__ = ["CycleSettings", "Mode", "Status", "WatchOptions", "Watcher", "run_watch"]
