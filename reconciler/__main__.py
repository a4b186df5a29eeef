"""`python -m reconciler` and the `osml` script: the osml command line as a process."""

from reconciler import collecting
from reconciler.cli import main


def run() -> None:
    """Run osml. The process owns its heap, so what a bulk phase built is frozen for the
    garbage collector (`collecting`)."""
    collecting.freeze_after_pauses()
    main()


if __name__ == "__main__":
    run()
