"""Checks of the AWS credential sources (`fromAwsRole`, `fromAwsProfile`) of one connector.

An AWS source fills the keys the `aws_sigv4` protocol reads (reference §2.2
`AwsConnector`): `access_key`, `secret_key` and, for temporary keys, `session_token`. One
STS session or one credential-chain answer gives them together, so every key a source
fills must name the same source, and no other key may come from one. The shape of each
source (the role ARN, the session name, the duration) is checked by the model
(`manifests.models.AwsRole`) at its own line. Called by `manifests.checking` for standalone
and inline connectors; reports through the Reporter it is given, never raises.
"""

from __future__ import annotations

from reconciler.manifests.contexts import Reporter
from reconciler.manifests.models import (
    AWS_KEYS,
    AwsSource,
    ConnectorSpec,
    FromAwsProfile,
    FromAwsRole,
)

_ROLE_KEYS = AWS_KEYS
"""Every key `fromAwsRole` fills: STS always gives a session token."""
_PROFILE_KEYS = AWS_KEYS[:2]
"""The keys `fromAwsProfile` must fill; `session_token` too when the chain's keys are
temporary. Only the chain knows which: plan and apply refuse a session_token the chain
does not give, and temporary keys without their session_token (`manifests.resolving`)."""


def check_aws_sources(spec: ConnectorSpec, report: Reporter) -> None:
    """Report misplaced, partial or mixed AWS sources; `report` is at the connector body."""
    sources = {
        key: ref
        for key, ref in spec.credential.items()
        if isinstance(ref, FromAwsRole | FromAwsProfile)
    }
    if not sources:
        return
    for key, ref in sources.items():
        if key not in AWS_KEYS:
            report.error(
                f"{_name(ref)} fills credential.access_key, secret_key and session_token "
                f"only; credential.{key} cannot come from it",
                "credential",
                key,
                key=True,
            )
    placed = {k: ref for k, ref in sources.items() if k in AWS_KEYS}
    if not placed:
        return
    first_key, first = next(iter(placed.items()))
    for key in AWS_KEYS:
        given = spec.credential.get(key)
        if given is None:
            if key in (_ROLE_KEYS if isinstance(first, FromAwsRole) else _PROFILE_KEYS):
                report.error(
                    f"credential.{key} is missing: {_name(first)} fills access_key, "
                    f"secret_key and session_token together; add {key}: "
                    f"{{{_name(first)}: ...}} with the same options as {first_key}",
                    "credential",
                )
            continue
        if given != first:
            report.error(
                f"credential.{key} must come from the same {_name(first)} as "
                f"credential.{first_key} (one AWS session gives all its keys)",
                "credential",
                key,
            )
    if spec.protocol != "aws_sigv4":
        report.warning(
            f"{_name(first)} keys are read by the aws_sigv4 protocol; this connector's "
            f"protocol is {spec.protocol}",
            "protocol",
        )


def _name(ref: AwsSource) -> str:
    return "fromAwsRole" if isinstance(ref, FromAwsRole) else "fromAwsProfile"
