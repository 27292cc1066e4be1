"""Deterministic doubles for testing a Redline plugin, like inspect_ai's mock model.

Why public: an attack strategy, a defence or a judge written in another package needs a
model that answers instantly and predictably, so its tests check the plugin's flow
(turns, seeds, resuming, storage) rather than a real model's mood. Measurements always
use real models. Both doubles are picklable recipes, so tests of process-pool and Ray
runs exercise the same code path real runs use.

- :class:`ScriptedBackend` - a :class:`~redline.targets.base.Backend` (and its own
  factory) whose replies fill a template with the seed, turn and sample index;
- :class:`ScriptedTargets` - named targets (``scripted-<size>/<defence>``) that comply
  when asked about a weapon and refuse otherwise.
"""

from redline.testing._scripted import ScriptedBackend, ScriptedTargets

__all__ = ["ScriptedBackend", "ScriptedTargets"]
