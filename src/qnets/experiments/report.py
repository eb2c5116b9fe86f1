"""``report.html`` of a run directory: one self-contained page a browser opens offline.

The page shows the headline numbers (``final.json`` / the run's result) next to the
paper's where a reference is known, the configuration (``config.yaml``), the environment
(``environment.json``), the per-epoch metrics (``metrics.jsonl``) and every figure of the
run directory (PNG/JPEG/SVG), embedded as base64 ``data:`` URIs so that the file can be
copied or mailed alone. It has no scripts and no external resources.

Paper references: an experiment's result may carry ``"paper": {metric: value}`` (or
``{metric: {"value": v, "note": text}}``); otherwise a function registered with
:func:`register_paper_reference` for the experiment's name is asked.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["paper_references", "register_paper_reference", "render_report", "write_report"]

REPORT_NAME = "report.html"
_MAX_METRIC_ROWS = 200
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_REFERENCES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {}


def register_paper_reference(experiment: str):
    """Decorator: ``fn(config, result) -> {metric: value or {"value", "note"}}`` for ``experiment``."""

    def decorate(fn):
        _REFERENCES[experiment] = fn
        return fn

    return decorate


# FNN paper (spec fnn.md, "MNIST" table): best test accuracy of one run over 101-121 epochs.
_FNN_FC = {("hamiltonian", 0.0): 0.9803, ("hamiltonian", 1e-3): 0.9813,
           ("ldos", 0.0): 0.9828, ("ldos", 1e-3): 0.9854}


@register_paper_reference("fnn-mnist")
def _fnn_mnist_reference(config: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    key = (config.get("encoder"), float(config.get("weight_decay") or 0.0))
    if (
        config.get("dataset") == "mnist"
        and list(config.get("sizes") or []) == [784, 100, 64, 10]
        and config.get("connectivity") == "dense"
        and key in _FNN_FC
    ):
        note = (f"FC 784-100-64-10, {key[0]} input, wd {key[1]:g}, full MNIST, best of 101-121 epochs "
                f"(this run: {result.get('epochs', '?')} epochs, {result.get('n_train', '?')} train samples)")
        return {"best_test_accuracy": {"value": _FNN_FC[key], "note": note}}
    return {}


def paper_references(experiment: str, config: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, dict]:
    """``{metric: {"value": v, "note": text}}`` of the paper for this run (may be empty)."""
    raw: Mapping[str, Any] = result.get("paper") or {}
    if not raw and experiment in _REFERENCES:
        raw = _REFERENCES[experiment](config, result)
    return {k: dict(v) if isinstance(v, Mapping) else {"value": v, "note": ""} for k, v in raw.items()}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        return f"[{', '.join(map(_fmt, value[:12]))}, … ({len(value)} items)]"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    head = ""
    if header:
        head = "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def _headline(result: Mapping[str, Any], references: Mapping[str, dict]) -> str:
    rows = []
    for key, value in result.items():
        structured = isinstance(value, dict) or (
            isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list)) for v in value)
        )
        if key in ("paper", "run_dir") or structured:  # nested records: in final.json, not the headline
            continue
        ref = references.get(key)
        paper = _fmt(ref["value"]) if ref else ""
        delta = ""
        if ref and isinstance(value, (int, float)) and isinstance(ref["value"], (int, float)):
            delta = f"{value - ref['value']:+.4g}"
        rows.append([key, value, paper, delta, ref.get("note", "") if ref else ""])
    missing = [k for k in references if k not in result]
    for key in missing:
        rows.append([key, "—", _fmt(references[key]["value"]), "", references[key].get("note", "")])
    if not references:
        return _table([row[:2] for row in rows], ["quantity", "this run"]) + (
            "<p>No paper reference is registered for this experiment and configuration.</p>"
        )
    return _table(rows, ["quantity", "this run", "paper", "difference", "reference"])


def _metrics_section(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p>No per-epoch metrics (<code>metrics.jsonl</code>) in this run directory.</p>"
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    shown = records
    note = ""
    if len(records) > _MAX_METRIC_ROWS:
        half = _MAX_METRIC_ROWS // 2
        shown = records[:half] + records[-half:]
        note = f"<p>{len(records)} records; the first and last {half} are shown.</p>"
    return note + _table([[r.get(k, "") for k in keys] for r in shown], keys)


def _figures(run_dir: Path) -> str:
    blocks = []
    for path in sorted(run_dir.iterdir()) if run_dir.is_dir() else []:
        mime = _IMAGE_TYPES.get(path.suffix.lower())
        if mime is None or not path.is_file():
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        name = html.escape(path.name)
        blocks.append(
            f'<figure><img src="data:{mime};base64,{data}" alt="{name}">'
            f"<figcaption>{name}</figcaption></figure>"
        )
    return "\n".join(blocks) or "<p>No figures in this run directory.</p>"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .scroll { overflow-x: auto; max-height: 40em; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
"""


def render_report(run_dir: str | Path, experiment: str, result: Mapping[str, Any] | None = None,
                  description: str = "") -> str:
    """The HTML text of the report of ``run_dir`` (see the module docstring).

    Parameters
    ----------
    run_dir : path
        Run directory (``config.yaml``, ``environment.json``, ``metrics.jsonl``,
        ``final.json``, figures).
    experiment : str
        Experiment name (selects the paper reference).
    result : mapping, optional
        Headline results; default: ``final.json``.
    description : str
        One line shown under the title.
    """
    import yaml

    run_dir = Path(run_dir)
    result = dict(result if result is not None else _read_json(run_dir / "final.json") or {})
    config: dict[str, Any] = {}
    if (run_dir / "config.yaml").is_file():
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    environment = _read_json(run_dir / "environment.json") or {}
    references = paper_references(experiment, config, result)
    title = f"qnets run: {html.escape(experiment)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>{html.escape(description)}</p>" if description else "",
        (
            f"<p>Run directory <code>{html.escape(str(run_dir.resolve()))}</code>; report written "
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}.</p>"
        ),
        "<h2>Headline numbers</h2>",
        _headline(result, references) if result else "<p>No results (<code>final.json</code>).</p>",
        "<h2>Figures</h2>",
        _figures(run_dir),
        "<h2>Metrics per epoch</h2>",
        f'<div class="scroll">{_metrics_section(_read_metrics(run_dir / "metrics.jsonl"))}</div>',
        "<h2>Configuration</h2>",
        _table([[k, v] for k, v in config.items()], ["key", "value"]) if config else "<p>—</p>",
        "<h2>Environment</h2>",
        _table([[k, v] for k, v in environment.items()], ["key", "value"]) if environment else "<p>—</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_report(run_dir: str | Path, experiment: str, result: Mapping[str, Any] | None = None,
                 description: str = "") -> Path:
    """Write ``run_dir/report.html`` atomically (:func:`render_report`); return its path."""
    from qnets.training.checkpoint import atomic_write_text

    return atomic_write_text(Path(run_dir) / REPORT_NAME,
                             render_report(run_dir, experiment, result, description))
