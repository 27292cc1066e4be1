"""Analyses: pure functions from the attempts frame to tables and figures."""

from redline.analysis.frame import attempts_frame
from redline.analysis.tables import cell_summary

__all__ = ["attempts_frame", "cell_summary"]
