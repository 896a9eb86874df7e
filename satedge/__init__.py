"""satedge core: what every part shares (configuration, clock, logging, CLI, keys).

It depends on nothing heavier than pydantic and pyzmq, so the onboard image
stays slim. It is the one package every other part may import
(docs/architecture.md, "Who imports whom").
"""

__version__ = "0.1.0"
