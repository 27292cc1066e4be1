"""Defences: what turns a backend into a target a red teamer talks to (DESIGN.md section 5).

A defence decides which messages the backend sees before the red-team conversation and,
for rejection sampling, which of many samples are shown. Each is one class in one module,
found through :data:`DEFENCES` (built-ins below, or another package's entry point in the
group ``redline.defences``):

- ``plain`` (:mod:`.plain`): a 1-shot, 3-turn example conversation (the paper's plain LM);
- ``hhh`` (:mod:`.hhh`): 14 helpful, honest, harmless example conversations (the paper's
  prompted LM, published as "context distillation");
- ``rsK`` (:mod:`.rejection_sampling`): K samples from the HHH-prompted model, ranked by
  a harmlessness :class:`~redline.targets.base.Scorer`; the ``n`` least harmful shown;
- ``rlhf`` (:mod:`.rlhf`): a model fine-tuned against the PM, shown the plain prompt.
"""

from redline.targets.defences.base import Defence, DefenceSpec, TargetParts
from redline.targets.defences.prompted import PromptedDefence, PromptedTarget, check_conversation
from redline.targets.defences.prompts import FewShotPrompt, load_prompt
from redline.targets.defences.registry import (
    DEFENCES,
    build_defended_target,
    defence_class,
    needs_scorer,
    parse_defence,
)
from redline.targets.defences.sampling import (
    DEFAULT_K,
    RejectionSamplingTarget,
    embeddings_usable,
    rank_by_harmlessness,
    score_samples,
)

__all__ = [
    "DEFAULT_K",
    "DEFENCES",
    "Defence",
    "DefenceSpec",
    "FewShotPrompt",
    "PromptedDefence",
    "PromptedTarget",
    "RejectionSamplingTarget",
    "TargetParts",
    "build_defended_target",
    "check_conversation",
    "defence_class",
    "embeddings_usable",
    "load_prompt",
    "needs_scorer",
    "parse_defence",
    "rank_by_harmlessness",
    "score_samples",
]
