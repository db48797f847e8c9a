"""XGen-7B's tokenizer as a fast tokenizer, built without remote code (notebook 04).

Why this exists: the tokenizer on the Hub (``Salesforce/xgen-7b-8k-base``) is *remote code*,
``tokenization_xgen.py``, written for transformers 4.29. It subclasses the slow-tokenizer base
class that transformers 5 removed, so ``AutoTokenizer.from_pretrained(..., trust_remote_code=True)``
fails. This module rebuilds the same tokenizer from its published recipe and runs no remote code.

Which tokenizer: the one the Hub has served since August 2023, which everyone who downloads
XGen-7B today gets, and which the 2024 source tutorial used. Its ids, in order:

* base: tiktoken's ``gpt2`` encoding (ids 0-50255 mergeable, ``<|endoftext|>`` = 50256);
* then, as ordinary mergeable tokens: runs of 31 down to 2 spaces (50257-50286) and runs of
  9 down to 2 tabs (50287-50294);
* then, as special strings: 18 code tokens (``<fim_prefix>`` ... ``<reponame>``, 50295-50312),
  ``<dummy_0>`` ... ``<dummy_3>`` (50313-50316), ``<sep>`` (50317), ``<eom>`` (50318), and
  ``<mask_881>``, ``<mask_880>`` ... ``<mask_1>`` (50319-51199).

That is 51,200 ids, exactly the model's 51,200 embedding rows. The file as first published
(June-July 2023) stopped after ``<reponame>``: 50,313 ids. The course does not keep that variant:
nobody can download it any more, the model's embedding has 51,200 rows either way, and the two
disagree on text that contains ``<sep>``, ``<eom>``, ``<mask_N>`` or ``<dummy_N>``.

Behaviour, as in Salesforce's file: every special string found in a text becomes its single id
(tiktoken's ``allowed_special="all"``), so ``"(?P<sep>...)"`` holds the id 50317; EOS is
``<|endoftext|>``; there is no BOS and no pad token, and ``tokenizer(text)`` adds nothing (no EOS
either). ``decode(..., skip_special_tokens=True)`` drops ``<|endoftext|>`` only: for transformers
the code, dummy, sep, eom and mask strings are added tokens, not special ones.

:func:`build_xgen_encoding` makes this as a tiktoken ``Encoding`` (as the original code does),
:func:`xgen_fast_tokenizer` turns that into a ``PreTrainedTokenizerFast``, and
:func:`load_xgen_tokenizer` caches the result on disk, in a folder whose name carries the version
(a folder holding an older build is refused, never silently reused).

GPT-2's BPE files: tiktoken downloads them on first use (learners). Offline, point
``$COURSE_GPT2_FILES`` (or the ``gpt2_dir`` argument) at a folder holding ``encoder.json`` and
``vocab.bpe``; their SHA-256 are checked against the ones tiktoken pins. The tests do this with
a shared copy and compare this tokenizer, id for id, with a tiktoken ``Encoding`` built the way
Salesforce's file builds it::

    enc = build_xgen_encoding()                 # downloads GPT-2's BPE files once
    tok = xgen_fast_tokenizer(enc)
    compare_with_tiktoken(tok, enc, texts)      # [] means identical ids on every text
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelLoadError

if TYPE_CHECKING:
    import tiktoken
    from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

EOS = "<|endoftext|>"
SPACE_RUNS = [" " * n for n in range(31, 1, -1)]  # 31 spaces first, 2 spaces last
TAB_RUNS = ["\t" * n for n in range(9, 1, -1)]  # 9 tabs first, 2 tabs last
CODE_TOKENS = [
    "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
    "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>",
    "<commit_after>", "<reponame>",
]
# Appended by the Hub file since August 2023, after the code tokens:
DUMMY_TOKENS = [f"<dummy_{i}>" for i in range(4)]
SEP, EOM = "<sep>", "<eom>"
MASK_TOKENS = [f"<mask_{i}>" for i in range(881, 0, -1)]  # <mask_881> first, <mask_1> last
SPECIAL_TOKENS = CODE_TOKENS + DUMMY_TOKENS + [SEP, EOM] + MASK_TOKENS  # after EOS, in id order
VOCAB_SIZE = 51_200  # with GPT-2's table: 50,257 + 38 runs + 905 special strings
MAX_LENGTH = 8192  # the "8k" of xgen-7b-8k-base
CACHE_ENV = "COURSE_XGEN_TOKENIZER"
# The folder name carries the version: "xgen-tokenizer" (no suffix) held the 50,313-id build.
DEFAULT_CACHE = Path("~/.cache/course_utils/xgen-tokenizer-51200")
GPT2_FILES_ENV = "COURSE_GPT2_FILES"
# SHA-256 of GPT-2's files, as tiktoken pins them (tiktoken_ext/openai_public.py).
GPT2_FILE_HASHES = {
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
}

# GPT-2's split pattern, as tiktoken writes it (tiktoken_ext.openai_public.r50k_pat_str).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


def gpt2_ranks(gpt2_dir: Path | str | None = None) -> tuple[dict[bytes, int], str]:
    """GPT-2's BPE rank table and split pattern, as tiktoken's ``gpt2`` encoding has them.

    From ``gpt2_dir``, else ``$COURSE_GPT2_FILES``, when one is given: a folder with GPT-2's
    ``encoder.json`` and ``vocab.bpe`` (checked against tiktoken's hashes; no network). Otherwise
    from ``tiktoken.get_encoding("gpt2")``, which downloads the two files once and caches them.
    """
    import tiktoken

    folder = gpt2_dir if gpt2_dir is not None else os.environ.get(GPT2_FILES_ENV)
    if not folder:
        gpt2 = tiktoken.get_encoding("gpt2")
        return gpt2._mergeable_ranks, gpt2._pat_str
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    folder = Path(folder).expanduser()
    missing = [name for name in GPT2_FILE_HASHES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(f"{folder} (from {GPT2_FILES_ENV} or gpt2_dir) has no {' or '.join(missing)}",
                             f"put GPT-2's encoder.json and vocab.bpe there, or unset {GPT2_FILES_ENV} "
                             "to let tiktoken download them")
    wrong = [name for name, digest in GPT2_FILE_HASHES.items()
             if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest]
    if wrong:  # checked here too: tiktoken skips its own check when TIKTOKEN_CACHE_DIR=""
        raise ModelLoadError(f"{folder / wrong[0]} is not GPT-2's {wrong[0]} (its SHA-256 differs "
                             "from the one tiktoken pins)",
                             "copy encoder.json and vocab.bpe again from GPT-2's release, or unset "
                             f"{GPT2_FILES_ENV} to let tiktoken download them")
    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(folder / "vocab.bpe"), encoder_json_file=str(folder / "encoder.json"),
        vocab_bpe_hash=GPT2_FILE_HASHES["vocab.bpe"], encoder_json_hash=GPT2_FILE_HASHES["encoder.json"])
    return ranks, GPT2_PATTERN


def build_xgen_encoding(mergeable_ranks: dict[bytes, int] | None = None,
                        gpt2_dir: Path | str | None = None) -> tiktoken.Encoding:
    """XGen's tiktoken encoding: GPT-2's rank table, whitespace runs, then the special strings.

    With ``mergeable_ranks=None`` the table is GPT-2's (see :func:`gpt2_ranks` for where it comes
    from). A table passed in (some tests use a small one) plays GPT-2's part: ``<|endoftext|>``
    takes the id after its last rank, as 50256 follows GPT-2's 0-50255.
    """
    import tiktoken

    pattern = GPT2_PATTERN
    if mergeable_ranks is None:
        mergeable_ranks, pattern = gpt2_ranks(gpt2_dir)
    next_id = max(mergeable_ranks.values()) + 1
    special = {EOS: next_id}
    ranks = dict(mergeable_ranks)  # a copy: tiktoken shares its table between callers
    for run in SPACE_RUNS + TAB_RUNS:
        next_id += 1
        ranks[run.encode()] = next_id
    for token in SPECIAL_TOKENS:
        next_id += 1
        special[token] = next_id
    return tiktoken.Encoding(name="xgen", pat_str=pattern, mergeable_ranks=ranks,
                             special_tokens=special)


def _vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE vocab and merges equivalent to a tiktoken rank table.

    tiktoken keys tokens by raw bytes; ``tokenizers`` spells each byte as a printable character
    (GPT-2's ``bytes_to_unicode``, where a space is ``Ġ``). tiktoken has no merge list: it joins
    the adjacent pair whose result has the lowest rank. So every way to split a token into two
    tokens becomes a merge, ordered by the rank of the result (as transformers' TikTokenConverter
    does).
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    byte_char = bytes_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(byte_char[b] for b in token)

    vocab = {spell(token): rank for token, rank in ranks.items()}
    merges = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], spell(left), spell(right)))
    merges.sort()
    return vocab, [(left, right) for *_, left, right in merges]


def xgen_fast_tokenizer(encoding: tiktoken.Encoding) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` that gives the same ids as ``encoding`` (special strings allowed).

    EOS is ``<|endoftext|>``, the only token transformers treats as special (so
    ``skip_special_tokens=True`` drops it alone, as Salesforce's file does); the other special
    strings are added tokens that keep their ids and are always matched whole in the text. There
    is no BOS and no pad token, and ``add_special_tokens=True`` adds nothing.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab, merges = _vocab_and_merges(encoding._mergeable_ranks)
    specials = sorted(encoding._special_tokens.items(), key=lambda item: item[1])
    vocab.update(specials)  # in the vocab first, so that adding them below keeps their ids
    # ignore_merges: a piece that is a whole token is taken as is, as tiktoken does.
    backend = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(encoding._pat_str), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)  # adds no tokens
    backend.add_special_tokens([AddedToken(EOS, special=True, normalized=False)])
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t, _ in specials if t != EOS])
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS,
                                   model_max_length=MAX_LENGTH)


def compare_with_tiktoken(tokenizer: PreTrainedTokenizerFast, encoding: tiktoken.Encoding,
                          texts: list[str]) -> list[str]:
    """The texts on which ``tokenizer`` and ``encoding`` disagree; [] if none.

    Compared: the ids (special strings allowed, as Salesforce's ``_tokenize`` encodes), the decoded
    text, and the decoded text with ``skip_special_tokens=True`` (which drops EOS only).
    """
    bad = []
    for text in texts:
        expected = encoding.encode(text, allowed_special="all")
        ids = tokenizer.encode(text, add_special_tokens=False)
        without_eos = encoding.decode([i for i in expected if i != encoding.eot_token])
        if (ids != expected or tokenizer.decode(ids) != encoding.decode(expected)
                or tokenizer.decode(ids, skip_special_tokens=True) != without_eos):
            bad.append(text)
    return bad


def layout_problem(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """How ``tokenizer``'s ids differ from XGen's layout (relative to its EOS id), or None.

    Catches a folder saved from an older build, e.g. the 50,313-id tokenizer of June-July 2023.
    """
    eos = tokenizer.convert_tokens_to_ids(EOS)
    if not isinstance(eos, int):
        return f"it has no {EOS} token"
    first = eos + 1 + len(SPACE_RUNS) + len(TAB_RUNS)
    size = first + len(SPECIAL_TOKENS)
    if len(tokenizer) != size:
        old = " (XGen's tokenizer as first published, June-July 2023)" if len(tokenizer) == first + 18 else ""
        return f"it has {len(tokenizer):,} ids{old}, the Hub's tokenizer has {size:,}"
    if tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS) != list(range(first, size)):
        return f"its special strings do not have the ids {first}-{size - 1} in XGen's order"
    if tokenizer.all_special_tokens != [EOS]:
        return f"it treats {len(tokenizer.all_special_tokens) - 1} tokens besides {EOS} as special"
    return None


def _cache_dir(cache_dir: Path | None) -> Path:
    if cache_dir is None:
        cache_dir = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    return Path(cache_dir).expanduser()


def load_xgen_tokenizer(cache_dir: Path | None = None) -> PreTrainedTokenizerFast:
    """XGen's tokenizer, from the cache folder, or built once and saved there.

    The folder is ``cache_dir``, else ``$COURSE_XGEN_TOKENIZER``, else
    ``~/.cache/course_utils/xgen-tokenizer-51200``. Building needs GPT-2's BPE files: from
    ``$COURSE_GPT2_FILES`` when set, else from tiktoken (the network, once); with neither this
    raises :class:`ModelLoadError`. A folder holding another build (the 50,313-id one of
    June-July 2023, saved by an older course version) is refused with a
    :class:`ModelLoadError` that says to delete it, never used.
    """
    from transformers import PreTrainedTokenizerFast

    folder = _cache_dir(cache_dir)
    if not (folder / "tokenizer.json").is_file():
        try:
            encoding = build_xgen_encoding()
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(
                f"XGen's tokenizer is built from tiktoken's 'gpt2' files, which could not be "
                f"fetched ({type(exc).__name__}), and {folder} holds no saved copy",
                f"run once with network, set {GPT2_FILES_ENV} to a folder with GPT-2's "
                f"encoder.json and vocab.bpe, or set {CACHE_ENV} to a folder saved with "
                "save_pretrained") from exc
        _save_atomically(xgen_fast_tokenizer(encoding), folder)
    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    except Exception as exc:
        raise ModelLoadError(f"could not load XGen's tokenizer from {folder} ({type(exc).__name__})",
                             f"delete {folder} to rebuild it, or point {CACHE_ENV} elsewhere") from exc
    problem = layout_problem(tokenizer)
    if problem:
        raise ModelLoadError(f"{folder} does not hold XGen's tokenizer as the Hub serves it: {problem}",
                             f"delete {folder} so that it is built again, or point {CACHE_ENV} "
                             "elsewhere")
    return tokenizer


def _save_atomically(tokenizer: PreTrainedTokenizerFast, folder: Path) -> None:
    """Save into a temporary folder beside ``folder``, then rename: never a half-written cache."""
    from .files import atomic_dir

    with atomic_dir(folder) as tmp:
        tokenizer.save_pretrained(tmp)
