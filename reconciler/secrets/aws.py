"""AWS keys from the AWS SDK (boto3): STS AssumeRole and the standard credential chain.

Called by `manifests.resolving` for the `fromAwsRole` and `fromAwsProfile` sources; the
keys come back as Secrets (so `scrub` knows them from the moment they exist) and never as
plain strings. boto3 is the `osml[aws]` extra: it is imported here, only when a source
needs it, and its absence is a SecretError that says how to install it.

The STS endpoint is boto3's own choice: `AWS_ENDPOINT_URL_STS` or `AWS_ENDPOINT_URL` when
set (botocore 1.31 / boto3 1.28 and later read them; the tests point them at a local
moto server), else the region's endpoint. The keys osml calls STS with come from the
same chain (environment, profile, SSO, container or instance role).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from reconciler.errors import SecretError
from reconciler.secrets.leases import Issued, Lease
from reconciler.secrets.values import Secret, scrub

INSTALL = "pip install 'osml[aws]'"
DEFAULT_SESSION_NAME = "osml"


def _boto3(source: str) -> Any:
    try:
        import boto3  # noqa: PLC0415
    except ImportError as exc:
        raise SecretError(f"{source} needs the AWS SDK (boto3): {INSTALL}") from exc
    return boto3


def sdk_missing(source: str) -> str | None:
    """Why `source` cannot be resolved in this installation, or None when boto3 is here."""
    try:
        _boto3(source)
    except SecretError as exc:
        return str(exc)
    return None


def assume_role(
    role_arn: str,
    *,
    session_name: str | None,
    seconds: int,
    source: str,
    clock: Callable[[], dt.datetime] | None = None,
) -> Issued:
    """New keys for `role_arn` from STS AssumeRole, valid for `seconds`."""
    boto3 = _boto3(source)
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    now = clock() if clock is not None else dt.datetime.now(dt.UTC)
    try:
        answer = (
            boto3.session.Session()
            .client("sts")
            .assume_role(
                RoleArn=role_arn,
                RoleSessionName=session_name or DEFAULT_SESSION_NAME,
                DurationSeconds=seconds,
            )
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        raise SecretError(scrub(f"{source}: STS AssumeRole failed: {reason}")) from None
    except BotoCoreError as exc:
        raise SecretError(scrub(f"{source}: STS AssumeRole failed: {exc}")) from None
    given = answer["Credentials"]
    keys = {
        "access_key": Secret(str(given["AccessKeyId"]), source=source),
        "secret_key": Secret(str(given["SecretAccessKey"]), source=source),
        "session_token": Secret(str(given["SessionToken"]), source=source),
    }
    expires = given["Expiration"]
    if not isinstance(expires, dt.datetime):
        expires = dt.datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    return Issued(keys, Lease(source=source, issued=now, expires=expires))


def chain_keys(profile: str | None, *, source: str) -> dict[str, Secret]:
    """The keys the AWS credential chain (or the named `profile`) gives now."""
    boto3 = _boto3(source)
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415

    try:
        credentials = boto3.session.Session(profile_name=profile).get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
    except BotoCoreError as exc:
        raise SecretError(scrub(f"{source}: {exc}")) from None
    if frozen is None or not frozen.access_key:
        raise SecretError(f"{source}: the AWS credential chain found no credentials")
    keys = {
        "access_key": Secret(str(frozen.access_key), source=source),
        "secret_key": Secret(str(frozen.secret_key), source=source),
    }
    if frozen.token:
        keys["session_token"] = Secret(str(frozen.token), source=source)
    return keys
