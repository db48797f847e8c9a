"""Alpaca data: loading, the two prompt templates, validation and length statistics.

Taught in notebook 02 (loading, templates) and notebook 03 (character vs token lengths).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataError

if TYPE_CHECKING:  # datasets is imported lazily: it costs seconds per kernel
    from datasets import Dataset

    from .profile import Profile

ALPACA_HUB_ID = "tatsu-lab/alpaca"
SAMPLE_PATH = Path(__file__).parent / "assets" / "alpaca_sample.jsonl"
REQUIRED_COLUMNS = ("instruction", "output")
LOCAL_FORMATS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}

# The two templates Alpaca was trained with: one for rows with an input, one without.
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
RESPONSE_MARKER = "### Response:"


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt part of an Alpaca example: everything up to and including '### Response:\\n'."""
    template = PROMPT_WITH_INPUT if input and input.strip() else PROMPT_NO_INPUT
    return template.format(instruction=instruction, input=input)


def format_example(row: dict[str, Any]) -> str:
    """Alpaca's ``text`` column: the prompt followed by the response (no EOS: trl appends it)."""
    return format_prompt(row["instruction"], row.get("input") or "") + row["output"]


def _resolve_source(source: str) -> tuple[str, dict[str, Any]]:
    """Turn a hub id, a local file or 'sample' into ``load_dataset`` arguments."""
    if source == "sample":
        source = str(SAMPLE_PATH)
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if suffix in LOCAL_FORMATS or path.exists():
        if not path.is_file():
            raise DataError(
                f"the data file {path} does not exist",
                "check the path in COURSE_DATA, or unset it to use the profile's data",
            )
        if path.stat().st_size == 0:
            raise DataError(f"the data file {path} is empty",
                            "write Alpaca rows (instruction, input, output) into it, or use 'sample'")
        if suffix not in LOCAL_FORMATS:
            raise DataError(
                f"cannot read {path.name}: unknown file type '{suffix}'",
                f"give a file ending in one of {', '.join(sorted(LOCAL_FORMATS))}",
            )
        return LOCAL_FORMATS[suffix], {"data_files": str(path)}
    return source, {}


def load_alpaca(source: str = ALPACA_HUB_ID, split: str = "train", limit: int | None = None) -> Dataset:
    """Load Alpaca-schema rows from the Hub, a local json/jsonl/parquet/csv file, or ``"sample"``.

    The rows are validated (see :func:`validate_alpaca`) and a ``text`` column is built with the
    Alpaca templates when the source has none. ``limit`` keeps the first rows (a subsample).
    """
    import datasets

    name, kwargs = _resolve_source(source)
    try:
        ds = datasets.load_dataset(name, split=split, **kwargs)
    except DataError:
        raise
    except Exception as exc:  # the library's own errors are long; keep the cause, add the fix
        raise DataError(
            f"could not load '{source}': {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            "check the hub id or the file (offline, only local files and 'sample' work)",
        ) from exc
    if limit is not None and limit < len(ds):
        ds = ds.select(range(limit))
    return validate_alpaca(ds, source)


def validate_alpaca(ds: Dataset, source: str = "the data") -> Dataset:
    """Check the schema, fill a missing ``input`` with '' and build ``text`` when absent."""
    if len(ds) == 0:
        raise DataError(f"{source} has no rows", "point COURSE_DATA at a file with Alpaca rows")
    for column in REQUIRED_COLUMNS:
        if column not in ds.column_names:
            raise DataError(
                f"{source} has no '{column}' column (it has: {', '.join(ds.column_names)})",
                "rename the column, or convert the file to Alpaca's instruction/input/output schema",
            )
    if "input" not in ds.column_names:
        ds = ds.add_column("input", [""] * len(ds))
    if "text" not in ds.column_names:
        ds = ds.map(lambda row: {"text": format_example(row)})
    return ds


def to_prompt_completion(ds: Dataset) -> Dataset:
    """Columns ``prompt`` and ``completion``: trl then computes the loss on the completion only
    and appends the tokenizer's EOS to it (notebook 06)."""
    keep = ["prompt", "completion"]
    ds = ds.map(lambda row: {"prompt": format_prompt(row["instruction"], row["input"]),
                             "completion": row["output"]})
    return ds.remove_columns([c for c in ds.column_names if c not in keep])


def char_lengths(texts: Iterable[str]) -> list[int]:
    """Length of each text in characters (the 2024 source's unit)."""
    return [len(t) for t in texts]


def token_lengths(texts: Sequence[str], tokenizer: Any, add_eos: bool = True) -> list[int]:
    """Length of each text in tokens of ``tokenizer`` (what ``max_length`` counts), EOS included."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [len(x) + int(add_eos) for x in ids]


def share_over(lengths: Sequence[int], limit: int) -> float:
    """Fraction of lengths strictly above ``limit``."""
    return sum(n > limit for n in lengths) / max(len(lengths), 1)


def percentile(lengths: Sequence[int], q: float) -> int:
    """The q-th percentile (0-100) of ``lengths``, nearest rank."""
    ordered = sorted(lengths)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def train_eval_split(profile: Profile) -> tuple[Dataset, Dataset]:
    """Prompt/completion rows of the profile's data, split into (train, eval) the same way every time
    (notebook 06, the script mirror, notebook 07's held-out evaluation)."""
    pairs = to_prompt_completion(load_alpaca(profile.data, limit=profile.data_limit))
    split = pairs.train_test_split(test_size=profile.eval_rows, seed=0)
    return split["train"], split["test"]
