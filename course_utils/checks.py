"""Can this model, adapter and prompt do the course? Checks with a cause and a fix (notebooks 04-07).

Not the exercise checkers (those are in :mod:`course_utils.exercises`): these guard the real
calls. Each check raises a :class:`~course_utils.errors.CourseError` when the call would fail or
train something wrong (an encoder used as a causal model, positions too few for ``max_length``,
an adapter whose shapes belong to another model), and issues a
:class:`~course_utils.errors.CourseWarning` with advice when the result is only doubtful (an
adapter saved from a model of another name with the same shapes).

=====================================  =====================================================
call                                   before / after
=====================================  =====================================================
``check_model_folder(name)``           before ``AutoModelForCausalLM.from_pretrained(name)``
``check_tokenizer_folder(name)``       before ``AutoTokenizer.from_pretrained(name)``
``check_model(model, tok, max_len)``   after both are loaded (notebook 04, training)
``check_adapter(folder, base)``        before ``PeftModel.from_pretrained(base, folder)``
``check_prompts(tok, prompts, ...)``   before ``model.generate`` (notebook 07)
``check_instructions(instr, inputs)``  before formatting prompts from two lists
=====================================  =====================================================
"""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, MissingArtifactError, ModelLoadError, warn

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json",
                   "spiece.model", "vocab.txt")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_POSITION_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length")


def _local(name: str | Path) -> Path | None:
    path = Path(str(name)).expanduser()
    return path if path.exists() else None


def check_model_folder(name: str | Path) -> None:
    """A local model folder must hold a model's ``config.json`` of a causal decoder.

    Hub ids are only checked once their config can be read (offline: when cached).
    """
    path = _local(name)
    if path is not None:
        if not path.is_dir():
            raise _file_not_folder(path)
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            base = _read_json(path / "adapter_config.json").get("base_model_name_or_path") or "its base model"
            raise ModelLoadError(
                f"{path} holds a LoRA adapter, not a base model",
                f"set COURSE_MODEL to the base model ({base}) and attach the adapter with "
                f"PeftModel.from_pretrained(base_model, '{path}')", where=str(path))
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json, so it is not a saved model",
                                 "point COURSE_MODEL at the folder written by model.save_pretrained",
                                 where=str(path))
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(path or name))
    except Exception:
        return  # not reachable here: from_pretrained will say why, with its own course error
    check_causal_config(config, str(name))


def _file_not_folder(path: Path) -> ModelLoadError:
    return ModelLoadError(f"COURSE_MODEL names a file ({path.name}), not a model folder",
                          f"set COURSE_MODEL to the folder that holds it: {path.parent}"
                          if (path.parent / "config.json").is_file() else
                          "point COURSE_MODEL at the folder written by save_pretrained (config.json, "
                          "weights and tokenizer files)", where=str(path))


def check_causal_config(config: Any, name: str = "the model") -> None:
    """An encoder-decoder, or a type with no causal-LM head, cannot be fine-tuned this way."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    kind = getattr(config, "model_type", "?")
    if getattr(config, "is_encoder_decoder", False) or kind not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelLoadError(
            f"'{name}' is a {kind} model, not a causal decoder: it cannot be trained to continue a "
            "prompt token by token", "use a decoder-only model (LLaMA, Mistral, Qwen, GPT-2, XGen...) "
            "with AutoModelForCausalLM")


def check_tokenizer_folder(name: str | Path) -> None:
    """A local folder must hold tokenizer files (``save_pretrained`` of the tokenizer)."""
    path = _local(name)
    if path is not None and not path.is_dir():
        raise _file_not_folder(path)
    if path is None:
        return
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelLoadError(
            f"{path} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...)",
            "save the tokenizer the model was trained with into it: "
            "AutoTokenizer.from_pretrained(original).save_pretrained(folder)", where=str(path))


def model_positions(config: Any) -> int | None:
    """How many positions the model was built for (None when the config does not say)."""
    for key in _POSITION_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _rotary(config: Any) -> bool:
    """Rotary position embeddings compute any position (quality drops past the trained length);
    learned position tables have exactly ``model_positions`` rows (an IndexError beyond)."""
    return any(getattr(config, key, None) is not None
               for key in ("rope_parameters", "rope_theta", "rope_scaling", "rotary_dim", "rotary_pct"))


def check_positions(config: Any, tokens: int, what: str, fix: str) -> None:
    positions = model_positions(config)
    if positions is None or tokens <= positions:
        return
    cause = f"{what} needs {tokens} positions, but the model has {positions}"
    if _rotary(config):
        warn(cause + " (rotary positions go further, but the model never saw them)", fix)
    else:
        raise ConfigError(cause + " (a learned position table: it would fail with an IndexError)", fix)


def check_model(model: Any, tokenizer: Any = None, max_length: int | None = None) -> None:
    """After loading: a causal decoder, enough positions for ``max_length``, an embedding row for
    every id the tokenizer can produce (when given). Course errors; nothing is changed.
    :func:`course_utils.models.load_model` runs it on every model it loads."""
    config = model.config
    name = (getattr(model, "name_or_path", "") or getattr(config, "_name_or_path", "")
            or f"the {type(model).__name__}")
    check_causal_config(config, name)
    if not is_causal(model):
        raise ModelLoadError(
            f"'{name}' ({type(model).__name__}) lets each token see the tokens after it: it is an "
            "encoder, and training it here would teach it to copy the answer it can already see",
            "use a decoder-only model (LLaMA, Mistral, Qwen, GPT-2, XGen...)")
    if max_length is not None:
        check_positions(config, max_length, f"max_length={max_length}",
                        f"lower max_length to at most {model_positions(config)} "
                        "(profile = profile.replace(max_length=...)), or use a model with more positions")
    if tokenizer is None:
        return
    rows = model.get_input_embeddings().num_embeddings
    ids = max(len(tokenizer), max(tokenizer.get_vocab().values(), default=-1) + 1)
    if ids > rows:
        raise ModelLoadError(
            f"the tokenizer produces ids up to {ids - 1}, but the model's embedding has {rows} rows",
            "use the tokenizer saved with this model, or grow the embedding with "
            "model.resize_token_embeddings(len(tokenizer)) (the new rows start untrained)",
            where=f"tokenizer of '{getattr(tokenizer, 'name_or_path', '?')}' vs model '{name}'")


def is_causal(model: Any, length: int = 6) -> bool:
    """Does changing the last token leave the outputs at earlier positions unchanged?"""
    import torch

    vocab = model.get_input_embeddings().num_embeddings
    first = torch.arange(1, length + 1).remainder(vocab).unsqueeze(0)
    second = first.clone()
    second[0, -1] = (second[0, -1] + 1) % vocab
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            a = model(input_ids=first.to(device)).logits[0, :-1].float()
            b = model(input_ids=second.to(device)).logits[0, :-1].float()
    finally:
        model.train(was_training)
    # Earlier rows of a causal model do not depend on the last token at all: in practice the
    # outputs are identical; an encoder changes them by far more than rounding.
    dtype = next(model.parameters()).dtype
    tolerance = 1e-5 if dtype == torch.float32 else 1e-2
    return bool((a - b).abs().max().item() <= tolerance * max(a.abs().max().item(), 1e-6))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path.name} in {path.parent} cannot be read ({type(exc).__name__})",
                             "the save stopped half-way: save the adapter again (rerun notebook 06; "
                             "training resumes from its last checkpoint)", where=str(path)) from None
    return data if isinstance(data, dict) else {}


def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor names and shapes from a ``.safetensors`` header; a course error if truncated."""
    size = path.stat().st_size
    fix = ("the file was cut short (a full disk, or a copy that stopped): save it again "
           "(rerun notebook 06; training resumes from its last checkpoint)")
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelLoadError(f"{path.name} is truncated ({size} bytes)", fix, where=str(path))
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise ModelLoadError(f"{path.name} is truncated ({size} bytes)", fix, where=str(path))
        try:
            header = json.loads(f.read(n))
        except ValueError:
            raise ModelLoadError(f"{path.name} has an unreadable header", fix, where=str(path)) from None
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise ModelLoadError(f"{path.name} is truncated ({size:,} of {8 + n + end:,} bytes)", fix,
                             where=str(path))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def check_weights_file(path: Path) -> dict[str, list[int]] | None:
    """A weights file that is complete: safetensors by its header, ``.bin``/``.pt`` as a zip."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return safetensors_shapes(path)
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path.name} is truncated or not a PyTorch file ({path.stat().st_size:,} bytes)",
                             "save it again (rerun the notebook that wrote it)", where=str(path))
    return None


def _same_model(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = _local(a), _local(b)
    if pa is not None and pb is not None:
        return pa.resolve() == pb.resolve()
    return a.rstrip("/") == b.rstrip("/")


def check_adapter(adapter_dir: str | Path, base: Any = None) -> dict[str, Any]:
    """An adapter folder that is complete and belongs to ``base``; returns its ``adapter_config``.

    - no folder or no ``adapter_config.json``: :class:`MissingArtifactError` (run notebook 06, or 08
      for ``adapter-chat``);
    - a config but no weights, or weights cut short: :class:`ModelLoadError`;
    - LoRA layers the base does not have, or of other shapes: :class:`ModelLoadError` naming both
      models; saved from a model of another name with the same shapes: a warning naming both.
    """
    from .files import recover

    adapter_dir = recover(Path(adapter_dir))
    notebook = "08_chat_format" if adapter_dir.name == "adapter-chat" else "06_training"  # who saves it
    if not (adapter_dir / "adapter_config.json").is_file():
        raise MissingArtifactError(
            f"no trained adapter in {adapter_dir}",
            f"run notebooks/{notebook}.ipynb first (same COURSE_PROFILE and COURSE_OUTPUT_DIR; on Colab, "
            "where each notebook has a runtime of its own, keep COURSE_OUTPUT_DIR on Google Drive: README)")
    config = _read_json(adapter_dir / "adapter_config.json")
    weights = next((adapter_dir / w for w in ADAPTER_WEIGHTS if (adapter_dir / w).is_file()), None)
    if weights is None:
        raise ModelLoadError(f"{adapter_dir} has adapter_config.json but no weights "
                             f"({' or '.join(ADAPTER_WEIGHTS)})",
                             f"the save stopped half-way: rerun notebook {notebook[:2]} (training resumes from its "
                             "last checkpoint and saves the adapter)", where=str(adapter_dir))
    shapes = check_weights_file(weights)
    if base is None:
        return config
    trained_on = str(config.get("base_model_name_or_path") or "?")
    base_name = str(getattr(base, "name_or_path", "") or getattr(base.config, "_name_or_path", "?"))
    for key, shape in (shapes or {}).items():
        if ".lora_A." not in key and ".lora_B." not in key:
            continue
        module_name = key.split(".lora_")[0].removeprefix("base_model.model.")
        try:
            module = base.get_submodule(module_name)
        except AttributeError:
            raise ModelLoadError(
                f"the adapter has a LoRA layer on '{module_name}', which the base model "
                f"({type(base).__name__}) does not have: it was trained on another architecture",
                f"load the base model it was trained on ({trained_on}), or train an adapter for "
                f"'{base_name}' (notebook 06)", where=f"adapter {adapter_dir} vs base '{base_name}'") from None
        expected = _in_out(module)
        if expected is None:
            continue
        got = shape[1] if ".lora_A." in key else shape[0]
        want = expected[0] if ".lora_A." in key else expected[1]
        if got != want:
            side = "inputs" if ".lora_A." in key else "outputs"
            raise ModelLoadError(
                f"the adapter's '{module_name}' has {got} {side}, the base model's has {want}: the "
                f"adapter was trained on another model ('{trained_on}', not '{base_name}')",
                f"load the base model it was trained on ({trained_on}), or train an adapter for "
                f"'{base_name}' (notebook 06)", where=f"adapter {adapter_dir} vs base '{base_name}'")
    if trained_on != "?" and base_name != "?" and not _same_model(trained_on, base_name):
        warn(f"the adapter in {adapter_dir} was trained on '{trained_on}', but the base model is "
             f"'{base_name}'", "the shapes agree, so it loads; if these are different models its "
                               "answers will be wrong: load the base it was trained on")
    return config


def _in_out(module: Any) -> tuple[int, int] | None:
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return int(module.in_features), int(module.out_features)
    if type(module).__name__ == "Conv1D":  # GPT-2 stores the weight transposed
        return int(module.weight.shape[0]), int(module.nf)
    if type(module).__name__ == "Embedding":
        return int(module.num_embeddings), int(module.embedding_dim)
    return None


def check_instructions(instructions: Sequence[str], inputs: Sequence[str] | None = None) -> None:
    """Two lists that pair up: one input per instruction, all text."""
    if isinstance(instructions, str):
        raise ConfigError("instructions is one string, not a list: each character would become a prompt",
                          f"wrap it in a list: [{instructions[:30]!r}]")
    if inputs is not None and not isinstance(inputs, str) and len(inputs) != len(instructions):
        raise ConfigError(f"{len(instructions)} instructions but {len(inputs)} inputs: they pair up "
                          "one to one", "give one input per instruction ('' where there is none)")
    if isinstance(inputs, str):
        raise ConfigError("inputs is one string, not a list", "give a list with one input per instruction")
    for label, values in (("instruction", instructions), ("input", inputs or [])):
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise ConfigError(f"{label} {i} is a {type(value).__name__}, not text",
                                  f"give every {label} as a string", where=f"{label}s[{i}]")
    for i, value in enumerate(instructions):
        if not value.strip():
            raise ConfigError(f"instruction {i} is empty: the model would answer a question nobody asked",
                              "write the instruction, e.g. ask(model, tokenizer, ['Name three colours.'])",
                              where=f"instructions[{i}]")


def check_prompts(tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 1, model: Any = None) -> None:
    """Prompts that are a list of non-empty texts, each fitting the model's positions together
    with ``max_new_tokens``."""
    if isinstance(prompts, str):
        raise ConfigError("prompts is one string, not a list", "wrap it in a list: [prompt]")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens={max_new_tokens!r}: the model could not write a single token",
                          "give max_new_tokens a positive number, such as profile.max_new_tokens "
                          "(64 on the smoke profile)")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"prompt {i} is empty: the model would continue from nothing",
                              "give an instruction (format_prompt(instruction) builds the prompt)",
                              where=f"prompts[{i}]")
    if model is None:
        return
    config = getattr(model, "config", None)
    if config is None or model_positions(config) is None:
        return
    lengths = [len(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    longest = max(range(len(lengths)), key=lengths.__getitem__, default=None)
    if longest is not None:
        check_positions(config, lengths[longest] + max_new_tokens,
                        f"prompt {longest} ({lengths[longest]} tokens) plus max_new_tokens={max_new_tokens}",
                        f"shorten the prompt or lower max_new_tokens so both fit in "
                        f"{model_positions(config)} positions")


def check_pad_token(tokenizer: Any) -> None:
    """A pad token must exist (padding a batch needs one) and must not be a token that carries
    meaning in the text. Reusing EOS is the usual choice for tokenizers without one (XGen, GPT-2,
    LLaMA); a tokenizer with its *own* pad token is fine too. Without an EOS token a fine-tuned model
    could never end its answer. Warns, does not stop."""
    if tokenizer.eos_token_id is None:
        warn(f"the tokenizer of '{tokenizer.name_or_path}' has no EOS token, so a fine-tuned model could never "
             "signal the end of its answer", "set tokenizer.eos_token to the model's end-of-text token before training")
    elif tokenizer.pad_token_id is None:
        warn(f"the tokenizer of '{tokenizer.name_or_path}' has no pad token",
             "set tokenizer.pad_token = tokenizer.eos_token before batching (the course's "
             "load_tokenizer does this)")
    elif tokenizer.pad_token_id != tokenizer.eos_token_id and tokenizer.pad_token_id in tokenizer(
            "a b c", add_special_tokens=False)["input_ids"]:
        warn(f"the pad token {tokenizer.pad_token!r} also appears in ordinary text",
             "use a dedicated pad token, or the EOS token, so padding never hides real words")


def check_training_rows(tokenizer: Any, rows: Any, max_length: int, source: str = "the training rows") -> float:
    """Before training on prompt/completion ``rows`` (notebook 06, the script).

    - a completion that holds the EOS text itself (``</s>``) is read as EOS by the tokenizer: the
      model would learn to stop in the middle of that answer. A warning naming the rows.
    - a prompt of ``max_length`` tokens or more leaves no completion token to learn from (training
      cuts each example at ``max_length``). When that is every row, training would run at loss 0:
      a :class:`ConfigError` with the share cut and the fix. Returns that share.
    """
    eos = getattr(tokenizer, "eos_token", None)
    completions, prompts = list(rows["completion"]), list(rows["prompt"])
    if eos:
        inside = [i for i, text in enumerate(completions) if eos in text]
        if inside:
            warn(f"{len(inside)} output(s) of {source} contain the text {eos!r}, the tokenizer's end-of-"
                 "sequence token: the model would learn to stop at that point of the answer",
                 f"remove {eos!r} from those outputs, e.g. dataset = dataset.map(lambda r: "
                 f"{{'output': r['output'].replace({eos!r}, '')}})",
                 where="rows " + ", ".join(map(str, inside[:5])) + (" ..." if len(inside) > 5 else ""))
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    cut = [i for i, n in enumerate(lengths) if n >= max_length]
    share = len(cut) / max(len(prompts), 1)
    if prompts and len(cut) == len(prompts):
        raise ConfigError(
            f"every prompt of {source} ({share:.0%} of {len(prompts)} rows) is {min(lengths)} tokens or longer, "
            f"and max_length={max_length} cuts each example there: no answer token would be left to "
            "learn from (the loss would be 0)",
            f"raise max_length above the prompts' length (profile = profile.replace(max_length="
            f"{max(lengths) + 64})), or keep the rows whose prompt fits: rows = rows.filter(lambda r: "
            f"len(tokenizer(r['prompt'])['input_ids']) < {max_length})")
    if share > 0.10:
        warn(f"{share:.0%} of the prompts of {source} are {max_length} tokens or longer: those rows keep "
             "no answer token to learn from", f"raise max_length (the longest prompt has {max(lengths)} "
             "tokens), or drop those rows with rows.filter(...)")
    return share
