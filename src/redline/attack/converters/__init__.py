"""Converters: what happens to a human message on its way to the target.

PyRIT and garak show that many defences fail on an encoded, spaced, translated or
role-played form of a request they refuse in plain words, so any attack or replay can
send its human turns through a chain of converters (``--converter base64,roleplay``:
applied in that order). The store keeps what the target saw as the turn's text and, in
``Attempt.extra``, the chain and the original text.

- :mod:`.base` - the :class:`~.base.Converter` protocol, the picklable
  :class:`~.base.ConverterSpec` a worker builds converters from, parsing ``--converter``
  and applying a chain (a failed step is recorded and its input kept);
- :mod:`.registry` - ``CONVERTERS``, built-in or from another package's
  ``redline.converters`` entry points;
- one module per converter: :mod:`.base64_encoding`, :mod:`.rot13`, :mod:`.leetspeak`,
  :mod:`.spacing`, :mod:`.roleplay`, :mod:`.translation` (through a model).

This package imports nothing, so listing the names loads no model.
"""
