"""Plots rendered to bytes (SVG or PNG) with matplotlib's Agg machinery, never pyplot.

Each module renders one kind of figure from core results and returns the file's bytes; writing
them anywhere is the caller's business.
"""
