"""The qnets command: list, info, run errors, demo."""

from typer.testing import CliRunner

from qnets.cli import app

runner = CliRunner()


def test_list_and_info():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0 and "fnn-mnist" in result.output and "fc-ldos" in result.output
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0 and "torch" in result.output and "qnets" in result.output


def test_unknown_set_key_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["run", "fnn-mnist", "--set", "etaa=0.1", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown key 'etaa'" in result.output and "did you mean 'eta'" in result.output


def test_unknown_experiment_and_resume_without_out():
    result = runner.invoke(app, ["run", "fnn-moist"])
    assert result.exit_code == 2 and "unknown name 'fnn-moist'" in result.output
    result = runner.invoke(app, ["run", "fnn-mnist", "--resume"])
    assert result.exit_code == 2 and "--resume: needs --out" in result.output


def test_python_dash_m_qnets_runs_the_command():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "qnets", "list"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "fnn-mnist" in result.stdout


def test_show_config():
    result = runner.invoke(app, ["run", "fnn-mnist", "--config", "fc-ldos", "--set", "epochs=3", "--show-config"])
    assert result.exit_code == 0
    assert "encoder: ldos" in result.output and "epochs: 3" in result.output


def test_demo_prints_accuracy():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("test accuracy"))
    accuracy = float(line.split()[2])
    assert accuracy >= 90.0  # measured 93.3 % (seed 0, 15 epochs)
