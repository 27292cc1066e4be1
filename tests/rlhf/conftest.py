"""Fixtures for training tests: these need the ``train`` extra (torch, TRL, PEFT, gguf).

CI must install it (``pip install torch==2.13.0 && pip install -e '.[dev,train]'``); the
skip below is only for a developer machine without it.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def policy() -> Any:
    """SmolLM2-135M dequantised from the embedded GGUF (about 30 s to load)."""
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    from redline.config import load_settings
    from redline.rlhf.policy import load_policy

    return load_policy("smollm2-135m", load_settings())
