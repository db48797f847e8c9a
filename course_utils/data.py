"""Alpaca data: loading, the two prompt templates, validation and length statistics.

Taught in notebook 02 (loading, templates) and notebook 03 (character vs token lengths).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DataError, warn

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
    source = str(source).strip()
    if source == "sample":
        source = str(SAMPLE_PATH)
    if source.lower().startswith(("http://", "https://", "ftp://")):
        raise DataError(
            f"COURSE_DATA is a web address ({source}): the course reads a local file or a Hub id, and "
            "does not download files itself",
            "download the file first (in a terminal: curl -L -o mydata.jsonl 'URL'; in Python: "
            "urllib.request.urlretrieve(URL, 'mydata.jsonl')) and set COURSE_DATA to that file",
            where=source)
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if suffix in LOCAL_FORMATS or path.exists() or source.startswith((".", "/", "~")):
        if path.is_dir():
            inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in LOCAL_FORMATS)
            raise DataError(
                f"the data path {path} is a folder, not a file",
                "point COURSE_DATA at the file itself"
                + (f" (this folder holds: {', '.join(inside[:5])})" if inside else
                   f" (a .jsonl, .json, .csv or .parquet file; this folder has none)"),
                where=str(path))
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


def _read_text(path: Path) -> str:
    """The file as UTF-8 text; a wrong encoding is named with its line."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:200]:
        raise DataError(
            f"could not load {path.name}: it is UTF-16 text (as Excel's 'Unicode text' saves it), "
            "not UTF-8",
            f"save it as UTF-8 (in a spreadsheet: 'CSV UTF-8'; in Python: p = Path({str(path)!r}); "
            "p.write_text(p.read_text(encoding='utf-16'), encoding='utf-8'))", where=str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"could not load {path.name}: it is not UTF-8 text (byte {raw[exc.start]:#04x} "
            f"at line {line})",
            "save the file as UTF-8 (in Python: open(path, encoding='latin-1').read(), then write "
            "it back with encoding='utf-8'; in a spreadsheet: 'CSV UTF-8')",
            where=f"line {line} of {path}") from None


def _bad_json(path: Path, line: int, exc: json.JSONDecodeError, unit: str) -> DataError:
    """The error for a line that is not valid JSON (``unit``: "row" in an array, "line" in JSON lines)."""
    each = "each row is an object" if unit == "row" else "each line is one object"
    return DataError(f"could not load {path.name}: line {line} is not valid JSON ({exc.msg}, column {exc.colno})",
                     f"fix or delete that {unit}; {each} such as "
                     '{"instruction": "...", "input": "", "output": "..."}',
                     where=f"line {line} of {path}")


def check_data_file(path: str | Path) -> list[int] | None:
    """Parse a local json/jsonl/csv file the way ``load_dataset`` will, and say which line is wrong.

    ``datasets`` only logs the line of a malformed row and then raises a long error of its own;
    this names the line, the problem and the fix (a :class:`DataError`). It also catches values
    of the wrong kind in ``instruction``/``input``/``output`` before ``datasets`` refuses to mix
    them in one column. Returns, for each row, its line number in the file (where known).
    Notebook 02 calls it before ``load_dataset`` on a local file.
    """
    _resolve_source(str(path))  # a web address, a folder, a missing or empty file: said here
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if LOCAL_FORMATS.get(suffix) not in ("json", "csv"):
        return None
    text = _read_text(path)
    if suffix == ".csv":
        return _no_rows(_check_csv(text, path), path)
    stripped = text.lstrip()
    rows: list[tuple[int, Any]] = []
    if stripped.startswith("{"):  # one object for the whole file: columns of lists?
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and whole and all(isinstance(v, list) for v in whole.values()):
            raise DataError(
                f"could not load {path.name}: it holds columns, not rows ({', '.join(map(repr, list(whole)[:4]))}, "
                "each a list); the course reads one object per row",
                "convert it to JSON lines, one row per line: data = json.load(open(path)); "
                "rows = [dict(zip(data, values)) for values in zip(*data.values())]; then write each "
                "row with json.dumps(row) on a line of a .jsonl file", where=str(path))
    if stripped.startswith("["):  # one JSON array (Alpaca's alpaca_data.json)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _bad_json(path, exc.lineno, exc, "row") from None
        # An array gives no line per row: number the rows from 0 (ds[i]) instead.
        rows = [(-1, row) for row in data]
    else:  # JSON lines: one object per line
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise _bad_json(path, number, exc, "line") from None
    lines = []
    for index, (number, row) in enumerate(rows):
        where = f"row {index}" + (f" (line {number} of {path.name})" if number > 0 else f" of {path.name}")
        if not isinstance(row, dict):
            raise DataError(f"could not load {path.name}: {where} is {_kind(row)}, not an object",
                            'write each row as an object: {"instruction": "...", "input": "", "output": "..."}',
                            where=where)
        for key, value in row.items():
            if key.strip() in ("instruction", "output", "input") and not (
                    isinstance(value, str) or (value is None and key.strip() == "input")):
                raise _wrong_kind(key.strip(), value, [where], 1)
        lines.append(number)
    return _no_rows(lines, path)


def _no_rows(lines: list[int], path: Path) -> list[int]:
    if not lines:
        raise DataError(f"{path.name} has no rows (only blank lines, an empty list or a header)",
                        "write Alpaca rows into it (instruction, input, output), or point COURSE_DATA "
                        "at another file ('sample' is the course's own)", where=str(path))
    return lines


def _check_csv(text: str, path: Path) -> list[int]:
    first = text.split("\n", 1)[0]
    if "," not in first:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if sep in first:
                raise DataError(
                    f"could not load {path.name}: its fields are separated by {name}, not commas "
                    f"(header: {first.strip()[:80]!r})",
                    f"write it with commas (in Python: rows = list(csv.reader(open(path, newline='', "
                    f"encoding='utf-8'), delimiter={sep!r})); csv.writer(open(new_path, 'w', newline='', "
                    "encoding='utf-8')).writerows(rows)), or in a spreadsheet save as 'CSV UTF-8 (comma "
                    "delimited)'", where=f"line 1 of {path}")
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    lines = []
    try:
        for fields in reader:
            if header is None:
                header = fields
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"could not load {path.name}: line {reader.line_num} has {len(fields)} fields, "
                    f"the header has {len(header)} ({', '.join(header)})",
                    "quote fields that contain commas or line breaks (\"like, this\"), or fix that row",
                    where=f"line {reader.line_num} of {path}")
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"could not load {path.name}: line {reader.line_num} is not valid CSV ({exc})",
                        "fix the quoting on that line", where=f"line {reader.line_num} of {path}") from None
    return lines


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object (dict)"
    return f"a {type(value).__name__}"


def _wrong_kind(column: str, value: Any, places: list[str], count: int, csv_file: bool = False) -> DataError:
    more = f" (and {count - 1} more row(s))" if count > 1 else ""
    if csv_file and isinstance(value, (int, float)) and not isinstance(value, bool):
        fix = ("a CSV has no types: load_dataset guessed numbers for this column (quotes do not "
               "change that); read every column as text: load_dataset('csv', data_files=path, "
               "features=csv_text_features(path)) with csv_text_features from course_utils.data "
               "(load_alpaca does this)")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        fix = (f"write numbers meant as text as JSON strings (\"output\": \"2\", not \"output\": 2), "
               "or drop those rows")
    else:
        fix = f"make every '{column}' a string in the data (fix or drop those rows); 'input' may be empty"
    return DataError(
        f"column '{column}' must hold text, but {places[0]} is {_kind(value)}{more}", fix,
        where=f"column '{column}', " + ", ".join(places[:5]))


def csv_text_features(path: str | Path) -> Any:
    """``datasets.Features`` reading every column of a CSV file as text (a CSV has no types;
    ``load_dataset`` would otherwise guess numbers for a column of digits)."""
    from datasets import Features, Value

    with open(Path(path).expanduser(), newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    return Features({name: Value("string") for name in header})


def csv_text_options(path: str | Path) -> dict[str, Any]:
    """``load_dataset("csv", ...)`` options that read a CSV file as the text it holds: every column
    a string (:func:`csv_text_features`), and an empty field ``""`` rather than a null (pandas
    would also turn the text ``NA``, ``null`` or ``None`` into a null without ``keep_default_na=False``)."""
    return {"features": csv_text_features(path), "keep_default_na": False}


def load_alpaca(source: str = ALPACA_HUB_ID, split: str = "train", limit: int | None = None) -> Dataset:
    """Load Alpaca-schema rows from the Hub, a local json/jsonl/parquet/csv file, or ``"sample"``.

    Local files are first checked line by line (:func:`check_data_file`), then the rows are
    validated (:func:`validate_alpaca`). ``limit`` keeps the first rows (a subsample).
    """
    import datasets

    name, kwargs = _resolve_source(source)
    lines = check_data_file(kwargs["data_files"]) if "data_files" in kwargs else None
    if name == "csv":  # a CSV has no types: every value is text, as it is in the file
        kwargs.update(csv_text_options(kwargs["data_files"]))
    with data_load_errors(source):
        ds = datasets.load_dataset(name, split=split, **kwargs)
    if limit is not None and limit < len(ds):
        ds = ds.select(range(limit))
    label = Path(kwargs["data_files"]).name if "data_files" in kwargs else str(source)
    return validate_alpaca(ds, label, lines=lines)


@contextmanager
def alpaca_source(source: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """Notebook 02's guard around its own ``load_dataset`` call, in one line.

    Yields ``(path, data_files, csv_options)`` for
    ``load_dataset(path, data_files=data_files, split="train", **csv_options)``:
    ``("tatsu-lab/alpaca", None, {})`` for a Hub id, ``("json", "<file>", {})`` for a local ``.jsonl``
    file or ``"sample"`` (the course's shipped file); for a ``.csv`` file ``csv_options`` reads every
    value as the text in the file (:func:`csv_text_options`), as :func:`load_alpaca` does. A local
    file is checked line by line first (:func:`check_data_file`); a library error inside the block
    becomes one :class:`DataError` with the cause and a fix (:func:`data_load_errors`).
    """
    name, kwargs = _resolve_source(source)
    data_files = kwargs.get("data_files")
    if data_files is not None:
        check_data_file(data_files)
    options = csv_text_options(data_files) if name == "csv" else {}
    with data_load_errors(source):
        yield name, data_files, options


@contextmanager
def data_load_errors(source: str) -> Iterator[None]:
    """Around a ``load_dataset`` call (notebook 02): the library's long errors become one
    :class:`DataError` with the cause and a fix (a Hub id that is misspelt or not cached offline)."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:  # the library's own errors are long; keep the cause, add the fix
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        local = Path(str(source)).expanduser().exists()
        raise DataError(
            f"could not load '{source}': {type(exc).__name__}" + (f": {first}" if first else ""),
            "check the file (a .jsonl, .json, .csv or .parquet file of Alpaca rows)" if local else
            "check the Hub id (spelling, 'owner/name'); offline (HF_DATASETS_OFFLINE=1) only datasets "
            "already in the cache load, so download it once with network or point COURSE_DATA at a "
            "local file ('sample' is the course's own)", where=str(source)) from exc


def _file_lines(source: str, lines: Sequence[int] | None) -> Sequence[int] | None:
    """The rows' line numbers, read from ``source`` when it is a local file and none were given
    (only when a problem is reported: the rows that pass cost nothing)."""
    if lines is None and Path(str(source)).suffix.lower() in LOCAL_FORMATS and Path(str(source)).is_file():
        try:
            return check_data_file(source)
        except DataError:
            return None
    return lines


def _where(index: int, lines: Sequence[int] | None, source: str) -> str:
    if lines is not None and index < len(lines) and lines[index] > 0:
        return f"row {index} (line {lines[index]} of {source})"
    return f"row {index}"


def validate_alpaca(ds: Dataset, source: str = "the data", lines: Sequence[int] | None = None) -> Dataset:
    """Check the schema and every value; return the rows ready for the course.

    - header names with stray spaces (``" output"``) are renamed, with a warning;
    - ``instruction``, ``input`` and ``output`` must be text (``input`` may be null): otherwise a
      :class:`DataError` naming the column and the row (and the file's line, where known);
    - rows whose ``instruction`` or ``output`` is empty or blank are dropped, with a warning naming
      them (an empty output would teach the model to stop at once; the original Alpaca release has a
      few); a :class:`DataError` only when no row would be left;
    - a missing ``input`` column is filled with ''; nulls in ``input`` mean "no input" ('');
    - ``text`` is built with the Alpaca templates when absent; when present but different from
      instruction/input/output, it is rebuilt from them, with a warning saying how many rows.
    """
    if len(ds) == 0:
        raise DataError(f"{source} has no rows", "point COURSE_DATA at a file with Alpaca rows")
    renames = {c: c.strip() for c in ds.column_names if c != c.strip()}
    if renames:
        clashes = [new for new in renames.values() if new in ds.column_names]
        if clashes:
            raise DataError(f"{source} has the column '{clashes[0]}' twice, once with stray spaces",
                            "delete or rename one of the two columns",
                            where=f"columns {', '.join(repr(c) for c in ds.column_names)}")
        ds = ds.rename_columns(renames)
        warn(f"column names with stray spaces in {source} were stripped: "
             + ", ".join(f"{old!r} -> {new!r}" for old, new in renames.items()),
             "remove the spaces from the file's header to silence this")
    for column in REQUIRED_COLUMNS:
        if column not in ds.column_names:
            raise DataError(
                f"{source} has no '{column}' column (it has: {', '.join(ds.column_names)})",
                "rename the column, or convert the file to Alpaca's instruction/input/output schema",
            )
    # Whole columns as Python lists in one step (indexing ds[c] in datasets 5 is a lazy column).
    columns = ds.select_columns([c for c in ("instruction", "input", "output", "text")
                                 if c in ds.column_names])[:]
    for column, values in columns.items():
        if column == "text":
            continue
        bad = [i for i, v in enumerate(values) if not (isinstance(v, str) or (v is None and column == "input"))]
        if bad:
            lines = _file_lines(source, lines)
            raise _wrong_kind(column, values[bad[0]], [_where(i, lines, source) for i in bad], len(bad),
                              csv_file=str(source).lower().endswith(".csv"))
    blanks = {column: [i for i, v in enumerate(columns[column]) if not v.strip()] for column in REQUIRED_COLUMNS}
    dropped = sorted(set().union(*blanks.values()))
    if dropped:
        lines = _file_lines(source, lines)
        for column, blank in blanks.items():
            if not blank:
                continue
            what = ("an empty output teaches the model to answer nothing and stop at once"
                    if column == "output" else "an empty instruction gives the model nothing to follow")
            where = f"column '{column}', " + ", ".join(_where(i, lines, source) for i in blank[:5])
            if len(dropped) == len(ds):  # nothing would be left to train on
                raise DataError(f"every row of {source} has an empty or blank '{column}': {what}",
                                f"fill '{column}' in the data, or point COURSE_DATA at another file", where=where)
            # The original Alpaca release itself has a few empty outputs: drop them and say so, never stop.
            warn(f"{len(blank)} row(s) of {source} have an empty or blank '{column}' ({what}): "
                 f"dropped, {len(ds) - len(dropped)} of {len(ds)} rows kept",
                 f"nothing to do; to keep them, write a '{column}' in those rows of the data", where=where)
        keep = [i for i in range(len(ds)) if i not in set(dropped)]
        ds = ds.select(keep)
        columns = {column: [values[i] for i in keep] for column, values in columns.items()}
        lines = [lines[i] for i in keep] if lines is not None and len(lines) >= len(keep) + len(dropped) else None
    if "input" not in ds.column_names:
        ds = ds.add_column("input", [""] * len(ds))
    elif any(v is None for v in columns["input"]):
        ds = ds.map(lambda row: {"input": row["input"] or ""})
    if "text" not in ds.column_names:
        return ds.map(lambda row: {"text": format_example(row)})
    texts = columns["text"]
    inputs = columns.get("input") or [""] * len(ds)
    expected = [format_example({"instruction": i, "input": x or "", "output": o})
                for i, x, o in zip(columns["instruction"], inputs, columns["output"])]
    differ = [i for i, (t, e) in enumerate(zip(texts, expected))
              if not isinstance(t, str) or t.strip() != e.strip()]
    if differ:
        lines = _file_lines(source, lines)
        ds = ds.remove_columns("text").add_column("text", expected)
        warn(f"{len(differ)} of {len(texts)} rows of {source} had a 'text' that does not match their "
             "instruction/input/output in the Alpaca template; 'text' was rebuilt from those columns",
             "training uses instruction/input/output; check the file if its 'text' was meant to differ",
             where=", ".join(_where(i, lines, source) for i in differ[:5]))
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
    check_split_size(len(pairs), profile.eval_rows, profile.data)
    split = pairs.train_test_split(test_size=profile.eval_rows, seed=0)
    return split["train"], drop_overlap(split["train"], split["test"], profile.data)


def drop_overlap(train: Dataset, eval: Dataset, source: str = "the data", limit: float = 0.10) -> Dataset:
    """``eval`` without the rows whose prompt the model also trains on.

    A held-out row whose prompt is also a training prompt measures memory, not generalisation: the
    eval loss would fall as if the model had learned, on a question it has seen. That holds for an
    exact copy of a training row and for the same prompt with another answer alike. Such rows are
    dropped; a warning when they are more than ``limit`` of the held-out rows (a file that repeats
    many rows), and a :class:`DataError` when they are all of them."""
    seen = set(train["prompt"])
    copies = [i for i, prompt in enumerate(eval["prompt"]) if prompt in seen]
    if not copies:
        return eval
    dedupe = ("keep one row per prompt before splitting, e.g. dataset = Dataset.from_pandas(dataset.to_pandas()"
              ".drop_duplicates(subset=['instruction', 'input']), preserve_index=False), or add rows that differ")
    if len(copies) == len(eval):
        raise DataError(
            f"every one of the {len(eval)} held-out rows of {source} asks a prompt that is also a training "
            "row's (the file repeats its rows): the eval loss would measure memory, not learning", dedupe,
            where=f"held-out rows 0-{len(eval) - 1}")
    if len(copies) > limit * len(eval):
        warn(f"{len(copies)} of the {len(eval)} held-out rows of {source} ask a prompt the model also trains on: "
             f"they were dropped from the eval split, so the eval loss is measured on the "
             f"{len(eval) - len(copies)} prompts the model never trains on", dedupe,
             where="held-out rows " + ", ".join(map(str, copies[:5])) + (" ..." if len(copies) > 5 else ""))
    keep = set(range(len(eval))) - set(copies)
    return eval.select(sorted(keep))


def drop_prompt_only(rows: Dataset, tokenizer: Any, max_length: int) -> Dataset:
    """``rows`` without those whose prompt alone fills ``max_length`` tokens, encoded as trl encodes
    it (the tokenizer's defaults). Cut at ``max_length``, such a row keeps no answer token: trl
    would still pack it, as a row that carries no loss and only costs compute (notebook 06 writes
    this out; :func:`course_utils.chat.drop_prompt_only` is the same for conversations)."""
    lengths = [len(ids) for ids in tokenizer(list(rows["prompt"]))["input_ids"]]
    keep = [i for i, n in enumerate(lengths) if n < max_length]
    if lengths and not keep:
        raise ConfigError(
            f"every prompt of the {len(lengths)} training rows is {min(lengths)} tokens or longer, and "
            f"max_length={max_length} cuts each example there: no row keeps an answer token to learn from",
            f"raise max_length above the prompts' length: profile = profile.replace(max_length={max(lengths) + 64})")
    return rows.select(keep)


def check_split_size(rows: int, eval_rows: int, source: str = "the data", min_train: int = 1) -> None:
    """A :class:`DataError` when ``rows`` cannot give ``eval_rows`` held-out rows and still train."""
    if eval_rows < 1:
        raise ConfigError(f"eval_rows={eval_rows}: the eval split needs at least one row",
                          "use profile.replace(eval_rows=...) with a positive number")
    if rows < eval_rows + min_train:
        raise DataError(
            f"{source} has {rows} row(s): too few to hold out {eval_rows} for evaluation and "
            f"still train on {min_train}",
            f"add rows, or hold out fewer with profile = profile.replace(eval_rows={max(1, rows // 10)})"
            if rows > 1 else "add rows: training needs more than one example")


def warn_if_cut(lengths: Sequence[int], max_length: int, limit: float = 0.10) -> float:
    """Share of rows longer than ``max_length`` tokens; a warning with advice above ``limit``.

    A check on the learner's own data: long rows are cut (or split by packing), which is a choice,
    not an error, so notebook 03 warns instead of stopping.
    """
    share = share_over(lengths, max_length)
    if share > limit:
        warn(f"{share:.1%} of the rows are longer than max_length={max_length} tokens and will be cut",
             f"raise max_length (p99 is {percentile(lengths, 99)} tokens), or drop the longest rows "
             "with dataset.filter(...) if their ends do not matter")
    return share
