"""Reporting layer: the Markdown/HTML reports and figures of runs, walk-forwards and the live journal.

Imports from every layer below it; nothing below imports it (the commands hand it the results).
"""
