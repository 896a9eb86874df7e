"""The ground station's web console (docs/console.md): a live map and an operations view.

`server` serves it with aiohttp on a thread and event loop of its own; `live`
is what the station loop hands it (an immutable snapshot, swapped in whole);
`data` reads the store read-only; `page` makes the self-contained
`report.html`. Importing this package loads none of them.
"""
