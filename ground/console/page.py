"""`report.html`: the console's map as one self-contained file (Leaflet, the map code and the data inlined).

A run folder can be mailed and the file opened anywhere, offline: nothing is
fetched, not even a tile (the map draws scene footprints and buildings on a
plain background).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"


def _inline(text: str) -> str:
    """Text safe inside a <script> or <style> element: it cannot close the element early."""
    return text.replace("</", "<\\/")


def standalone_map(scenes: list[dict[str, Any]], buildings: list[dict[str, Any]], title: str) -> str:
    """The whole page: the map of `scenes` and `buildings` (as `satedge report` builds them)."""
    leaflet = STATIC / "vendor" / "leaflet"
    css = (leaflet / "leaflet.css").read_text() + (STATIC / "style.css").read_text()
    scripts = "\n".join(_inline(p.read_text()) for p in (leaflet / "leaflet.js", STATIC / "map.js"))
    payload = _inline(json.dumps({"scenes": scenes, "buildings": buildings}))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_inline(css)}</style>
</head>
<body>
<header><h1>{html.escape(title)}</h1><span class="status">{len(buildings)} buildings, {len(scenes)} scenes</span>
</header>
<div id="map"></div>
<script>{scripts}</script>
<script id="data" type="application/json">{payload}</script>
<script>
var data = JSON.parse(document.getElementById("data").textContent);
new SatMap(document.getElementById("map")).add(data.scenes, data.buildings);
</script>
</body>
</html>
"""
