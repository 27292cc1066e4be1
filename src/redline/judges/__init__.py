"""Judges: independent measures of harm and of over-refusal, each with its calibration.

Public surface (modules are imported where used, so optional dependencies stay optional):
- :mod:`redline.judges.base` - :class:`Verdict`, :class:`JudgeInfo`, the :class:`Judge`
  protocol and :func:`identity_hash`;
- :mod:`redline.judges.registry` - ``load_judge(name)`` and the lazy name -> module table;
- :mod:`redline.judges.calibration` - held-out pairs, refusal split, benign set, reviews;
- :mod:`redline.judges.independence` - the no-self-judging rule;
- :mod:`redline.judges.overrefusal` - over-refusal of a target on the shipped benign set.
"""
