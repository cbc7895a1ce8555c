"""The report's charts as PNG files, for slides and e-mail (vl-convert: no browser needed)."""

from __future__ import annotations

from pathlib import Path

from monitor.report.charts import VEGA_LITE_VERSION, Chart

PNG_SCALE = 2.0  # sharp on high-density screens and projectors


def write_pngs(charts: list[Chart], folder: Path, scale: float = PNG_SCALE) -> list[Path]:
    """One PNG per chart, named after the chart (volume.png, mood.png, ...); returns the paths."""
    try:
        import vl_convert
    except ImportError as exc:
        from monitor.report.html import MISSING_EXTRA

        raise RuntimeError(MISSING_EXTRA) from exc
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in charts:
        path = folder / f"{chart.name}.png"
        path.write_bytes(vl_convert.vegalite_to_png(chart.spec, vl_version=VEGA_LITE_VERSION, scale=scale))
        written.append(path)
    return written
