"""The exercise checkers of notebook 01 (install and hardware): ``check_compute_dtype``, ``check_formats_that_fit``,
``check_decode_fp16``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from typing import Any

from ._common import _call, _not_answered, _right, _unanswered, _wrong, asks_for

__all__ = ["check_compute_dtype", "check_decode_fp16", "check_formats_that_fit"]

# compute capabilities the checker tries, with a card that has each (None: no CUDA GPU)
CARDS = [((7, 5), "T4 (Colab)"), ((8, 0), "A100"), ((9, 0), "H100/H200"), ((8, 6), "RTX 3090"),
         ((7, 0), "V100"), ((8, 9), "L4"), ((10, 0), "B200"), ((6, 1), "GTX 1080"), (None, "no CUDA GPU")]

# bytes per weight of each storage format, widest first (NF4 without its ~1/64 byte of block scales)
BYTES_PER_WEIGHT = {"fp32": 4.0, "bf16": 2.0, "int8": 1.0, "nf4": 0.5}


def _course_dtype(capability: tuple[int, int] | None) -> Any:
    """The course's rule (``Hardware.bf16``): bf16 from capability 8.0, else fp16 on a CUDA GPU, else fp32."""
    import torch

    from ..profile import Hardware

    if capability is None:
        return torch.float32
    return torch.bfloat16 if Hardware(cuda=True, capability=capability).bf16 else torch.float16


def _own_capability(hardware: Any) -> tuple[int, int] | None:
    return tuple(hardware.capability) if getattr(hardware, "cuda", False) else None


@asks_for("code")
def check_compute_dtype(answer: Any, hardware: Any) -> bool:
    """Notebook 01, exercise 1: a function ``compute_dtype(capability)`` that picks the dtype the GPU
    computes in: ``torch.bfloat16`` from compute capability (8, 0) on, ``torch.float16`` on an older
    CUDA GPU, ``torch.float32`` when ``capability`` is None (no CUDA GPU).

    Tried on the capabilities of ``CARDS`` and on ``hardware`` (``detect_hardware()``), compared with
    the course's own rule (``Hardware.bf16``).
    """
    if _unanswered(answer):
        return _not_answered("write compute_dtype(capability), then answer = compute_dtype.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define compute_dtype(capability) with def and pass the function itself.")
    own = _own_capability(hardware)
    cases = CARDS + [(own, f"this machine ({getattr(hardware, 'name', '?')})")]
    for capability, card in cases:
        got, error = _call(answer, capability)
        if error:
            hint = ("capability is None without a CUDA GPU: test for None first."
                    if capability is None else "capability is a pair of ints such as (7, 5).")
            return _wrong(f"compute_dtype({capability!r}) raised {error}.", hint)
        if got is None and capability == CARDS[0][0]:
            return _not_answered("your compute_dtype returns None: write its body.")
        truth = _course_dtype(capability)
        if got == truth:
            continue
        if isinstance(got, str):
            hint = "return the torch dtype itself (torch.bfloat16), not its name."
        elif capability is None:
            hint = "without a CUDA GPU the course computes in float32 (a CPU's bf16 is often slower, and mps needs macOS 14)."
        elif truth == _course_dtype((8, 0)) and capability[0] >= 9:
            hint = "newer GPUs have bf16 too: compare the whole pair, capability >= (8, 0), not the major number alone."
        elif truth == _course_dtype((8, 0)):
            hint = "every capability from 8.0 on has bf16 (8.6, 8.9 too): compare the pair with (8, 0)."
        elif got == _course_dtype((8, 0)):
            hint = "bf16 needs capability 8.0 (Ampere) or newer; a T4 is 7.5, so it computes in float16."
        else:
            hint = "bfloat16 from (8, 0) on, float16 on an older CUDA GPU, float32 without one."
        return _wrong(f"compute_dtype({capability!r}) for a {card} gave {got!r}; the course uses {truth}.", hint)
    mine = answer(own)
    where = f"your GPU ({hardware.name}, capability {own[0]}.{own[1]})" if own else "this machine (no CUDA GPU)"
    return _right(f"your function agrees with the course on {len(cases)} cards; on {where} it picks {mine}.")


def _fits(n_params: float, memory_gib: float, share: float) -> list[str]:
    return [name for name, size in BYTES_PER_WEIGHT.items() if n_params * size <= share * memory_gib * 2**30]


@asks_for("code")
def check_formats_that_fit(answer: Any, memory_gib: float = 0.0, share: float = 0.8) -> bool:
    """Notebook 01, exercise 2: a function ``formats_that_fit(n_params, memory_gib)`` that lists the
    storage formats of ``BYTES_PER_WEIGHT`` (widest first) whose weights take at most ``share`` (80 %)
    of ``memory_gib``; the rest is left for activations, optimizer state and the CUDA context.

    Tried on XGen-7B (6.9 billion parameters) and SmolLM2-135M against a T4, an 80 GB card and a
    laptop-sized memory, and on ``memory_gib`` (this machine's GPU memory) when it is above 0.
    """
    if _unanswered(answer):
        return _not_answered("write formats_that_fit(n_params, memory_gib), then answer = formats_that_fit.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define formats_that_fit(n_params, memory_gib) with def and pass the function itself.")
    xgen, smol = 6_895_702_016, 134_515_008
    cases = [(xgen, 15.0), (xgen, 80.0), (xgen, 16.5), (xgen, 8.0), (smol, 8.0), (smol, 0.5), (xgen, 2.0)]
    if memory_gib and memory_gib > 0:
        cases.append((xgen, float(memory_gib)))
    for n_params, memory in cases:
        got, error = _call(answer, n_params, memory)
        if error:
            return _wrong(f"formats_that_fit({n_params:,}, {memory:g}) raised {error}.",
                          "n_params is a number of parameters, memory_gib a number of GiB; return a list of names.")
        if got is None and (n_params, memory) == cases[0]:
            return _not_answered("your formats_that_fit returns None: write its body.")
        truth = _fits(n_params, memory, share)
        mine = list(got) if isinstance(got, (list, tuple)) else got
        if mine == truth:
            continue
        if isinstance(mine, list) and sorted(map(str, mine)) == sorted(truth):
            hint = "the right formats, in another order: keep the order of BYTES_PER_WEIGHT, widest first."
        elif isinstance(mine, list) and mine == _fits(n_params, memory, 1.0):
            hint = "leave a fifth for the rest: the weights may take at most 0.8 * memory_gib."
        elif isinstance(mine, list) and mine == [n for n, s in BYTES_PER_WEIGHT.items() if n_params * s <= 0.8 * memory * 1e9]:
            hint = "a GiB is 2**30 bytes, not 10**9."
        elif isinstance(mine, list) and mine == [n for n, s in BYTES_PER_WEIGHT.items() if n_params * s * 8 <= 0.8 * memory * 2**30]:
            hint = "BYTES_PER_WEIGHT is in bytes already: do not multiply by 8."
        else:
            hint = ("keep each format whose n_params * BYTES_PER_WEIGHT[format] is at most 0.8 * memory_gib * 2**30 "
                    "bytes, in the dictionary's order.")
        return _wrong(f"formats_that_fit({n_params:,}, {memory:g}) gave {got!r}; expected {truth}.", hint)
    t4 = _fits(xgen, 15.0, share)
    return _right(f"your function agrees on {len(cases)} cases. XGen-7B's weights fit a 15 GiB T4 only as {t4}: "
                  "that is why the colab profile loads it in 4-bit.")


# float16 numbers the decode checker tries: ordinary ones, the largest, the smallest normal, and negatives
FP16_CASES = [1.0, -6.5, 0.1, 123.4375, 65504.0, 2.0**-14, -0.0009765625, 3.140625, -2.0**-10 * 1.5]


def _decode(bits: int, exponent_bits: int, mantissa_bits: int, bias: int, lead: float = 1.0) -> float:
    """A 1 + exponent + mantissa bit number rebuilt from its bits (normal numbers only)."""
    sign = bits >> (exponent_bits + mantissa_bits)
    exponent = (bits >> mantissa_bits) & (2**exponent_bits - 1)
    mantissa = bits & (2**mantissa_bits - 1)
    return (-1) ** sign * 2.0 ** (exponent - bias) * (lead + mantissa / 2**mantissa_bits)


@asks_for("code")
def check_decode_fp16(answer: Any) -> bool:
    """Notebook 01, exercise 3: a function ``decode_fp16(bits)`` that takes the 16 bits of a float16 number
    as a whole number (0 to 65,535) and returns its value: 1 sign bit, 5 exponent bits with a bias of 15,
    10 mantissa bits after a leading 1.

    Tried on the normal float16 numbers of ``FP16_CASES``; the expected value is torch's own reading of
    the same bits (``view(torch.float16)``).
    """
    import torch

    if _unanswered(answer):
        return _not_answered("write decode_fp16(bits), then answer = decode_fp16.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define decode_fp16(bits) with def and pass the function itself.")
    for number in FP16_CASES:
        half = torch.tensor(number, dtype=torch.float16)
        bits = half.view(torch.int16).item() & 0xFFFF
        truth = half.item()
        got, error = _call(answer, bits)
        if error:
            return _wrong(f"decode_fp16({bits}) raised {error}.", "bits is a plain int from 0 to 65,535.")
        if got is None and number == FP16_CASES[0]:
            return _not_answered("your decode_fp16 returns None: write its body.")
        try:
            mine = float(got)
        except (TypeError, ValueError):
            return _wrong(f"decode_fp16({bits}) gave {got!r}, not a number.", "return a float.")
        if mine == truth:
            continue
        if mine == _decode(bits, 8, 7, 127):
            hint = "that is bf16's layout; float16 has 5 exponent bits (bias 15) and 10 mantissa bits."
        elif mine == _decode(bits, 5, 10, 15, lead=0.0):
            hint = "the stored mantissa leaves out a leading 1: multiply by (1 + mantissa / 2**10)."
        elif mine == -truth:
            hint = "the sign is the top bit, bit 15: bits >> 15."
        elif mine == _decode(bits, 5, 10, 16) or mine == _decode(bits, 5, 10, 127):
            hint = "float16's bias is 2**(5 - 1) - 1 = 15."
        else:
            hint = ("sign = bits >> 15, exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF; "
                    "value = (-1)**sign * 2**(exponent - 15) * (1 + mantissa / 2**10).")
        return _wrong(f"decode_fp16({bits:016b}) gave {mine!r}; those bits are the float16 {truth!r}.", hint)
    return _right(f"your function reads {len(FP16_CASES)} float16 numbers as torch does, "
                  "from 65,504 (the largest) down to 2**-14 (the smallest with a leading 1).")
