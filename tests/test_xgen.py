"""XGen's tokenizer rebuilt as a fast tokenizer (course_utils/xgen.py), offline.

GPT-2's real rank table is a download, so these tests use a small made-up one that is shaped the
same way: every single byte (ranks 0-255), then a few merges. Like GPT-2's, it has no run of
spaces or tabs, and ``<|endoftext|>`` takes the id after its last rank (GPT-2: 50256 after 0-50255).
"""

from __future__ import annotations

import pytest
import tiktoken

from course_utils import xgen
from course_utils.errors import ModelLoadError
from course_utils.xgen import (CODE_TOKENS, EOS, SPACE_RUNS, TAB_RUNS, build_xgen_encoding,
                               compare_with_tiktoken, load_xgen_tokenizer, xgen_fast_tokenizer)

MERGES = [b"th", b"the", b" t", b" the", b"in", b"ing", b" in", b"de", b"def", b"re", b"ret",
          b"\n\n", b"==", b"()"]
RANKS = {bytes([b]): b for b in range(256)} | {m: 256 + i for i, m in enumerate(MERGES)}
N = len(RANKS)  # plays GPT-2's 50256: EOS gets id N, the whitespace runs N+1..

TEXTS = [
    "the thing in the ring",
    "def f():\n    return 1\n",
    "class A:\n    def g(self):\n        if x == 1:\n            return None\n",
    "\tif x:\n\t\tthe()\n\t\t\treturn\n",
    "mixed \t \t indentation\t\t\t\t\t\t\t\t\t\t\tend",
    " " * 31 + "x", " " * 32 + "x", " " * 70, "\t" * 9, "\t" * 25 + "y", " \t " * 12,
    "trailing spaces   \n\n\n   ",
    "crlf\r\n\r\n  line\r\n",
    "héllo wörld, naïve café",
    "日本語のテキスト and emoji 🎉🙂",
    "non-breaking\u00a0space and\u3000ideographic space",
    "numbers 1234567 and 3.14159, contractions: it's we're they'll I'd",
    "<fim_prefix>def f(<fim_suffix>):\n    pass<fim_middle>",
    "<reponame>course<filename>a.py<gh_stars>10\nprint()<|endoftext|>",
    "<jupyter_start><jupyter_code>x = 1<jupyter_output>1<empty_output>",
    "",
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


def offline(name: str):
    raise ConnectionError(f"no network to fetch {name}")


def test_ids_follow_xgens_layout(encoding, tok):
    assert encoding.n_vocab == len(tok) == N + 1 + 30 + 8 + 18
    assert [encoding.encode_single_token(t) for t in SPACE_RUNS + TAB_RUNS] == list(range(N + 1, N + 39))
    assert SPACE_RUNS[0] == " " * 31 and TAB_RUNS[-1] == "\t\t"
    assert tok.convert_tokens_to_ids(CODE_TOKENS) == list(range(N + 39, N + 57))
    assert [encoding.encode_single_token(t) for t in CODE_TOKENS] == list(range(N + 39, N + 57))
    assert tok.eos_token == EOS and tok.eos_token_id == N == encoding.eot_token
    assert tok.pad_token is None and tok.bos_token is None
    assert set(CODE_TOKENS) <= set(tok.all_special_tokens)
    assert tok.model_max_length == 8192


def test_whitespace_runs_get_their_own_ids(encoding, tok):
    space = {len(r): encoding.encode_single_token(r) for r in SPACE_RUNS}
    tab = {len(r): encoding.encode_single_token(r) for r in TAB_RUNS}
    assert tok.encode(" " * 31) == [space[31]] and tok.encode("\t" * 9) == [tab[9]]
    # GPT-2's split pattern keeps the last space for the next word: 8 spaces + "return" is
    # a 7-space run, then " return" (" " "ret" "u" "r" "n" in the small table).
    ids = tok.encode("x\n" + " " * 8 + "return")
    assert space[7] in ids and ids == encoding.encode("x\n" + " " * 8 + "return")
    # A tab cannot lead a word the way a space can, so the last tab stands alone.
    assert tok.encode("\t\t\tx") == encoding.encode("\t\t\tx") == [tab[2], ord("\t"), ord("x")]


def test_same_ids_as_tiktoken_and_round_trip(encoding, tok):
    assert compare_with_tiktoken(tok, encoding, TEXTS) == []
    for text in TEXTS:
        assert tok.decode(tok.encode(text)) == text


def test_compare_reports_texts_that_differ(tok):
    plain = fake_gpt2()  # no whitespace runs, no code tokens
    assert compare_with_tiktoken(tok, plain, ["the", "    x", "<fim_pad>"]) == ["    x", "<fim_pad>"]


def test_add_special_tokens_adds_nothing(tok):
    assert tok("the thing").input_ids == tok("the thing", add_special_tokens=False).input_ids
    assert tok.eos_token_id not in tok("the thing").input_ids


def test_save_and_reload(tok, tmp_path, encoding):
    from transformers import PreTrainedTokenizerFast

    tok.save_pretrained(tmp_path)
    again = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    assert len(again) == len(tok) and again.eos_token_id == N and again.pad_token is None
    assert again.convert_tokens_to_ids(CODE_TOKENS) == tok.convert_tokens_to_ids(CODE_TOKENS)
    assert compare_with_tiktoken(again, encoding, TEXTS) == []


def test_offline_without_a_saved_copy_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(ModelLoadError, match="network") as info:
        load_xgen_tokenizer(tmp_path / "cache")
    assert "COURSE_XGEN_TOKENIZER" in info.value.fix and "\n" not in info.value.cause
    assert not (tmp_path / "cache").exists()
    # No folder given, no COURSE_XGEN_TOKENIZER: the default one under ~/.cache is looked at.
    monkeypatch.delenv("COURSE_XGEN_TOKENIZER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match="course_utils/xgen-tokenizer holds no saved copy"):
        load_xgen_tokenizer()


def test_built_once_then_loaded_from_the_cache(tmp_path, monkeypatch, encoding):
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
