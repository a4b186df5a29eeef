"""`python -m reconciler` runs the osml command line."""

from reconciler.cli import main

main()
