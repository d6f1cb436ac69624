"""ketaclinic: software that runs a ketamine infusion clinic for PTSD end to end."""

__version__ = "0.1.0"
