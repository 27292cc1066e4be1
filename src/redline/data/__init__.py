"""Data shipped inside the package, found through ``importlib.resources``.

Why packaged: commands such as ``redline study`` and ``redline train rlhf`` need a real
attack set by default, and must work from any working directory and from an installed
wheel, where no checkout (and no data folder beside it) exists. So the file travels with
the code (``pyproject.toml`` ships ``*.gz``, ``*.md`` and ``LICENSE*`` as package data)
and is located relative to this package, never relative to the current directory.

Contents (see ``hh_rlhf/PROVENANCE.md``; MIT licence in ``hh_rlhf/LICENSE.hh-rlhf``):

- ``hh_rlhf/pairs-a.jsonl.gz``: 1,600 harmless-base preference pairs of Anthropic's
  hh-rlhf, one JSON object per line with keys ``chosen`` and ``rejected``.

``python -m redline.data`` prints the path of the pairs file (for shell scripts).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
from importlib import resources
from pathlib import Path

__all__ = ["HARMLESS_BASE_PAIRS", "harmless_base_pairs"]

#: Location of the pairs file inside the package (for messages and docs).
HARMLESS_BASE_PAIRS = "hh_rlhf/pairs-a.jsonl.gz"

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


@functools.cache
def harmless_base_pairs() -> Path:
    """Path of the packaged hh-rlhf harmless-base pairs (1,600 ``chosen``/``rejected``).

    A regular install (wheel, editable or source tree) gives the file in place; an install
    that is not on the file system (a zip) gets a temporary copy kept until exit.
    """
    resource = resources.files(__name__).joinpath(*HARMLESS_BASE_PAIRS.split("/"))
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(resources.as_file(resource))
