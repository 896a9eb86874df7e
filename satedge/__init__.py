"""satedge core: what every part shares (configuration, clock, logging, CLI, keys).

It depends on nothing heavier than pydantic and pyzmq, so the onboard image
stays slim. DESIGN.md's import table has no row for it; it is the one package
every other part may import.
"""

__version__ = "0.1.0"
