"""Secret values and their sources: redaction by construction, encryption at rest in Git.

`Secret` wraps a resolved credential so that str, repr and formatting never show it; the
value leaves the wrapper only through `reveal()`, called where a request body is built.
Imports nothing from the rest of osml but errors and durations. `leases` holds keys that
expire (minted at apply time), `aws` asks boto3 for them.
"""

from reconciler.secrets.values import REDACTED, Secret, scrub

__all__ = ["REDACTED", "Secret", "scrub"]
