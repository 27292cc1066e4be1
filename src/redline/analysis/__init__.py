"""Analyses: pure functions from the attempts frame (:mod:`redline.analysis.frame`) to
tables and figures, and the report that gathers them.

This package imports nothing itself: ``redline stats`` reads Table 1 through
:mod:`redline.analysis.cells` (SQL, no pandas) and must not pay for pandas here.
"""
