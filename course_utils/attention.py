"""Attention for packed rows on a GPU, without a dense mask (the ``gpu`` profile, notebook 04).

trl's packing (``packing=True``, strategy "bfd") is padding-free: each batch is one long row of
examples laid end to end, with position ids that restart at 0 at every example. transformers keeps
the examples apart (no example attends to another) by building a mask from those position ids.
With ``attn_implementation="sdpa"`` that mask is a dense ``tokens x tokens`` matrix, so attention
runs over the whole flattened batch (8 rows of 1,024 tokens: a 8,192 x 8,192 score matrix instead
of eight 1,024 x 1,024 ones) on a kernel that cannot skip the masked blocks.

Flash-attention's *variable-length* kernel takes the example boundaries instead (cumulative
lengths, ``cu_seqlens``) and computes only the blocks inside each example. transformers uses it
under ``attn_implementation="flash_attention_2"`` when the ``flash-attn`` package is installed;
PyTorch 2.10+ ships the same kind of kernel as ``torch.nn.attention.varlen.varlen_attn``, so this
module registers it with transformers under the name :data:`NAME` (``AttentionInterface.register``)
and needs no extra package. Anything it cannot handle (a CPU, a KV cache during generation, rows
that are not packed) goes to transformers' ordinary ``sdpa`` path, so generation is unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

NAME = "course_varlen"

_kernel: Any = None  # torch's varlen_attn; tests swap in a reference on the CPU


def _load_kernel() -> Any:
    global _kernel
    if _kernel is None:
        from torch.nn.attention.varlen import varlen_attn

        _kernel = varlen_attn
    return _kernel


def available() -> bool:
    """True when PyTorch has the varlen kernel and a CUDA GPU that can run it (flash attention needs
    compute capability 8.0 or newer: not a T4)."""
    import torch

    if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 0):
        return False
    try:
        _load_kernel()
    except ImportError:
        return False
    return True


def _causal_kwargs(kernel: Any) -> dict[str, Any]:
    """Causal masking is ``is_causal=True`` in some PyTorch releases, ``window_size=(-1, 0)`` in others."""
    try:
        params = inspect.signature(kernel).parameters
    except (TypeError, ValueError):
        params = {}
    if "is_causal" in params:
        return {"is_causal": True}
    return {"window_size": (-1, 0)}


def boundaries(position_ids: Any) -> tuple[Any, int]:
    """Cumulative example lengths (``cu_seqlens``, int32) and the longest example, from position
    ids that restart at 0 where each example starts."""
    import torch

    pos = position_ids.reshape(-1)
    starts = torch.nonzero(pos == 0).flatten()
    if starts.numel() == 0 or starts[0] != 0:
        starts = torch.cat([starts.new_zeros(1), starts])
    cu = torch.cat([starts, starts.new_tensor([pos.numel()])]).to(torch.int32)
    return cu, int((cu[1:] - cu[:-1]).max())


def varlen_attention_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                             dropout: float = 0.0, scaling: float | None = None,
                             position_ids: Any = None, **kwargs: Any) -> tuple[Any, None]:
    """transformers' attention signature: ``query``/``key``/``value`` are (batch, heads, tokens, dim);
    returns (batch, tokens, heads, dim) like the other implementations."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    packed = (query.shape[0] == 1 and position_ids is not None and attention_mask is None
              and key.shape[2] == query.shape[2] and (query.is_cuda or _kernel is not None))
    # (a batch of one row whose queries and keys are the same tokens: the boundaries in the
    # position ids say everything the mask would; see _mask below)
    if not packed:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, position_ids=position_ids, **kwargs)
    kernel = _load_kernel()
    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention: repeat the key/value heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    cu, longest = boundaries(position_ids)
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # (tokens, heads, dim)
    out = kernel(q, k, v, cu, cu, longest, longest, scale=scaling, **_causal_kwargs(kernel))
    return out.unsqueeze(0), None


def _mask(batch_size: int, q_length: int, kv_length: int, *args: Any,
          attention_mask: Any = None, **kwargs: Any) -> Any:
    """No mask for one row without padding (the varlen kernel needs none); else sdpa's mask, for
    the sdpa fallback (padded generation batches, decoding with a cache)."""
    from transformers.masking_utils import sdpa_mask

    if batch_size == 1 and q_length == kv_length and (attention_mask is None or bool(attention_mask.all())):
        return None
    return sdpa_mask(batch_size, q_length, kv_length, *args, attention_mask=attention_mask, **kwargs)


def register() -> str:
    """Make ``attn_implementation=NAME`` known to transformers; returns :data:`NAME`."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    AttentionInterface.register(NAME, varlen_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, _mask)
    return NAME


def implementation(requested: str) -> str:
    """The ``attn_implementation`` to pass to ``from_pretrained`` for a profile's request:
    :data:`NAME` (registered) when asked for and usable here, else ``"sdpa"``."""
    if requested == NAME:
        return register() if available() else "sdpa"
    return requested
