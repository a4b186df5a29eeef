"""Policy as code: built-in rules and CEL rules over the manifests and the plan.

`osml validate`, `osml plan` and `osml apply` call it; it reads the project file's
`policy:` section (`configs`), runs the built-in rules (`rules`) and the repository's
CEL rules (`expressions`) on every resource (`evaluating`) and returns Findings
(`reconciler.findings`) located at manifest lines. Views of findings are in
`reconciler.rendering`. Never prints, never talks to a cluster.
"""

from reconciler.manifests.loading import PROJECT_FILE
from reconciler.policy.configs import (
    Policy,
    find_project_file,
    load_policy,
    read_policy,
)
from reconciler.policy.evaluating import evaluate
from reconciler.policy.rules import BUILTIN_RULES, RULES_BY_ID

__all__ = [
    "BUILTIN_RULES",
    "PROJECT_FILE",
    "RULES_BY_ID",
    "Policy",
    "evaluate",
    "find_project_file",
    "load_policy",
    "read_policy",
]
