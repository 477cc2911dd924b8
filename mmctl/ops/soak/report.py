"""The soak report: PNG charts (matplotlib, Agg) and one self-contained HTML file, verdict on top."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmctl.ops.soak.gate import Verdict
from mmctl.ops.soak.sampler import bucket_delta, histogram_quantile

__all__ = ["render_charts", "write_report"]


def _xs(samples: Sequence[Mapping[str, Any]]) -> list[float]:
    return [float(s["elapsed_s"]) / 60.0 for s in samples]


def _ys(samples: Sequence[Mapping[str, Any]], key: str, scale: float = 1.0) -> list[float]:
    out = []
    for s in samples:
        v = s.get(key)
        out.append(float(v) * scale if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan"))
    return out


def _windowed_p99_ms(samples: Sequence[Mapping[str, Any]]) -> list[float]:
    """p99 of the observations between consecutive samples (what the bot did in that interval)."""
    out: list[float] = []
    prev: list[list[Any]] | None = None
    for s in samples:
        b: list[list[Any]] = s.get("lat_buckets") or []
        q = histogram_quantile(0.99, bucket_delta(b, prev)) if b and prev else None
        out.append(q * 1e3 if q is not None else float("nan"))
        prev = b or prev
    return out


def render_charts(samples: Sequence[Mapping[str, Any]], faults: Sequence[Mapping[str, Any]],
                  out_dir: Path, *, warmup_s: float = 0.0) -> dict[str, Path]:
    """Write one PNG per panel into out_dir; returns {title: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    up = [s for s in samples if s.get("up")]
    x = _xs(up)
    fault_x = [float(f["elapsed_s"]) / 60.0 for f in faults]
    panels: list[tuple[str, str, list[tuple[str, list[float]]]]] = [
        ("rss", "RSS (MB)", [("rss", _ys(up, "rss_bytes", 1 / 2**20))]),
        ("fds_tasks", "open FDs / threads / tasks", [("fds", _ys(up, "fds")), ("threads", _ys(up, "threads")),
                                                      ("tasks", _ys(up, "tasks"))]),
        ("latency", "tick-to-order (ms)", [("p50 cumulative", _ys(up, "p50_us", 1e-3)),
                                           ("p99 cumulative", _ys(up, "p99_us", 1e-3)),
                                           ("p99 per interval", _windowed_p99_ms(up))]),
        ("pnl", "quote currency", [("realized PnL", _ys(up, "pnl_realized")),
                                   ("unrealized PnL", _ys(up, "pnl_unrealized")),
                                   ("rebates", _ys(up, "rebates")), ("fees", _ys(up, "fees"))]),
        ("kpis", "ratio", [("maker share", _ys(up, "maker_share")), ("quote uptime", _ys(up, "quote_uptime"))]),
        ("reconnects", "count", [("reconnect attempts", _ys(up, "reconnects")),
                                 ("open orders", _ys(up, "open_orders"))]),
    ]
    symbols = sorted({sym for s in up for sym in (s.get("inventory") or {})})
    if symbols:
        panels.append(("inventory", "position (base)",
                       [(sym, [float((s.get("inventory") or {}).get(sym, float("nan"))) for s in up])
                        for sym in symbols]))
    dir_names = sorted({n for s in up for n in (s.get("dirs") or {})})
    if dir_names:
        panels.append(("disk", "MB", [(n, [float((s.get("dirs") or {}).get(n, float("nan"))) / 2**20 for s in up])
                                      for n in dir_names]))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, ylabel, lines in panels:
        fig, ax = plt.subplots(figsize=(9, 3.2), dpi=90)
        try:
            for label, ys in lines:
                if any(y == y for y in ys):  # skip all-NaN series
                    ax.plot(x, ys, label=label, linewidth=1.2)
            if name == "rss":
                _fit_line(ax, x, lines[0][1], warmup_s / 60.0)
            for fx in fault_x:
                ax.axvline(fx, color="red", alpha=0.25, linewidth=0.8)
            if warmup_s > 0:
                ax.axvspan(0, warmup_s / 60.0, color="grey", alpha=0.12, label="warm-up")
            ax.set_xlabel("wall minutes (red lines: injected faults)")
            ax.set_ylabel(ylabel)
            ax.set_title(name)
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="upper left", fontsize=8)
            fig.tight_layout()
            path = out_dir / f"{name}.png"
            fig.savefig(path, format="png")
            written[name] = path
        finally:
            plt.close(fig)
    return written


def _fit_line(ax: Any, x: list[float], ys: list[float], warm_min: float) -> None:
    """The gate's least-squares RSS line over the steady window, labelled with its slope."""
    from mmctl.ops.soak.gate import linear_slope

    pts = [(a, b) for a, b in zip(x, ys, strict=True) if a >= warm_min and b == b]
    slope = linear_slope([a for a, _ in pts], [b for _, b in pts])
    if slope is None:
        return
    mx = sum(a for a, _ in pts) / len(pts)
    my = sum(b for _, b in pts) / len(pts)
    xs = [pts[0][0], pts[-1][0]]
    ax.plot(xs, [my + slope * (a - mx) for a in xs], linestyle="--", color="black", linewidth=1,
            label=f"fit after warm-up: {slope * 60:+.2f} MB/h")


def _table(verdict: Verdict) -> str:
    rows = []
    for c in verdict.checks:
        cls = {"PASS": "pass", "FAIL": "fail"}.get(c.status, "nodata")  # nosec B105: a UI/status word, not a password
        rows.append(f"<tr class='{cls}'><td>{html.escape(c.name)}</td><td>{c.status}</td>"
                    f"<td>{html.escape(c.measured)}</td><td>{html.escape(c.threshold)}</td>"
                    f"<td>{html.escape(c.detail)}</td></tr>")
    return ("<table><tr><th>check</th><th>result</th><th>measured</th><th>threshold</th><th>detail</th></tr>"
            + "".join(rows) + "</table>")


def write_report(out: Path, *, verdict: Verdict, meta: Mapping[str, Any], samples: Sequence[Mapping[str, Any]],
                 faults: Sequence[Mapping[str, Any]], charts_dir: Path | None = None) -> Path:
    """Render charts into charts_dir (default: <out dir>/charts) and an HTML file embedding them."""
    charts_dir = charts_dir or out.parent / "charts"
    charts = render_charts(samples, faults, charts_dir, warmup_s=verdict.warmup_s)
    imgs = []
    for name, path in charts.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        imgs.append(f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    wall = float(meta.get("wall_s") or 0.0)
    market = float(meta.get("market_s") or 0.0)
    info = [
        ("config hash", meta.get("config_hash", "-")), ("git sha", meta.get("git_sha", "-")),
        ("mode", meta.get("mode", "-")), ("venue", meta.get("venue", "-")),
        ("started", meta.get("started_at", "-")), ("ended", meta.get("ended_at", "-")),
        ("wall time", f"{wall / 3600:.3f} h ({wall:.0f} s)"),
        ("market time", f"{market / 3600:.3f} h ({market:.0f} s) at speed x{meta.get('speed', 1)}"),
        ("samples", str(len(samples))), ("faults injected", str(len(faults))),
        ("sample interval", f"{meta.get('interval_s', '-')} s"),
    ]
    info_html = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in info)
    fault_rows = "".join(
        f"<tr><td>{float(f['elapsed_s']):.0f}</td><td>{html.escape(str(f.get('kind')))}</td>"
        f"<td>{'ok' if f.get('ok', True) else 'failed'}</td><td>{html.escape(str(f.get('detail', '')))}</td></tr>"
        for f in faults)
    colour = "#1a7f37" if verdict.passed else "#cf222e"
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Soak report: {verdict.label}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1000px; }}
.verdict {{ font-size: 2em; font-weight: bold; color: white; background: {colour}; padding: .3em .6em; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: .25em .6em; }}
tr.pass td:nth-child(2) {{ color: #1a7f37; font-weight: bold; }}
tr.fail td:nth-child(2) {{ color: #cf222e; font-weight: bold; }}
tr.nodata td:nth-child(2) {{ color: #9a6700; font-weight: bold; }}
img {{ max-width: 100%; }}
</style></head><body>
<div class="verdict">Soak gate: {verdict.label}</div>
{_table(verdict)}
<h2>Run</h2><table>{info_html}</table>
<h2>Time series</h2>
{''.join(imgs)}
<h2>Faults</h2><table><tr><th>wall s</th><th>kind</th><th>injected</th><th>detail</th></tr>{fault_rows}</table>
</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    return out
