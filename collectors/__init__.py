"""Collectors bring data into Parity: input formats, name normalisation and benchmarks.

Nothing here imports `reporter`; the reporter imports collectors and stores what they return.
"""
