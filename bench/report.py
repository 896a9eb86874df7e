"""`bench/results.json`, the tables of `docs/performance.md`, and the tiles/s plot.

Only the part of `docs/performance.md` between the two markers is
rewritten, so the analysis written around the tables survives a re-run.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.stages import STAGES

BEGIN = "<!-- satedge bench: generated tables begin -->"
END = "<!-- satedge bench: generated tables end -->"
PLOT = "img/bench-tiles-per-s.png"
ROOFLINE = "img/bench-roofline.png"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _score(row: dict) -> str:
    score = (row.get("score") or {}).get("score")
    return "not recorded" if score is None else f"{score:.3f}" + (" (fp32 IR's)" if row["runtime"] == "pytorch" else "")


def _execution(row: dict) -> str:
    """"int8 96 % + bf16 4 %": the precisions the row's matrix layers ran in, by share of their FLOPs."""
    shares = (row.get("executed") or {}).get("shares")
    if not shares:
        return row.get("executes_in") or "–"
    return " + ".join(f"{p} {100 * s:.0f} %" for p, s in shares.items() if s >= 0.005)


def _achieved(row: dict) -> str:
    """GFLOP/s and, where this CPU's ceiling for the executed precision was measured, the share of it."""
    if not row.get("gflops"):
        return "–"
    share = f" ({100 * row['ceiling_share']:.0f} % of {row['executes_in']})" if row.get("ceiling_share") else ""
    return f"{_num(row['gflops'])}{share}"


def _threads(row: dict) -> str:
    props = row.get("properties") or {}
    if "intra_op_threads" in props:
        return f"intra-op {props['intra_op_threads']}"
    if "NUM_STREAMS" in props:
        return f"{props['NUM_STREAMS']} streams × {props['INFERENCE_NUM_THREADS']} thr, {row.get('requests')} req"
    return "–"


def _key(row: dict) -> tuple:
    """What pairs a runtime row with benchmark_app's: model, precision, variant, hint, batch and tile."""
    return row.get("model"), row["precision"], row["variant"], row["hint"], row["batch"], row.get("tile")


def _models_line(results: dict) -> list[str]:
    """One line per benched model: tile, parameters, GFLOP per tile (per tile size measured) and its weights."""
    lines = []
    for model in results.get("models") or [results["model"]]:
        sizes = ", ".join(f"{float(g):.2f} at {t}²" for t, g in (model.get("gflop_per_tile_at") or {}).items())
        arch = (model.get("training_model") or {}).get("arch", "unet")
        lines += [f"**Model {model['name']}** ({arch}): tile {model['tile']} (overlap {model['overlap']}), "
                  f"{model.get('parameters', 0):,} parameters, **{model['gflop_per_tile']:.2f} GFLOP per tile**"
                  + (f" ({sizes})" if sizes else "")
                  + f" (torch FlopCounterMode, 2 FLOP per multiply-accumulate); PyTorch weights: {model['weights']}.",
                  ""]
    return lines


def runtime_table(results: dict) -> list[str]:
    """Markdown lines: each runtime row beside benchmark_app's tiles/s on the same IR, variant, hint and batch."""
    lines = ["| model | runtime | hint | executes in (share of FLOPs) | tile | batch | tiles/s | benchmark_app tiles/s "
             "| p50 ms | p99 ms | GFLOP/s (% of the measured ceiling) | threads | IR MB | peak RSS MB | "
             "held-out xView2 |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    bench_app = {_key(r): r for r in results["rows"] if r["kind"] == "benchmark_app" and not r.get("reference_for")}
    for row in (r for r in results["rows"] if r["kind"] == "runtime"):
        head = (f"| {row.get('model', '–')} | {row['name']} | {row.get('hint') or '–'} | {_execution(row)} | "
                f"{_num(row.get('tile'))} | {row['batch']} |")
        if row["status"] != "measured":
            lines.append(f"{head} {row['status']} | | | | | | | | |")
            continue
        app = bench_app.get(_key(row))
        app_text = "–" if app is None else (_num(app.get("tiles_per_s")) if app["status"] == "measured"
                                            else app["status"])
        lines.append(f"{head} {_num(row['tiles_per_s'])} | {app_text} | {_num(row['latency_p50_ms'])} | "
                     f"{_num(row['latency_p99_ms'])} | {_achieved(row)} | {_threads(row)} | "
                     f"{_num(row.get('ir_mb'), 2)} | {_num(row.get('peak_rss_mb'), 0)} | {_score(row)} |")
    return lines


def ceilings_table(results: dict) -> list[str]:
    """Each ceiling kernel: asked and executed precision, kernel, GFLOP/s; then the copy bandwidth."""
    lines = ["| kernel | shape | asked for | executes in | CPU kernel | GFLOP/s (GOP/s for int8) |",
             "| --- | --- | --- | --- | --- | ---: |"]
    for row in (r for r in results["rows"] if r["kind"] == "ceiling"):
        head = f"| {row['kernel']} | {row['shape']} | {row['precision']} |"
        if row["status"] != "measured":
            lines.append(f"{head} {row['status']} | | |")
            continue
        kernels = ", ".join((row.get("executed") or {}).get("kernels", {})) or "–"
        lines.append(f"{head} {row['executes_in']} | {kernels} | {_num(row['gflops'])} |")
    memory = results["sections"].get("memory")
    if memory:
        lines += ["", f"Memory bandwidth (numpy copy of {memory['megabytes']} MiB on {memory['threads']} "
                      f"thread(s), bytes read + written): **{memory['gb_per_s']:.1f} GB/s**."]
    return lines


def _model_names(results: dict) -> str:
    """The run's models, as the plots' titles name them (a results file older than `models` has one)."""
    return ", ".join(m["name"] for m in results.get("models", [results["model"]]))


def daemon_table(results: dict) -> list[str]:
    """Markdown lines: daemon tiles/s (end to end, steady state) against benchmark_app, and its RSS."""
    lines = ["| IR | hint | batch | benchmark_app tiles/s | daemon tiles/s, end to end | steady state | "
             "pipeline efficiency, end to end | steady state | scenes | tiles | daemon RSS MB, ready → peak |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in (r for r in results["rows"] if r["kind"] == "daemon"):
        head = f"| {row['precision']} | {row['hint']} | {row['batch']} |"
        if row["status"] != "measured":
            lines.append(f"{head} | {row['status']} | | | | | | |")
            continue
        lines.append(f"{head} {_num(row.get('benchmark_app_tiles_per_s'))} | {_num(row['tiles_per_s'])} | "
                     f"{_num(row.get('steady_tiles_per_s'))} | {_num(row.get('efficiency'), 2)} | "
                     f"{_num(row.get('steady_efficiency'), 2)} | {row['scenes']} | {row['tiles']} | "
                     f"{_num(row.get('ready_rss_mb'), 0)} → {_num(row['peak_rss_mb'], 0)} |")
    return lines


def stages_table(results: dict) -> list[str]:
    """Per-scene stage times (ms) and the efficiency bound they set; just the status if not measured."""
    lines = []
    for row in (r for r in results["rows"] if r["kind"] == "stages"):
        if row["status"] != "measured":
            return [f"Daemon stages per scene: {row['status']}", ""]
        lines += ["What the daemon does to each scene besides inference (its own code, one thread, median ms per "
                  f"scene over {row['scenes']} scenes of {row['tiles_per_scene']:.0f} tiles, "
                  f"{row['listed_per_scene']:.0f} listed buildings):", "",
                  "| read (open, decode the scene and the reference band by band) | cut (tiles into requests) "
                  "| stitch | buildings | guard | summary | total work | inference at benchmark_app's rate "
                  "| efficiency bound on 2 cores |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                  "| " + " | ".join(f"{row.get(f'{s}_ms', 0):.0f}" for s in STAGES)
                  + f" | {row['work_ms']:.0f} | {_num(row.get('inference_ms'), 0)} | "
                  f"{_num(row.get('efficiency_bound'), 2)} |", "",
                  "The bound assumes perfect overlap: a scene costs its inference on both cores plus its other work "
                  "on one, so efficiency ≤ inference / (inference + work / 2).", ""]
    return lines


def swap_table(results: dict) -> list[str]:
    """One line per swap (seconds), then the swap run's scenes, tiles lost and daemon peak RSS."""
    lines = ["| swap | daemon's measure s | request → new model serving s | request → its first tile s | "
             "daemon's detail |", "| --- | ---: | ---: | ---: | --- |"]
    for row in (r for r in results["rows"] if r["kind"] == "swap"):
        if row["status"] != "measured":
            lines.append(f"| {row['name']} | {row['status']} | | | |")
            continue
        lines.append(f"| {row['name']} | {_num(row['daemon_s'], 3)} | {_num(row['request_to_serving_s'], 3)} | "
                     f"{_num(row.get('request_to_first_tile_s'), 3)} | {row['detail']} |")
    run = results["sections"].get("swap_run")
    if run:
        lines += ["", f"Scenes published {run['scenes_published']}, summarised {run['scenes_summarised']} "
                      f"(each exactly once: {run['scenes_summarised_once']}), in the ground store "
                      f"{run['scenes_in_ground_store']}; tiles expected {run['tiles_expected']}, summarised "
                      f"{run['tiles_summarised']}, lost {run['tiles_lost']}; summaries per precision "
                      f"{run['summaries_per_precision']}; daemon peak RSS {run['daemon_peak_rss_mb']:.0f} MB."]
    return lines


def downlink_table(results: dict) -> list[str]:
    """Bytes per summary and per listed building, and raw and JPEG bytes per summary byte."""
    lines = ["| summaries | bytes per summary | listed buildings | bytes per listed building | "
             "marginal bytes per building | raw bytes per summary byte | JPEG q90 bytes per summary byte |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in (r for r in results["rows"] if r["kind"] == "downlink"):
        if row["status"] != "measured":
            lines.append(f"| {row['status']} | | | | | | |")
            continue
        lines.append(f"| {row['summaries']} | {_num(row['bytes_per_summary'])} | {row['listed_buildings']} | "
                     f"{_num(row['bytes_per_listed_building'])} | {_num(row.get('marginal_bytes_per_building'))} | "
                     f"{_num(row['raw_per_summary_byte'], 0)} | {_num(row['jpeg_per_summary_byte'], 0)} |")
    return lines


def targets_table(results: dict) -> list[str]:
    """Each target's goal, value and verdict; also what `satedge bench` prints at the end."""
    lines = ["| target | goal | measured | met | detail |", "| --- | --- | ---: | --- | --- |"]
    for t in results["targets"]:
        verdict = {True: "**yes**", False: "**no**", None: "not measured"}[t["met"]]
        met = "**not valid**" if t.get("invalid") else verdict
        lines.append(f"| {t['target']} | {t['goal']} | {_num(t['value'], 3)} | {met} | {t['detail']} |")
    return lines


def profile_table(results: dict) -> list[str]:
    """Per profiled IR, its ten slowest layer types (ms per tile, share); the error where profiling failed."""
    lines = []
    for precision, layers in results.get("profile", {}).items():
        if not isinstance(layers, list):
            lines += [f"{precision}: {layers}", ""]
            continue
        lines += [f"OpenVINO performance counters, {precision} IR, batch 1, LATENCY hint (ms per tile, by layer "
                  "type and kernel):", "", "| layer type | kernel | ms | share |", "| --- | --- | ---: | ---: |"]
        lines += [f"| {r['layer_type']} | {r['exec_type']} | {r['ms']:.2f} | {100 * r['share']:.0f} % |"
                  for r in layers[:10]]
        lines.append("")
    return lines


def daemon_profile_table(results: dict) -> list[str]:
    """py-spy's busiest daemon threads with four hottest frames each; nothing if py-spy did not run."""
    spy = results["sections"].get("daemon_profile")
    if not spy:
        return []
    if spy.get("status") != "measured":
        return [f"py-spy on the daemon: {spy.get('status')}", ""]
    lines = [f"py-spy on the daemon ({spy['precision']}, {spy['seconds']} s while it worked through the scenes): "
             "share of wall time each Python thread was running, and its hottest innermost frames:", "",
             "| thread | active | hottest frames |", "| --- | ---: | --- |"]
    for t in spy["threads"]:
        frames = "; ".join(f"{f['frame']} {100 * f['share']:.0f} %" for f in t["hottest"][:4])
        lines.append(f"| {t['thread']} | {100 * t['active_share']:.0f} % | {frames} |")
    return lines + [""]


def generated(results: dict) -> str:
    """All that goes between the markers: run, machine, model and timing lines, then every table."""
    m, model = results["machine"], results["model"]
    plan = results["plan"]
    kind = "--quick: fewer and shorter runs, batch 1 only" if plan["quick"] else "full run"
    ov, pt = plan["openvino"], plan["torch"]
    flags = ", ".join(f for f in m["flags"] if f.startswith(("avx", "amx", "fma"))) or "none"
    lines = [BEGIN, "",
             f"Run {results['finished']} ({kind}); `satedge bench "
             + " ".join(f"--model {m['dir']}" for m in results.get("models") or [model]) + "`; the daemon, "
             f"the swap and the downlink run {model['name']}.", "",
             f"**Machine:** {m['cpu_model']}, {m['physical_cores']} physical cores ({m['logical_cpus']} logical). "
             f"Relevant CPU flags: {flags}.",
             "",
             "### This CPU's ceilings, measured with OpenVINO", "",
             "A MatMul and 3×3 convolutions asked for in f32, bf16 and int8 (FakeQuantize, as NNCF quantizes), "
             "THROUGHPUT hint; what each executed in is read from the compiled model's runtime information. "
             "A precision's ceiling is its best kernel here; each model row below is judged against the ceiling "
             "of the precision its convolutions execute in.", "", *ceilings_table(results), "",
             f"![roofline]({ROOFLINE})", "",
             *_models_line(results),
             f"Timing: warm-up, then {ov['windows']} timed windows of ≥ {ov['window_s']} s (OpenVINO) / "
             f"{pt['windows']} of ≥ {pt['window_s']} s (PyTorch), median tiles/s; "
             f"latency percentiles over every call (one call = one batch). Each row runs in a process of its own "
             f"(its peak RSS); benchmark_app runs {plan['benchmark_app_seconds']} s per row.", "",
             "### Runtimes side by side", "", f"![tiles/s per row]({PLOT})", "", *runtime_table(results), "",
             "### The onboard daemon against benchmark_app", "", *daemon_table(results), "", *stages_table(results),
             "### Precision swap in the running daemon", "", *swap_table(results), "",
             "### Downlink bytes (default scenario)", "", *downlink_table(results), "",
             "### Targets", "", *targets_table(results), ""]
    if results.get("profile") or results["sections"].get("daemon_profile"):
        lines += ["### Where the time goes", "", *profile_table(results), *daemon_profile_table(results)]
    lines += [END]
    return "\n".join(lines)


HEADER = """# Performance, measured

`satedge bench` measures everything below in one run on this machine; `bench/results.json` holds every
number with its settings. The tables between the markers are rewritten by each run.

"""


def write_markdown(results: dict, path: Path) -> None:
    """Replace what lies between the markers in `path`; a page without them gets them appended."""
    text = path.read_text() if path.exists() else HEADER + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:
        before, after = text.rstrip() + "\n\n", "\n"
    path.write_text(before + generated(results) + after)


def plot(results: dict, path: Path) -> None:
    """Tiles/s of every measured runtime row, grouped by row and coloured by batch; daemon and benchmark_app too."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = []
    for row in results["rows"]:
        if row["status"] != "measured" or row["kind"] not in ("runtime", "daemon"):
            continue
        several = len(results.get("models") or []) > 1
        label = (f"{row.get('model')}: " if several else "") + row["name"]
        if row.get("tile") and row["tile"] != results["model"]["tile"]:
            label += f" @{row['tile']}²"
        if row["kind"] == "runtime" and row["runtime"] == "openvino" and row.get("executes_in"):
            label += f" [{row['executes_in']}]"
        label += f", {row['hint'].lower()}" if row.get("hint") else ""
        bars.append((label, row["batch"], row["tiles_per_s"]))
        if row["kind"] == "daemon" and row.get("benchmark_app_tiles_per_s"):
            bars.append((f"benchmark_app {row['precision']}, throughput", row["batch"],
                         row["benchmark_app_tiles_per_s"]))
    labels = list(dict.fromkeys(b[0] for b in bars))
    batches = sorted({b[1] for b in bars})
    height = 0.8 / max(len(batches), 1)
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(labels) + 1.5))
    for i, batch in enumerate(batches):
        ys = [labels.index(label) + i * height for label, b, _ in bars if b == batch]
        xs = [value for _, b, value in bars if b == batch]
        ax.barh(ys, xs, height=height, label=f"batch {batch}")
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(labels))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"tiles/s ({results['model']['tile']}² tiles unless a row says @512²)")
    machine = results["machine"]
    ax.set_title(f"{_model_names(results)} on {machine['cpu_model']}, {machine['physical_cores']} cores", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def roofline(results: dict, path: Path) -> None:
    """Each precision's measured roof (its ceiling, and memory bandwidth × arithmetic intensity) and the model's
    OpenVINO rows at their arithmetic intensity (FLOPs per byte its matrix layers read and write)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from bench.ceilings import ceiling_for

    memory = results["sections"].get("memory")
    fig, ax = plt.subplots(figsize=(8, 5))
    intensity = np.logspace(-1, 3.5, 200)
    colours = {"f32": "tab:blue", "bf16": "tab:orange", "f16": "tab:purple", "int8": "tab:green"}
    for precision, colour in colours.items():
        ceiling = ceiling_for(results["rows"], precision)
        if ceiling is None:
            continue
        roof = np.full_like(intensity, ceiling["gflops"])
        if memory:
            roof = np.minimum(roof, memory["gb_per_s"] * intensity)
        ax.plot(intensity, roof, color=colour, label=f"{precision} roof ({ceiling['gflops']:.0f} GFLOP/s)")
    for row in results["rows"]:
        executed = row.get("executed") or {}
        if row["kind"] != "runtime" or row["status"] != "measured" or not executed.get("flop_per_byte") \
                or not row.get("gflops"):
            continue
        ax.scatter(executed["flop_per_byte"], row["gflops"], color=colours.get(row["executes_in"], "grey"),
                   marker="o" if row.get("hint") == "THROUGHPUT" else "x", s=12 + 3 * row["batch"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte the matrix layers read and write)")
    ax.set_ylabel("GFLOP/s (GOP/s for int8)")
    bandwidth = f", memory {memory['gb_per_s']:.0f} GB/s" if memory else ""
    ax.set_title(f"OpenVINO rows of {_model_names(results)} (o throughput, x latency; size = batch){bandwidth}",
                 fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, out: Path) -> dict[str, Path]:
    """results.json, the plot and performance.md under `out`; returns their paths by name."""
    paths = {"results": out / "bench" / "results.json", "markdown": out / "docs" / "performance.md",
             "plot": out / "docs" / PLOT, "roofline": out / "docs" / ROOFLINE}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    paths["results"].write_text(json.dumps(results, indent=1, default=str) + "\n")
    plot(results, paths["plot"])
    roofline(results, paths["roofline"])
    write_markdown(results, paths["markdown"])
    return paths
