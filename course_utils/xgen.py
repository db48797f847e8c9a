"""XGen-7B's tokenizer as a fast tokenizer, built without remote code (notebook 04).

Why this exists: the tokenizer on the Hub (``Salesforce/xgen-7b-8k-base``) is *remote code*,
``tokenization_xgen.py``, written for transformers 4.29. It subclasses the slow-tokenizer base
class that transformers 5 removed, so ``AutoTokenizer.from_pretrained(..., trust_remote_code=True)``
fails. This module rebuilds the same tokenizer from its published recipe and runs no remote code:

* base: tiktoken's ``gpt2`` encoding (ids 0-50255 mergeable, ``<|endoftext|>`` = 50256);
* then, as ordinary mergeable tokens: runs of 31 down to 2 spaces (50257-50286) and runs of
  9 down to 2 tabs (50287-50294);
* then 18 special tokens for code (``<fim_prefix>`` ... ``<reponame>``, 50295-50312).

That is 50,313 ids; the model's embedding has 51,200 rows (the last ones are never produced, and
must not be resized away). EOS is ``<|endoftext|>``, there is no BOS and no pad token, and
nothing is added to the text unless asked. :func:`build_xgen_encoding` makes this as a tiktoken
``Encoding`` (as the original code does), :func:`xgen_fast_tokenizer` turns that into
a ``PreTrainedTokenizerFast``, and :func:`load_xgen_tokenizer` caches the result on disk.

What could not be checked where this was written (no network): identity with the real Hub
tokenizer on real text (the recipe above comes from its source, which needs transformers 4.x to
run). The tests compare the fast tokenizer with the tiktoken ``Encoding`` id for id on a small
made-up rank table; a one-off check with GPT-2's real table (a local copy of tiktoken's
``r50k_base`` file, the same ranks) found no difference on 8 million characters of code,
notebooks and random whitespace. With network, repeat it on tiktoken's own files::

    enc = build_xgen_encoding()                 # downloads GPT-2's BPE files once
    tok = xgen_fast_tokenizer(enc)
    compare_with_tiktoken(tok, enc, texts)      # [] means identical ids on every text
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelLoadError

if TYPE_CHECKING:
    import tiktoken
    from transformers import PreTrainedTokenizerFast

EOS = "<|endoftext|>"
SPACE_RUNS = [" " * n for n in range(31, 1, -1)]  # 31 spaces first, 2 spaces last
TAB_RUNS = ["\t" * n for n in range(9, 1, -1)]  # 9 tabs first, 2 tabs last
CODE_TOKENS = [
    "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
    "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>",
    "<commit_after>", "<reponame>",
]
MAX_LENGTH = 8192  # the "8k" of xgen-7b-8k-base
CACHE_ENV = "COURSE_XGEN_TOKENIZER"
DEFAULT_CACHE = Path("~/.cache/course_utils/xgen-tokenizer")

# GPT-2's split pattern, as tiktoken writes it (tiktoken_ext.openai_public.r50k_pat_str).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


def build_xgen_encoding(mergeable_ranks: dict[bytes, int] | None = None) -> tiktoken.Encoding:
    """XGen's tiktoken encoding: GPT-2's rank table, whitespace runs, then the special tokens.

    With ``mergeable_ranks=None`` the table is ``tiktoken.get_encoding("gpt2")``'s (downloaded on
    first use). A table passed in (the tests use a small one) plays GPT-2's part: ``<|endoftext|>``
    takes the id after its last rank, as 50256 follows GPT-2's 0-50255.
    """
    import tiktoken

    pattern = GPT2_PATTERN
    if mergeable_ranks is None:
        gpt2 = tiktoken.get_encoding("gpt2")
        mergeable_ranks, pattern = gpt2._mergeable_ranks, gpt2._pat_str
    next_id = max(mergeable_ranks.values()) + 1
    special = {EOS: next_id}
    ranks = dict(mergeable_ranks)  # a copy: tiktoken shares its table between callers
    for run in SPACE_RUNS + TAB_RUNS:
        next_id += 1
        ranks[run.encode()] = next_id
    for token in CODE_TOKENS:
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
    """A ``PreTrainedTokenizerFast`` that gives the same ids as ``encoding`` (special tokens allowed).

    EOS is ``<|endoftext|>``; there is no BOS and no pad token, ``add_special_tokens=True`` adds
    nothing, and the special tokens keep the ids the encoding gives them.
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
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, _ in specials])
    extras = [t for t, _ in specials if t != EOS]
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS,
                                   extra_special_tokens=extras, model_max_length=MAX_LENGTH)


def compare_with_tiktoken(tokenizer: PreTrainedTokenizerFast, encoding: tiktoken.Encoding,
                          texts: list[str]) -> list[str]:
    """The texts on which ``tokenizer`` and ``encoding`` disagree (ids or decoded text); [] if none."""
    bad = []
    for text in texts:
        expected = encoding.encode(text, allowed_special="all")
        ids = tokenizer.encode(text, add_special_tokens=False)
        if ids != expected or tokenizer.decode(ids) != encoding.decode(expected):
            bad.append(text)
    return bad


def _cache_dir(cache_dir: Path | None) -> Path:
    if cache_dir is None:
        cache_dir = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    return Path(cache_dir).expanduser()


def load_xgen_tokenizer(cache_dir: Path | None = None) -> PreTrainedTokenizerFast:
    """XGen's tokenizer, from the cache folder, or built once and saved there.

    The folder is ``cache_dir``, else ``$COURSE_XGEN_TOKENIZER``, else
    ``~/.cache/course_utils/xgen-tokenizer``. Building needs GPT-2's BPE files from tiktoken (the
    network, once); offline without a saved folder this raises :class:`ModelLoadError`.
    """
    from transformers import PreTrainedTokenizerFast

    folder = _cache_dir(cache_dir)
    if not (folder / "tokenizer.json").is_file():
        try:
            encoding = build_xgen_encoding()
        except Exception as exc:
            raise ModelLoadError(
                f"XGen's tokenizer is built from tiktoken's 'gpt2' files, which could not be "
                f"fetched ({type(exc).__name__}), and {folder} holds no saved copy",
                f"run once with network, or set {CACHE_ENV} to a folder saved with "
                "save_pretrained") from exc
        _save_atomically(xgen_fast_tokenizer(encoding), folder)
    try:
        return PreTrainedTokenizerFast.from_pretrained(folder)
    except Exception as exc:
        raise ModelLoadError(f"could not load XGen's tokenizer from {folder} ({type(exc).__name__})",
                             f"delete {folder} to rebuild it, or point {CACHE_ENV} elsewhere") from exc


def _save_atomically(tokenizer: PreTrainedTokenizerFast, folder: Path) -> None:
    """Save into a temporary folder beside ``folder``, then rename: never a half-written cache."""
    from .files import atomic_dir

    with atomic_dir(folder) as tmp:
        tokenizer.save_pretrained(tmp)
