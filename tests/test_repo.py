"""Repository hygiene: clean notebooks, no secrets, pins that agree everywhere."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_install", "02_data_exploration", "03_length_histogram", "04_model_loading",
            "05_lora_config", "06_training", "07_inference", "08_chat_format",
            "09_evaluate_and_ship"]
SECRET = re.compile(r"(hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})")


def test_the_course_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name


def test_no_secrets_in_tracked_text():
    for path in [*NOTEBOOKS, *REPO.glob("course_utils/*.py"), REPO / "README.md"]:
        assert not SECRET.search(path.read_text()), path


def _pins(lines):
    out = {}
    for line in lines:
        m = re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s#;]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_pins_agree_everywhere():
    requirements = _pins((REPO / "requirements.txt").read_text().splitlines())
    environment = _pins((REPO / "environment.yml").read_text().splitlines())
    constraints = _pins((REPO / "constraints.txt").read_text().splitlines())
    pyproject = _pins(l.strip().strip('",') for l in (REPO / "pyproject.toml").read_text().splitlines())
    assert environment.pop("torch") == constraints["torch"]
    from course_utils import env  # notebook 01 prints it as the tested torch
    assert env.TESTED_TORCH == constraints["torch"]
    assert set(environment) == set(requirements) and environment == requirements
    assert "torch" not in requirements and "torch" not in pyproject  # never reinstall Colab's torch
    for name, version in pyproject.items():
        assert requirements[name] == version, name


def test_network_is_blocked_in_smoke_runs():
    """make test sets COURSE_BLOCK_NETWORK=1 and loads tests/netguard into every process,
    notebook kernels included: any non-loopback connection fails loudly."""
    import os
    import socket

    import pytest

    if os.environ.get("COURSE_BLOCK_NETWORK") != "1":
        pytest.skip("only under make test")
    with pytest.raises(OSError, match="blocked in smoke runs"):
        socket.create_connection(("203.0.113.1", 443), timeout=1)


def _code(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return path.read_text()


def test_no_remote_code_and_no_written_tokens():
    """No call passes trust_remote_code=True or a literal token= (tokens come from the environment
    or huggingface_hub.login(), never from a file)."""
    import ast

    for path in [*NOTEBOOKS, *REPO.glob("course_utils/*.py"), *REPO.glob("bench/*.py")]:
        for node in ast.walk(ast.parse(_code(path))):
            for kw in getattr(node, "keywords", []) if isinstance(node, ast.Call) else []:
                literal = isinstance(kw.value, ast.Constant)
                assert not (kw.arg == "trust_remote_code" and literal and kw.value.value), path
                assert not (kw.arg in ("token", "use_auth_token") and literal and kw.value.value), path


def test_install_notebook_keeps_colab_torch_and_the_pins():
    nb = json.loads((REPO / "notebooks" / "01_install.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "pip" in code and "install" in code
    assert "torch" not in re.findall(r'"install"[^\n]*', code)[0]  # never reinstalls torch
    assert not re.search(r"[A-Za-z_\-]+==[0-9]", code)  # its pins come from pyproject.toml


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert "make test" in (REPO / "README.md").read_text()


def _make(*args, timeout=120):
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", "-s", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _course_writes(out: Path) -> None:
    """What a run writes, through the course's own writers: an adapter and a merged model
    (atomic_dir), a figure (atomic_savefig), the checkpoints' run record, the run lock."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils.files import atomic_dir, atomic_savefig
    from course_utils.profile import get_profile
    from course_utils.runs import _write_record, exclusive

    profile = get_profile("smoke", env={"COURSE_OUTPUT_DIR": str(out)})
    with exclusive(profile.output_dir):
        _write_record(profile.checkpoint_dir, {"name": "smoke"})
        (profile.checkpoint_dir / "checkpoint-2").mkdir()  # the trainer writes these
        for target in (profile.adapter_dir, profile.merged_dir):
            with atomic_dir(target) as folder:
                (folder / "adapter_config.json").write_text("{}")
        fig = plt.figure()
        atomic_savefig(fig, profile.figures_dir / "loss_curve.png")
        plt.close(fig)
    (out / ".adapter.tmp-999999-ab").mkdir()  # a leftover of a save that died half-way


def test_make_clean_keeps_the_learners_files_in_course_named_folders(tmp_path):
    """COURSE_OUTPUT_DIR may name a folder of the learner's own, with folders named like the
    course's (figures/, test/): make clean removes what the course wrote there and nothing else."""
    out = tmp_path / "my course"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "my_plot.png").write_bytes(b"mine")
    (out / "test").mkdir()
    (out / "test" / "notes.txt").write_text("mine")
    (out / "notes.txt").write_text("mine")
    _course_writes(out)
    done = _make("clean", f"COURSE_OUTPUT_DIR={out}")
    assert done.returncode == 0, done.stderr
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left == ["figures", "figures/my_plot.png", "notes.txt", "test", "test/notes.txt"], left
    assert "kept" in done.stdout
    for mine in ("figures", "test", "notes.txt"):
        shutil.rmtree(out / mine) if (out / mine).is_dir() else (out / mine).unlink()
    _course_writes(out)
    assert _make("clean", f"COURSE_OUTPUT_DIR={out}").returncode == 0
    assert not out.exists(), "a folder that only held the course's outputs is removed"


def test_make_test_output_is_a_course_folder_and_a_learners_folder_is_refused(tmp_path):
    out = tmp_path / "my course"
    (out / "test").mkdir(parents=True)
    (out / "test" / "notes.txt").write_text("mine")
    done = _make("-n", "test", f"COURSE_OUTPUT_DIR={out}")
    assert f'--scratch "{out}/course-test"' in done.stdout and "rm -rf" not in done.stdout
    from course_utils.clean import scratch

    scratch(out / "course-test")
    (out / "course-test" / "adapter").mkdir()
    scratch(out / "course-test")  # the course's own: emptied again
    assert sorted(p.name for p in (out / "course-test").iterdir()) == [".course-manifest", ".course-scratch"]
    (out / "mine").mkdir()
    (out / "mine" / "a.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not made by the course"):
        scratch(out / "mine")
    assert (out / "mine" / "a.txt").exists() and (out / "test" / "notes.txt").exists()
    assert _make("clean", f"COURSE_OUTPUT_DIR={out}").returncode == 0
    assert not (out / "course-test").exists() and (out / "test" / "notes.txt").exists()


def test_make_course_with_a_space_in_the_output_folder(tmp_path):
    """The paths are quoted: the executed notebooks land in the folder with a space, nothing in the
    checkout, and make clean removes them. (A stand-in jupyter: the real run takes minutes.)"""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    jupyter = venv / "bin" / "jupyter"
    jupyter.write_text('#!/bin/sh\n# nbconvert stand-in: write each notebook into --output-dir\n'
                       'while [ $# -gt 0 ]; do case "$1" in --output-dir) shift; dir="$1";; '
                       '*.ipynb) nbs="$nbs $(basename $1)";; esac; shift; done\n'
                       'mkdir -p "$dir" && for nb in $nbs; do echo {} > "$dir/$nb"; done\n')
    jupyter.chmod(0o755)
    (venv / ".installed").touch()
    out = tmp_path / "my course"
    (out / "executed").mkdir(parents=True)
    (out / "executed" / "mine.ipynb").write_text("{}")
    before = set(REPO.iterdir())
    done = _make("course", f"VENV={venv}", f"COURSE_OUTPUT_DIR={out}")
    assert done.returncode == 0, done.stderr
    assert set(REPO.iterdir()) == before, "nothing new in the checkout"
    executed = sorted(p.name for p in (out / "executed").iterdir())
    assert "06_training.ipynb" in executed and "mine.ipynb" in executed
    assert _make("clean", f"COURSE_OUTPUT_DIR={out}").returncode == 0
    assert sorted(p.name for p in (out / "executed").iterdir()) == ["mine.ipynb"]


def test_make_test_leaves_the_slow_tests_to_make_test_slow_and_ci_runs_both():
    """make test is the quick loop (pytest -m "not slow"); make test-slow runs the rest, in the same
    environment; .ci/run runs both, so every test still runs in CI. A slow test needs the marker."""
    import subprocess

    env = {**os.environ, "COURSE_OUTPUT_DIR": "/tmp/course-make-n"}
    commands = {}
    for target in ("test", "test-slow"):
        done = subprocess.run(["make", "-n", "-o", ".venv/.installed", target], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        commands[target] = next(line for line in done.stdout.replace("\\\n", " ").splitlines() if "pytest" in line)
    assert '-m "not slow"' in commands["test"] and " notebooks solutions " in commands["test"]
    assert "-m slow" in commands["test-slow"] and "COURSE_PROFILE=smoke" in commands["test-slow"]
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci.index("make test") < ci.index("make test-slow") < ci.index("make test-laptop")
    assert "markers" in (REPO / "pyproject.toml").read_text() and "slow:" in (REPO / "pyproject.toml").read_text()
