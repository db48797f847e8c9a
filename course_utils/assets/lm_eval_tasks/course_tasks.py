"""Data loaders for the course's lm-eval tasks: a local jsonl beside this file, so the task runs
offline and from any working directory (a relative ``data_files`` path would be read from the
current directory). lm-eval calls a task's ``custom_dataset`` with the run's metadata as keywords."""

from pathlib import Path

HERE = Path(__file__).resolve().parent


def capitals(**metadata):
    import datasets

    return datasets.load_dataset("json", data_files={"test": str(HERE / "course_capitals.jsonl")})


def prose(**metadata):
    import datasets

    return datasets.load_dataset("json", data_files={"test": str(HERE / "course_prose.jsonl")})
