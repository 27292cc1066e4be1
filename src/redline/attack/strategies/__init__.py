"""Attack strategies: how an automated attacker attacks, one class in one module each.

- :mod:`.base` - the :class:`~.base.Strategy` protocol and what it takes and gives
  (:class:`~.base.Budget`, :class:`~.base.Plan`, :class:`~.base.Kit`,
  :class:`~.base.Lineage`);
- :mod:`.registry` - ``STRATEGIES``, the names ``redline attack --strategy`` accepts
  (built-in, or from another package's ``redline.attack_strategies`` entry points);
- :mod:`.zero_shot`, :mod:`.few_shot` - the attacker writes every human turn, from
  instructions and a topic, or from successful human attacks shown as examples;
- :mod:`.pair`, :mod:`.tap`, :mod:`.crescendo`, :mod:`.many_shot` - iterative searches
  steered by a judge within a query budget, every query stored with its lineage
  (:mod:`.search` holds what they share, :mod:`.judging` what a verdict means to them).

This package imports nothing, so listing the names loads no model or store code.
"""
