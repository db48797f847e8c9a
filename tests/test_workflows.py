"""The GitHub workflows are valid YAML with the shape GitHub expects, and each runs what the
README says: CI on every push, the weekly drift run (make test-latest), the site to Pages."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))


def _load(path):
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on"
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _cron_ok(expr: str) -> bool:
    fields = expr.split()
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
    if len(fields) != 5:
        return False
    for field, (low, high) in zip(fields, ranges):
        for part in field.split(","):
            if part == "*":
                continue
            for value in re.split(r"[-/]", part.removeprefix("*/")):
                if not value.isdigit() or not low <= int(value) <= high:
                    return False
    return True


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "drift.yml", "site.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid(path):
    doc = _load(path)
    assert isinstance(doc.get("name"), str) and doc["on"], path.name
    assert doc["jobs"], path.name
    for name, job in doc["jobs"].items():
        assert "runs-on" in job and job["steps"], (path.name, name)
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (path.name, name, step)
            for target in re.findall(r"\bmake ([a-z][a-z-]*)", step.get("run", "")):
                assert target in MAKE_TARGETS, (path.name, target)


def test_drift_runs_weekly_on_the_newest_releases():
    doc = _load(REPO / ".github" / "workflows" / "drift.yml")
    crons = [entry["cron"] for entry in doc["on"]["schedule"]]
    assert crons and all(_cron_ok(c) for c in crons), crons
    assert all(c.split()[2] == "*" and c.split()[4] != "*" for c in crons), "weekly: one weekday"
    runs = [s.get("run", "") for job in doc["jobs"].values() for s in job["steps"]]
    assert any("make test-latest" in r for r in runs)
    assert any("drift_report.py" in r for r in runs)  # a failure names library and version


def test_drift_report_names_library_and_version(monkeypatch, capsys, tmp_path):
    import importlib.metadata
    import importlib.util

    spec = importlib.util.spec_from_file_location("drift_report", REPO / ".ci" / "drift_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    monkeypatch.setattr(report, "pins", lambda: {"transformers": "0.0.1", "pytest": __import__("pytest").__version__})
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report.main()
    out = capsys.readouterr().out
    tested = importlib.metadata.version("transformers")
    assert f"transformers: pinned 0.0.1, tested {tested}" in out
    assert "pytest" not in out  # at its pin: not listed
    assert f"| transformers | 0.0.1 | {tested} |" in summary.read_text()


def test_site_is_built_and_published_on_pushes_to_main():
    doc = _load(REPO / ".github" / "workflows" / "site.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    assert doc["permissions"]["pages"] == "write" and doc["permissions"]["id-token"] == "write"
    steps = doc["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make site" for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "outputs/course-site/html"  # where make site writes the pages
    deploy = doc["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages")
