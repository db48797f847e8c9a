"""Repository hygiene: clean notebooks, no secrets, pins that agree everywhere."""

import json
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_install", "02_data_exploration", "03_length_histogram", "04_model_loading",
            "05_lora_config", "06_training", "07_inference", "09_evaluate_and_ship"]
SECRET = re.compile(r"(hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})")


def test_the_notebooks_exist():
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


def test_make_clean_removes_only_what_the_course_wrote(tmp_path):
    """COURSE_OUTPUT_DIR may name a folder of the learner's own: make clean must keep their files."""
    import subprocess

    out = tmp_path / "my course"
    for name in ("adapter", "checkpoints/checkpoint-20", "figures", ".adapter.tmp-123-ab"):
        (out / name).mkdir(parents=True)
    (out / ".run.lock").touch()
    (out / "notes.txt").write_text("mine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    done = subprocess.run(["make", "-s", "clean", f"COURSE_OUTPUT_DIR={out}"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"], "only the learner's own file may stay"
    assert "kept" in done.stdout
    (out / "notes.txt").unlink()
    (out / "merged").mkdir()
    subprocess.run(["make", "-s", "clean", f"COURSE_OUTPUT_DIR={out}"], cwd=REPO, env=env, check=True, timeout=60)
    assert not out.exists(), "a folder left empty is removed"
