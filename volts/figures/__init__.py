"""Figures of volts: one module per stage; each function takes result objects and a path and writes a PNG."""
