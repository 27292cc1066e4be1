"""Replay and automated red teaming, and comparing targets under the same attacks.

The public surface, by module (imported from there: this package imports nothing, so
that ``redline compare`` does not pay for scikit-learn or SciPy it never calls):
- :func:`redline.attack.replay.replay` - stored or file human attacks re-run against
  targets (``origin=replay``);
- :func:`redline.attack.automated.attack` - an attacker LM attacks with a strategy
  (``origin=automated``); strategies are plugins, one module each, in
  :mod:`redline.attack.strategies` (``redline attack --strategy NAME``);
- :func:`redline.attack.compare.compare`, :func:`~redline.attack.compare.comparison_figure`
  - per-target intervals and paired tests, pure functions of an attempts frame
  (:func:`redline.attack.frame.comparison_frame` / :func:`~redline.attack.frame.add_pair_key`);
- :func:`redline.attack.diversity.diversity` - human vs automated attacks on the attack map;
- :func:`redline.attack.study.run_study` - the Figure-1 experiment;
- :class:`redline.attack.runtime.Runtime`, :class:`~redline.attack.runtime.RegistryTargets`,
  :class:`redline.attack.scoring.DefaultPM` - what workers build;
- :func:`redline.attack.executors.make_executor` - this process, a process pool, or Ray.

How a run is split, one module per job: :mod:`~redline.attack.conversation` runs one
attacked conversation (every reply scored); :mod:`~redline.attack.resumable` runs planned
jobs resumably (skip stored keys, write each batch as it finishes); ``executors`` says
where batches run; ``runtime`` is what a worker builds targets and the scorer from.
"""
