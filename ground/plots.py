"""The report's pictures (matplotlib, Agg: no display needed). One function per PNG."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from satedge.vocabulary import CLASS_NAMES, POST_ONLY  # noqa: E402

# The report's parts as ground.report.build_report makes them: JSON documents.
Report = dict[str, Any]
Rows = list[dict[str, Any]]

PRIORITY_NAMES = {0: "0 destroyed", 1: "1 major", 2: "2 minor", 3: "3 no damage"}
PRIORITY_COLOURS = {0: "#b2182b", 1: "#ef8a62", 2: "#fddb6d", 3: "#67a9cf"}
CLASS_COLOURS = {1: "#1a9850", 2: "#fee08b", 3: "#fc8d59", 4: "#d73027"}


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def latency(report: Report, summaries: Rows, features: Rows, path: Path) -> str:
    """Acquisition-to-reception latency per priority: do the urgent scenes come down first?"""
    by_prio: defaultdict[int, list[float]] = defaultdict(list)
    for s in summaries:
        by_prio[s["prio"]].append((s["received"] - s["acq"]) / 60.0)
    fig, ax = plt.subplots(figsize=(7, 4))
    if by_prio:
        prios = sorted(by_prio)
        parts = ax.violinplot([by_prio[p] for p in prios], positions=prios, showmedians=True, widths=0.8)
        # The stubs type "bodies" as one Collection; it is a list of them, one per violin.
        for body, p in zip(cast(list[PolyCollection], parts["bodies"]), prios):
            body.set_facecolor(PRIORITY_COLOURS[p])
            body.set_alpha(0.7)
        for p in prios:
            stats = report["latency_s"][str(p)]
            ax.annotate(f"n={stats['count']}\np95={stats['p95'] / 60:.1f} min", (p, max(by_prio[p])),
                        textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        ax.set_xticks(prios, [PRIORITY_NAMES[p] for p in prios])
        ax.set_ylim(0, 1.2 * max(max(v) for v in by_prio.values()) + 1)  # room for the labels
    ax.set_xlabel("priority")
    ax.set_ylabel("latency, acquisition to reception (sim. minutes)")
    ax.set_title("Latency per priority")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def bytes_per_pass(report: Report, summaries: Rows, features: Rows, path: Path) -> str:
    """What each pass carried, against what the raw imagery of the same scenes would have cost."""
    passes = [p for p in report["passes"] if p["summaries"] or p["bytes_received"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    x = range(len(passes))
    ax.bar([i - 0.2 for i in x], [p["bytes_received"] or p["summary_bytes"] for p in passes], width=0.4,
           label="downlinked (summaries)", color="#2166ac")
    ax.bar([i + 0.2 for i in x], [p["raw_bytes"] for p in passes], width=0.4,
           label="raw imagery they stand for", color="#bababa")
    ax.bar(x, [p["bytes_granted"] for p in passes], width=0.9, fill=False, edgecolor="#333", linestyle=":",
           label="credit granted")
    ax.set_yscale("log")
    ax.set_xticks(list(x), [str(p["win"]) for p in passes])
    ax.set_xlabel("contact window")
    ax.set_ylabel("bytes (log)")
    ratio = report["bytes"]["raw_per_summary_byte"]
    ax.set_title(f"Bytes per pass (raw / summary = {ratio}x)" if ratio else "Bytes per pass")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def timeline(report: Report, summaries: Rows, features: Rows, path: Path) -> str:
    """Windows as bands, each summary as a dot at its reception time, by priority."""
    origin = min([p["start"] for p in report["passes"]] + [s["acq"] for s in summaries], default=0.0)

    def hours(t: float) -> float:
        return (t - origin) / 3600.0

    fig, ax = plt.subplots(figsize=(11, 3.8))
    for p in report["passes"]:
        ax.axvspan(hours(p["start"]), hours(p["end"]), color="#c6dbef", alpha=0.8, lw=0)
        ax.text(hours(p["start"]), 3.55, f"w{p['win']}: {p['summaries']}, {p['summary_bytes'] / 1e3:.1f} kB",
                fontsize=7, rotation=90, va="bottom", ha="left")
    for prio in sorted({s["prio"] for s in summaries}):
        mine = [s for s in summaries if s["prio"] == prio]
        ax.scatter([hours(s["received"]) for s in mine], [prio] * len(mine), s=18, color=PRIORITY_COLOURS[prio],
                   edgecolor="k", linewidth=0.3, label=f"received, prio {PRIORITY_NAMES[prio]}", zorder=3)
        ax.scatter([hours(s["acq"]) for s in mine], [prio + 0.25] * len(mine), s=8, marker="|",
                   color=PRIORITY_COLOURS[prio], zorder=3)
    ax.set_ylim(-0.5, 5.2)
    ax.set_yticks([0, 1, 2, 3], ["0", "1", "2", "3"])
    ax.set_ylabel("priority")
    ax.set_xlabel("simulated hours (| = acquisition, dot = reception, band = contact window)")
    ax.set_title("Contact windows and what came down in each")
    if summaries:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _save(fig, path)


def damage_map(report: Report, summaries: Rows, features: Rows, path: Path) -> str:
    """Every reported building at its centroid, coloured by damage class; hollow if graded post-only."""
    fig, ax = plt.subplots(figsize=(7, 6))
    for cls in (1, 2, 3, 4):
        mine = [f for f in features if f["properties"]["cls"] == cls]
        for hollow in (False, True):
            pts = [f["geometry"]["coordinates"] for f in mine if (f["properties"]["basis"] == POST_ONLY) == hollow]
            if not pts:
                continue
            label = f"{CLASS_NAMES[cls - 1]}{', post-only' if hollow else ''} ({len(pts)})"
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, label=label, linewidth=0.8 if hollow else 0.2,
                       facecolor="none" if hollow else CLASS_COLOURS[cls],
                       edgecolor=CLASS_COLOURS[cls] if hollow else "k")
    for s in summaries:
        lon0, lat0, lon1, lat1 = s["body"]["bbox"]
        ax.add_patch(Rectangle((lon0, lat0), lon1 - lon0, lat1 - lat0, fill=False, lw=0.5, color="#777"))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(f"Reported buildings ({len(features)}) and scene footprints")
    ax.set_aspect("equal", adjustable="datalim")
    if features:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


PLOTS = {"latency.png": latency, "bytes_per_pass.png": bytes_per_pass, "timeline.png": timeline,
         "damage_map.png": damage_map}


def draw_all(report: Report, summaries: Rows, features: Rows, out_dir: Path) -> list[str]:
    """Every plot into `out_dir`; the file names, for the report to list."""
    return [draw(report, summaries, features, out_dir / name) for name, draw in PLOTS.items()]
