"""The satellite daemon: ingest, inference, post-processing, spool, downlink, commands.

Never imports torch (the edge footprint is part of the product).
"""
