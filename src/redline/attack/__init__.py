"""Replay and automated red teaming, and comparing targets under the same attacks.

Public surface (the rest is internal):
- :func:`replay` - stored or file human attacks re-run against targets (``origin=replay``);
- :func:`attack` - an attacker LM writes attacks (``origin=automated``);
- :func:`compare`, :func:`comparison_figure` - per-target intervals and paired tests,
  pure functions of an attempts frame (:func:`comparison_frame` / :func:`add_pair_key`);
- :func:`diversity` - human vs automated attacks on the attack map;
- :func:`run_study` - the Figure-1 experiment;
- :class:`Runtime`, :class:`RegistryTargets`, :class:`DefaultPM` - what workers build;
- :func:`make_executor` - this process, a process pool, or Ray.
"""

from redline.attack.automated import attack
from redline.attack.compare import Comparison, compare, comparison_figure
from redline.attack.diversity import Diversity, diversity
from redline.attack.executors import make_executor
from redline.attack.frame import add_pair_key, comparison_frame
from redline.attack.replay import replay
from redline.attack.runner import RunReport
from redline.attack.runtime import RegistryTargets, Runtime
from redline.attack.scoring import DefaultPM, KeywordScorer, ReplyScorer
from redline.attack.sources import attacks_from_store, import_attacks
from redline.attack.study import StudyConfig, run_study

__all__ = [
    "Comparison",
    "DefaultPM",
    "Diversity",
    "KeywordScorer",
    "RegistryTargets",
    "ReplyScorer",
    "RunReport",
    "Runtime",
    "StudyConfig",
    "add_pair_key",
    "attack",
    "attacks_from_store",
    "compare",
    "comparison_figure",
    "comparison_frame",
    "diversity",
    "import_attacks",
    "make_executor",
    "replay",
    "run_study",
]
