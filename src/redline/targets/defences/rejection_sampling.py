"""The ``rs`` defence (``rsK``): K samples from the HHH-prompted model, ranked by a
harmlessness scorer (the packaged preference model unless the caller gives one), the
least harmful shown (the paper's rejection sampling)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from redline.errors import ConfigError
from redline.targets.defences.base import Defence, DefenceSpec, TargetParts
from redline.targets.defences.sampling import DEFAULT_K, RejectionSamplingTarget
from redline.vocabulary import REJECTION_SAMPLING


class RejectionSamplingDefence(Defence):
    """``rs`` or ``rsK``; the ``k`` option overrides the number in the name."""

    name = "rs"
    pattern = r"rs(?P<k>\d*)"
    usage = f"rs (k={DEFAULT_K}) or rsK such as rs16"
    model_type = REJECTION_SAMPLING
    needs_scorer = True
    scorer = "pm"
    options: ClassVar[Mapping[str, type]] = {"k": int}
    # rs replies are scored by a PM trained on 64-token replies, and a turn draws 16 of
    # them: 64 tokens keep it interactive (about 13 s on 2 cores).
    default_max_tokens = 64

    @classmethod
    def spec(cls, match: re.Match[str], options: Mapping[str, Any]) -> DefenceSpec:
        digits = match["k"]
        k = options.get("k")
        count = int(k) if k is not None else int(digits) if digits else DEFAULT_K
        if count < 1:
            raise ConfigError(
                f"defence {match.string!r}: rejection sampling needs k >= 1, got {count}"
            )
        return DefenceSpec(cls.name, f"rs{count}", cls.model_type, cls.needs_scorer, count)

    @classmethod
    def build(cls, spec: DefenceSpec, parts: TargetParts) -> RejectionSamplingTarget:
        assert parts.scorer is not None, "build_defended_target checks needs_scorer"
        return RejectionSamplingTarget(
            parts.info,
            parts.backend,
            parts.scorer,
            k=spec.k or DEFAULT_K,
            max_tokens=parts.max_tokens,
            temperature=parts.temperature,
        )
