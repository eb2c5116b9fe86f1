"""report.html: content, escaping, paper references, the run hook, and a headless-Chromium render."""

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import yaml

from qnets.experiments import run_experiment
from qnets.experiments.report import paper_references, render_report, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png(width: int, height: int) -> bytes:
    """A valid grey PNG (no matplotlib needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def run_dir(tmp_path):
    config = {"dataset": "mnist", "sizes": [784, 100, 64, 10], "connectivity": "dense",
              "encoder": "ldos", "weight_decay": 0.001, "note": "<script>alert(1)</script>"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "environment.json").write_text(json.dumps({"torch": "2.13.0", "cpu_count": 2}))
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": e, "train_loss": 1 / e, "test_accuracy": 0.9 + e / 100}) + "\n"
                for e in (1, 2, 3)))
    (tmp_path / "final.json").write_text(json.dumps({"best_test_accuracy": 0.9812, "epochs": 3}))
    (tmp_path / "curves.png").write_bytes(_png(37, 21))
    (tmp_path / "sketch.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30"/></svg>')
    return tmp_path


def test_report_holds_numbers_paper_reference_tables_and_embedded_figures(run_dir):
    page = render_report(run_dir, "fnn-mnist", description="FNN test run")
    assert "<td>best_test_accuracy</td><td>0.9812</td><td>0.9854</td><td>-0.0042</td>" in page
    assert "ldos input, wd 0.001" in page
    assert "<td>train_loss</td>" not in page and "<th>train_loss</th>" in page  # metrics columns
    assert page.count("<tr><td>") >= 3 + 6 + 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert 'src="data:image/png;base64,' in page and 'src="data:image/svg+xml;base64,' in page
    assert not re.search(r'(src|href)="(https?:|//)', page)  # nothing to fetch: opens offline
    path = write_report(run_dir, "fnn-mnist")
    assert path.name == "report.html" and path.read_text().startswith("<!DOCTYPE html>")


def test_paper_references():
    config = {"dataset": "mnist", "sizes": [784, 100, 64, 10], "connectivity": "dense",
              "encoder": "hamiltonian", "weight_decay": 0.0}
    assert paper_references("fnn-mnist", config, {})["best_test_accuracy"]["value"] == 0.9803
    assert paper_references("fnn-mnist", {**config, "dataset": "digits"}, {}) == {}
    own = paper_references("anything", {}, {"paper": {"energy": -1.27, "gap": {"value": 0.1, "note": "Fig. 3"}}})
    assert own == {"energy": {"value": -1.27, "note": ""}, "gap": {"value": 0.1, "note": "Fig. 3"}}
    page = render_report(Path("/nonexistent-run"), "x", {"loss": 0.5})
    assert "No paper reference" in page and "No figures" in page


def test_every_run_writes_a_report(tmp_path):
    result = run_experiment("fnn-mnist", config_file="demo-digits", out=tmp_path, progress=False,
                            overrides=["epochs=1", "sizes=[64,10]", "n_train=60", "n_test=30"])
    page = (tmp_path / "report.html").read_text()
    assert result["run_dir"] == str(tmp_path)
    assert f"{result['final_test_accuracy']:.6g}" in page and "<th>test_accuracy</th>" in page
    if (tmp_path / "learning_curves.png").exists():
        assert "learning_curves.png" in page and "data:image/png;base64," in page


_CHECK = """<script>
window.addEventListener('load', () => {
  const out = document.createElement('pre');
  out.id = 'figure-check';
  out.textContent = JSON.stringify([...document.images].map(
      i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]));
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless check needs Chromium (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium_with_all_figures(run_dir, tmp_path_factory):
    write_report(run_dir, "fnn-mnist")
    probe = run_dir / "probe.html"  # the report plus a script reporting each image's size
    probe.write_text((run_dir / "report.html").read_text().replace("</body>", _CHECK + "</body>"))
    profile = tmp_path_factory.mktemp("chromium-profile")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout
    found = re.search(r'<pre id="figure-check">(.*?)</pre>', dom)
    assert found, f"no figure report in the rendered page: {dom[:500]!r}"
    images = {alt: (done, w, h) for alt, done, w, h in json.loads(found.group(1))}
    assert images == {"curves.png": (True, 37, 21), "sketch.svg": (True, 40, 30)}
    assert "0.9854" in dom and "Headline numbers" in dom
