"""`osml secrets`: keys and encrypted values for credentials kept in Git.

The plaintext of a secret is read from standard input or a hidden prompt, never from a
command-line argument (which would land in shell history and process lists).
`decrypt` is the one command that prints a secret, because it is asked to.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.cli.base import main
from reconciler.cli.params import InputPath, KeyFile
from reconciler.errors import SecretError
from reconciler.manifests.rekeying import rekey
from reconciler.secrets.encrypting import KEY_ENV, SecretKey, decrypt, encrypt, load_key

NEW_KEY_ENV = "OSML_NEW_SECRET_KEY"

key_file_option = click.option(
    "--key-file",
    type=KeyFile(),
    help=f"File holding the key (default: the {KEY_ENV} environment variable).",
)


def _require_key(key_file: Path | None, *, env_var: str = KEY_ENV) -> SecretKey:
    key = load_key(key_file=key_file, env_var=env_var)
    if key is None:
        raise SecretError(f"no key: set {env_var} or pass a key file")
    return key


@main.group()
def secrets() -> None:
    """Create keys and encrypt credentials for manifests."""


@secrets.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, readable=False, path_type=Path),
    help="Write the key to this file (mode 0600) instead of standard output.",
)
def keygen(out: Path | None) -> None:
    """Generate a new random 256-bit key."""
    key = SecretKey.generate()
    if out is None:
        click.echo(key.to_text())
        return
    try:
        # O_EXCL: a key file is never overwritten, or every value under the old key is lost.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretError(f"{out} already exists; osml never overwrites a key file") from None
    except OSError as exc:
        raise SecretError(f"cannot create key file {out}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key.to_text() + "\n")
    click.echo(f"Wrote key {key.key_id} to {out}", err=True)


@secrets.command("encrypt")
@key_file_option
@click.argument("refused", nargs=-1, metavar="")
def encrypt_command(key_file: Path | None, refused: tuple[str, ...]) -> None:
    """Encrypt a value read from standard input (or a hidden prompt on a terminal).

    Prints the ciphertext for `credential: {key: {encrypted: ...}}`.
    """
    if refused:
        # Caught here rather than by click, whose "unexpected extra argument" would print it.
        raise click.UsageError(
            "the value is read from standard input or a hidden prompt, never from an "
            "argument (arguments stay in shell history and process lists)"
        )
    key = _require_key(key_file)
    if sys.stdin.isatty():
        value = click.prompt("Secret value", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise SecretError("nothing to encrypt: the value is empty")
    click.echo(encrypt(value, key))


@secrets.command("decrypt")
@key_file_option
@click.argument("ciphertext", required=False)
def decrypt_command(key_file: Path | None, ciphertext: str | None) -> None:
    """Print the plaintext of CIPHERTEXT (or of standard input)."""
    key = _require_key(key_file)
    text = ciphertext if ciphertext is not None else sys.stdin.read().strip()
    click.echo(decrypt(text, key).reveal())


@secrets.command("rekey")
@key_file_option
@click.option(
    "--new-key-file",
    type=KeyFile(),
    help=f"File holding the new key (default: the {NEW_KEY_ENV} environment variable).",
)
@click.argument("paths", nargs=-1, type=InputPath())
def rekey_command(
    key_file: Path | None, new_key_file: Path | None, paths: tuple[Path, ...]
) -> None:
    """Re-encrypt every encrypted value under PATHS (default manifests/) with a new key."""
    old = _require_key(key_file)
    new = _require_key(new_key_file, env_var=NEW_KEY_ENV)
    result = rekey(paths or (Path("manifests"),), old=old, new=new)
    for file, count in result.files:
        click.echo(f"{file}: {count} value(s) re-encrypted")
    click.echo(f"Re-encrypted {result.total} value(s) from key {old.key_id} to key {new.key_id}.")
