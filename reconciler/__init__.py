"""osml: a declarative GitOps reconciler for OpenSearch ML Commons remote models.

The package is layered (see `.importlinter`): cli > watching > applying | planning |
rendering > cluster | manifests > plans | resources | mlcommons | secrets | errors.
The sandbox (`reconciler.sandbox`) is an independent ML Commons-compatible server and
imports nothing else from this package.
"""

__version__ = "0.1.0"
