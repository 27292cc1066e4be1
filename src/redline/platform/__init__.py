"""The red-team web platform (FastAPI, server-rendered HTML, a little JS of our own).

``create_app(store, settings, resolve_target=..., target_names=...)`` builds the app;
``redline serve`` runs it. Importing this package loads no language model.
"""

from redline.platform.app import create_app

__all__ = ["create_app"]
