"""Pharmacokinetic models and exact simulation of ketamine. NumPy/SciPy only."""
