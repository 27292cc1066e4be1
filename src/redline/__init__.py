"""Redline: red teaming language models with people and machines.

Implements the method of Ganguli et al. (2022), "Red Teaming Language Models to Reduce
Harms", and its released data format (hh-rlhf).
"""

__version__ = "0.1.0"
