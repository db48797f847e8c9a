"""XGen's tokenizer rebuilt as a fast tokenizer (course_utils/xgen.py), offline.

Two parts:

* with GPT-2's real BPE files from ``../shared/data/gpt2`` (beside the repository, as CI lays it
  out): the course's tokenizer against a tiktoken ``Encoding`` built here, independently, the
  way Salesforce's ``tokenization_xgen.py`` builds it (as the Hub has served it since August
  2023), id for id, on the course's sample, on indented code, on every special string and on
  near-misses; these skip, saying why, only where that folder is absent;
* with a small made-up rank table shaped like GPT-2's (every single byte, then a few merges):
  the layout relative to EOS, the cache and the offline errors, quickly and without the files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import tiktoken

from course_utils import xgen
from course_utils.errors import ModelLoadError
from course_utils.xgen import (EOS, SPACE_RUNS, SPECIAL_TOKENS, TAB_RUNS, build_xgen_encoding,
                               compare_with_tiktoken, layout_problem, load_xgen_tokenizer,
                               xgen_fast_tokenizer)

REPO = Path(__file__).resolve().parent.parent
# $COURSE_GPT2_FILES when set (a fork's CI downloads the two files there), else the shared copy
GPT2_DIR = Path(os.environ.get("COURSE_GPT2_FILES") or REPO.parent / "shared" / "data" / "gpt2")
needs_gpt2 = pytest.mark.skipif(
    not (GPT2_DIR / "encoder.json").is_file(),
    reason=f"GPT-2's BPE files are not in {GPT2_DIR} (CI puts shared/ beside the clone, or set "
           "COURSE_GPT2_FILES): the id-for-id checks against tiktoken's real gpt2 table cannot run")

# Salesforce's special strings, spelled out here rather than imported, so that a slip in
# course_utils.xgen's lists shows up.
FIM_AND_CODE = ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
                "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>",
                "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
                "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>"]
SINCE_AUGUST_2023 = (["<dummy_0>", "<dummy_1>", "<dummy_2>", "<dummy_3>", "<sep>", "<eom>"]
                     + ["<mask_%d>" % i for i in reversed(range(1, 882))])
NEAR_MISSES = ["<mask_0>", "<mask_882>", "<SEP>", "<Sep>", "<EOM>", "<dummy_4>", "<mask_01>",
               "<mask_-1>", "<mask_1000>", "<mask_>", "<mask_ 1>", "< sep>", "<sep >", "<sep",
               "sep>", "<|endoftext|", "<|ENDOFTEXT|>", "<fim-prefix>", "<FIM_PREFIX>",
               "<mask_12", "mask_12>", "<dummy_>", "<eom", "<\nsep>"]


def salesforce_encoding(tiktoken_cache: Path) -> tiktoken.Encoding:
    """XGen's encoding as Salesforce's file makes it (with a copy of GPT-2's table, not in place).

    tiktoken's own ``gpt2`` recipe reads GPT-2's two files from TIKTOKEN_CACHE_DIR, where a
    download would be cached under the SHA-1 of its address; the shared copies are put there.
    """
    import hashlib

    from tiktoken_ext import openai_public

    urls = {"vocab.bpe": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
            "encoder.json": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json"}
    tiktoken_cache.mkdir(parents=True, exist_ok=True)
    for name, url in urls.items():
        shutil.copyfile(GPT2_DIR / name, tiktoken_cache / hashlib.sha1(url.encode()).hexdigest())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_cache))
        gpt2 = tiktoken.Encoding(**openai_public.gpt2())  # what tiktoken.get_encoding("gpt2") makes
    ranks = dict(gpt2._mergeable_ranks)
    idx = gpt2.n_vocab
    for ws in [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]:
        ranks[ws.encode()] = idx
        idx += 1
    special = dict(gpt2._special_tokens)
    for token in FIM_AND_CODE + SINCE_AUGUST_2023:
        special[token] = idx
        idx += 1
    return tiktoken.Encoding(name="xgen_reference", pat_str=gpt2._pat_str, mergeable_ranks=ranks,
                             special_tokens=special)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tiktoken.Encoding:
    if not (GPT2_DIR / "encoder.json").is_file():
        pytest.skip(f"GPT-2's BPE files are not in {GPT2_DIR}")
    return salesforce_encoding(tmp_path_factory.mktemp("tiktoken-cache"))


@pytest.fixture(scope="module")
def course_built(tmp_path_factory):
    """The course's loader, offline: ``load_tokenizer(XGEN_ID)`` builds XGen's tokenizer from the
    shared GPT-2 files into $COURSE_XGEN_TOKENIZER, once for this file (a build takes seconds):
    (that folder, the tokenizer load_tokenizer returned)."""
    from course_utils.models import load_tokenizer
    from course_utils.profile import XGEN_ID

    if not (GPT2_DIR / "encoder.json").is_file():
        pytest.skip(f"GPT-2's BPE files are not in {GPT2_DIR}")
    folder = tmp_path_factory.mktemp("xgen") / "xgen-tokenizer-51200"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_GPT2_FILES", str(GPT2_DIR))
        mp.setenv("COURSE_XGEN_TOKENIZER", str(folder))
        mp.setattr(tiktoken, "get_encoding", offline)  # the shared files, never the network
        return folder, load_tokenizer(XGEN_ID)


@pytest.fixture(scope="module")
def real_tok(course_built):
    """The course's tokenizer as it was built from the shared GPT-2 files: the saved cache loaded back."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tiktoken, "get_encoding", offline)
        return load_xgen_tokenizer(course_built[0])


def sample_texts() -> list[str]:
    rows = [json.loads(line) for line in (REPO / "course_utils/assets/alpaca_sample.jsonl").open()]
    from course_utils.data import format_example

    return [format_example(r) for r in rows] + [r[k] for r in rows for k in r if r[k]]


def code_texts() -> list[str]:
    texts = []
    for n in range(2, 41):
        sp, tab = " " * n, "\t" * n
        texts += [
            f"def f():\n{sp}return 1\n", f"if x:\n{tab}pass\n", sp, tab, sp + "\n", tab + "\n",
            f"x = 1{sp}\n{sp}y{sp}", f"{tab}{sp}z", f"{sp}{tab}z", " \t" * n, f"a{tab}b{sp}c",
            f"class A:\n{sp}def g(self):\n{sp}{sp}if x == 1:\n{sp}{sp}{sp}return None\n",
            f"all:\n{tab}$(CC) -o $@ $^\n{tab}{tab}echo done\n", f"\r\n{sp}\r\n{tab}\r\n",
            f"{sp}\u00a0{sp}\u3000x",
        ]
    texts.append("".join(f"{' ' * n}x\n" for n in range(2, 41)) + "".join(f"{chr(9) * n}y\n" for n in range(2, 41)))
    return texts


def special_texts() -> list[str]:
    every = [EOS] + FIM_AND_CODE + SINCE_AUGUST_2023
    texts = [f"a{t}b" for t in every] + [f" {t} " for t in every] + [f"x{t}\n{t}" for t in every]
    texts += ["".join(every), " ".join(every), "\n".join(every),
              "pattern = re.compile(r'(?P<sep>[,;])')  # a named group",
              "Fill in the blank: The <mask_1> sat on the <mask_2>.<eom><sep>next",
              "<fim_prefix>def f(<fim_suffix>):\n    pass<fim_middle><|endoftext|>",
              "<dummy_0><dummy_1><dummy_2><dummy_3><mask_881><mask_10><mask_100><mask_1>",
              "<<sep>>", "<mask_0><mask_1>", "<mask_<mask_5>>", "<SEP><sep><Sep>"]
    return texts


def offline(name: str):
    raise ConnectionError(f"no network to fetch {name}")


# --- with GPT-2's real table --------------------------------------------------------------


@needs_gpt2
def test_course_encoding_is_salesforces(reference):
    course = build_xgen_encoding(gpt2_dir=GPT2_DIR)
    assert course._mergeable_ranks == reference._mergeable_ranks
    assert course._special_tokens == reference._special_tokens
    assert course._pat_str == reference._pat_str == xgen.GPT2_PATTERN
    assert SPECIAL_TOKENS == FIM_AND_CODE + SINCE_AUGUST_2023


@needs_gpt2
def test_ids_and_size_of_todays_hub_tokenizer(real_tok, reference):
    tok = real_tok
    assert len(tok) == reference.n_vocab == 51200 == xgen.VOCAB_SIZE
    assert tok.eos_token == EOS and tok.eos_token_id == 50256
    assert tok.bos_token is None and tok.pad_token is None
    assert tok.convert_tokens_to_ids(FIM_AND_CODE) == list(range(50295, 50313))
    assert tok.convert_tokens_to_ids([f"<dummy_{i}>" for i in range(4)]) == [50313, 50314, 50315, 50316]
    assert tok.convert_tokens_to_ids(["<sep>", "<eom>"]) == [50317, 50318]
    assert tok.convert_tokens_to_ids(["<mask_881>", "<mask_880>", "<mask_1>"]) == [50319, 50320, 51199]
    assert [reference.encode_single_token(r) for r in SPACE_RUNS + TAB_RUNS] == list(range(50257, 50295))
    assert [tok.encode(r) for r in SPACE_RUNS + TAB_RUNS] == [[i] for i in range(50257, 50295)]
    assert tok.all_special_tokens == [EOS] and tok.model_max_length == 8192
    assert layout_problem(tok) is None


@needs_gpt2
def test_nothing_added_to_a_text(real_tok):
    enc = real_tok("Hello world")
    assert enc.input_ids == real_tok("Hello world", add_special_tokens=False).input_ids == [15496, 995]


@needs_gpt2
def test_same_ids_as_salesforces_encoding_on_the_course_sample(real_tok, reference):
    texts = sample_texts()
    assert len(texts) > 500
    assert compare_with_tiktoken(real_tok, reference, texts) == []


@needs_gpt2
def test_same_ids_on_code_indented_with_2_to_40_spaces_and_tabs(real_tok, reference):
    assert compare_with_tiktoken(real_tok, reference, code_texts()) == []
    # GPT-2's pattern leaves the last space to the next word: 8 spaces + "return" is the 7-space
    # run (id 50281), then " return" (GPT-2's 1441).
    assert real_tok.encode("\n" + " " * 8 + "return") == [198, 50281, 1441]


@needs_gpt2
def test_every_special_string_becomes_its_single_id(real_tok, reference):
    assert compare_with_tiktoken(real_tok, reference, special_texts()) == []
    for i, token in enumerate([EOS] + FIM_AND_CODE + SINCE_AUGUST_2023):
        expected = 50256 if i == 0 else 50294 + i
        assert real_tok.encode(f"a{token}b") == [64, expected, 65]
    assert 50317 in real_tok.encode("re.compile(r'(?P<sep>[,;])')")


@needs_gpt2
def test_near_misses_stay_ordinary_text(real_tok, reference):
    texts = NEAR_MISSES + [f"x {t} y" for t in NEAR_MISSES] + ["".join(NEAR_MISSES)]
    assert compare_with_tiktoken(real_tok, reference, texts) == []
    for text in texts:
        assert max(real_tok.encode(text)) < 50257, text


@needs_gpt2
def test_decode_skips_only_endoftext(real_tok):
    text = "<fim_prefix>a<sep>b<eom><mask_7><dummy_2> c<|endoftext|>"
    ids = real_tok.encode(text)
    assert real_tok.decode(ids) == text
    assert real_tok.decode(ids, skip_special_tokens=True) == text.replace(EOS, "")
    for text in sample_texts()[:50] + code_texts() + special_texts():
        assert real_tok.decode(real_tok.encode(text)) == text


@needs_gpt2
def test_load_tokenizer_gives_51200_ids_offline(course_built):
    """Acceptance: the course's loader, offline, with the shared GPT-2 files (course_built)."""
    folder, tok = course_built
    assert (folder / "tokenizer.json").is_file()  # built and saved where $COURSE_XGEN_TOKENIZER says
    assert len(tok) == 51200
    assert tok.pad_token == EOS and tok.pad_token_id == tok.eos_token_id == 50256  # EOS reused


@pytest.mark.slow  # two full XGen encodings built from GPT-2's BPE files
@needs_gpt2
def test_an_old_50313_id_build_is_never_reused(real_tok, tmp_path, monkeypatch):
    """A folder saved by the course's first build (June-July 2023 layout) is refused."""
    import tiktoken as tk

    new = build_xgen_encoding(gpt2_dir=GPT2_DIR)
    special = {t: i for t, i in new._special_tokens.items() if i < 50313}
    old = xgen_fast_tokenizer(tk.Encoding("xgen_2023", pat_str=new._pat_str,
                                          mergeable_ranks=new._mergeable_ranks, special_tokens=special))
    assert len(old) == 50313
    old.save_pretrained(tmp_path / "old")
    with pytest.raises(ModelLoadError, match="50,313 ids .*June-July 2023.*51,200") as info:
        load_xgen_tokenizer(tmp_path / "old")
    assert "delete" in info.value.fix
    # The old default folder is not looked at: the default name carries the version.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_XGEN_TOKENIZER", raising=False)
    monkeypatch.setenv("COURSE_GPT2_FILES", str(GPT2_DIR))
    shutil.copytree(tmp_path / "old", tmp_path / ".cache/course_utils/xgen-tokenizer")
    assert len(load_xgen_tokenizer()) == 51200
    assert (tmp_path / ".cache/course_utils/xgen-tokenizer-51200/tokenizer.json").is_file()


# --- with a small made-up table -----------------------------------------------------------

MERGES = [b"th", b"the", b" t", b" the", b"in", b"ing", b" in", b"de", b"def", b"re", b"ret",
          b"\n\n", b"==", b"()"]
RANKS = {bytes([b]): b for b in range(256)} | {m: 256 + i for i, m in enumerate(MERGES)}
N = len(RANKS)  # plays GPT-2's 50256: EOS gets id N, the whitespace runs N+1..

TEXTS = [
    "the thing in the ring",
    "def f():\n    return 1\n",
    "\tif x:\n\t\tthe()\n\t\t\treturn\n",
    "mixed \t \t indentation\t\t\t\t\t\t\t\t\t\t\tend",
    " " * 31 + "x", " " * 32 + "x", " " * 70, "\t" * 9, "\t" * 25 + "y", " \t " * 12,
    "crlf\r\n\r\n  line\r\n", "héllo wörld, naïve café", "日本語のテキスト and emoji 🎉🙂",
    "<fim_prefix>def f(<fim_suffix>):\n    pass<fim_middle>",
    "<reponame>course<filename>a.py<gh_stars>10\nprint()<|endoftext|>",
    "(?P<sep>x)<eom><mask_881><mask_1><dummy_3> <mask_0><SEP>", "",
]


@pytest.fixture(scope="module")
def encoding() -> tiktoken.Encoding:
    return build_xgen_encoding(RANKS)


@pytest.fixture(scope="module")
def tok(encoding):
    return xgen_fast_tokenizer(encoding)


def fake_gpt2() -> tiktoken.Encoding:
    """What ``tiktoken.get_encoding("gpt2")`` would return, with the small table."""
    return tiktoken.Encoding("gpt2", pat_str=xgen.GPT2_PATTERN, mergeable_ranks=RANKS,
                             special_tokens={EOS: N})


def test_layout_relative_to_eos(encoding, tok):
    assert encoding.n_vocab == len(tok) == N + 1 + 30 + 8 + 18 + 4 + 2 + 881
    assert SPACE_RUNS[0] == " " * 31 and TAB_RUNS[-1] == "\t\t"
    assert tok.convert_tokens_to_ids(SPECIAL_TOKENS) == list(range(N + 39, len(tok)))
    assert tok.eos_token_id == N == encoding.eot_token and layout_problem(tok) is None


def test_same_ids_as_tiktoken_and_round_trip(encoding, tok):
    assert compare_with_tiktoken(tok, encoding, TEXTS) == []
    for text in TEXTS:
        assert tok.decode(tok.encode(text)) == text


def test_compare_reports_texts_that_differ(tok):
    plain = fake_gpt2()  # no whitespace runs, no special strings but EOS
    assert compare_with_tiktoken(tok, plain, ["the", "    x", "<sep>"]) == ["    x", "<sep>"]


def test_save_and_reload(tok, tmp_path, encoding):
    from transformers import PreTrainedTokenizerFast

    tok.save_pretrained(tmp_path)
    again = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    assert len(again) == len(tok) and again.eos_token_id == N and again.pad_token is None
    assert layout_problem(again) is None and compare_with_tiktoken(again, encoding, TEXTS) == []


def test_offline_without_a_saved_copy_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_GPT2_FILES", raising=False)
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(ModelLoadError, match="network") as info:
        load_xgen_tokenizer(tmp_path / "cache")
    assert "COURSE_XGEN_TOKENIZER" in info.value.fix and "COURSE_GPT2_FILES" in info.value.fix
    assert "\n" not in info.value.cause and not (tmp_path / "cache").exists()
    # No folder given, no COURSE_XGEN_TOKENIZER: the default (versioned) one is looked at.
    monkeypatch.delenv("COURSE_XGEN_TOKENIZER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match="course_utils/xgen-tokenizer-51200 holds no saved copy"):
        load_xgen_tokenizer()


def test_wrong_gpt2_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GPT2_FILES", str(tmp_path))
    with pytest.raises(ModelLoadError, match="has no vocab.bpe or encoder.json"):
        load_xgen_tokenizer(tmp_path / "cache")
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\na b\n")
    (tmp_path / "encoder.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="is not GPT-2's") as info:
        load_xgen_tokenizer(tmp_path / "cache")
    assert "unset COURSE_GPT2_FILES" in info.value.fix and not (tmp_path / "cache").exists()


def test_built_once_then_loaded_from_the_cache(tmp_path, monkeypatch, encoding):
    monkeypatch.delenv("COURSE_GPT2_FILES", raising=False)
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: fake_gpt2())
    cache = tmp_path / "cache" / "xgen-tokenizer"
    first = load_xgen_tokenizer(cache)
    assert compare_with_tiktoken(first, encoding, TEXTS) == []
    assert [p.name for p in cache.parent.iterdir()] == ["xgen-tokenizer"]  # no temp folder left
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    assert load_xgen_tokenizer(cache).encode("  the") == first.encode("  the")


def test_env_folder_is_used_and_models_pads_with_eos(tok, tmp_path, monkeypatch):
    from course_utils.models import load_tokenizer
    from course_utils.profile import XGEN_ID

    tok.save_pretrained(tmp_path / "saved")
    monkeypatch.setenv("COURSE_XGEN_TOKENIZER", str(tmp_path / "saved"))
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    assert load_xgen_tokenizer().eos_token_id == N
    loaded = load_tokenizer(XGEN_ID)
    assert loaded.pad_token == EOS and loaded.pad_token_id == loaded.eos_token_id == N
