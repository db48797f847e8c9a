"""The varlen attention of the gpu profile (course_utils/attention.py), checked on the CPU.

The real kernel (torch.nn.attention.varlen.varlen_attn) needs a CUDA GPU; here a reference kernel
that runs sdpa example by example stands in for it, so these tests check the plumbing: boundaries
from position ids, the layout transformers hands over, the registration, and that generation
(padding, a KV cache) falls back to sdpa unchanged. bench/gpu_check.py runs the same comparison
with the real kernel on a GPU.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_utils import attention


def reference_kernel(q, k, v, cu_q, cu_k, max_q, max_k, *, scale=None, window_size=(-1, -1), **_):
    assert window_size == (-1, 0), "the course asks for causal attention"
    assert torch.equal(cu_q, cu_k) and cu_q.dtype == torch.int32
    pieces = []
    for start, end in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
        assert end - start <= max_q
        out = F.scaled_dot_product_attention(*(t[start:end].transpose(0, 1) for t in (q, k, v)),
                                             is_causal=True, scale=scale)
        pieces.append(out.transpose(0, 1))
    return torch.cat(pieces)


@pytest.fixture
def models(monkeypatch):
    from transformers import LlamaConfig, LlamaForCausalLM

    monkeypatch.setattr(attention, "_kernel", reference_kernel)
    attention.register()
    config = LlamaConfig(vocab_size=256, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)  # grouped-query heads too
    torch.manual_seed(0)
    sdpa = LlamaForCausalLM(config).eval()
    varlen = LlamaForCausalLM(config).eval()
    varlen.load_state_dict(sdpa.state_dict())
    sdpa.set_attn_implementation("sdpa")
    varlen.set_attn_implementation(attention.NAME)
    return sdpa, varlen


def test_boundaries_from_restarting_position_ids():
    cu, longest = attention.boundaries(torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]]))
    assert cu.tolist() == [0, 3, 5, 9] and cu.dtype == torch.int32 and longest == 4


def test_packed_row_equals_examples_alone(models):
    sdpa, varlen = models
    ids = torch.randint(0, 256, (1, 30), generator=torch.Generator().manual_seed(1))
    positions = torch.tensor([list(range(10)) + list(range(12)) + list(range(8))])
    with torch.no_grad():
        packed = varlen(input_ids=ids, position_ids=positions, use_cache=False).logits
        alone = torch.cat([sdpa(input_ids=ids[:, s:e]).logits for s, e in ((0, 10), (10, 22), (22, 30))], 1)
        masked = sdpa(input_ids=ids, position_ids=positions, use_cache=False).logits
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed, masked, atol=1e-5, rtol=1e-4)


def test_gradients_flow(models):
    _, varlen = models
    varlen.train()
    ids = torch.randint(0, 256, (1, 20), generator=torch.Generator().manual_seed(2))
    positions = torch.tensor([list(range(12)) + list(range(8))])
    varlen(input_ids=ids, position_ids=positions, labels=ids, use_cache=False).loss.backward()
    assert varlen.model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0


def test_generation_falls_back_to_sdpa(models):
    sdpa, varlen = models
    ids = torch.randint(1, 256, (2, 7), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    mask[0, :2] = 0  # a left-padded batch
    for kwargs in ({"input_ids": ids, "attention_mask": mask}, {"input_ids": ids[:1]}):
        a = sdpa.generate(**kwargs, max_new_tokens=5, do_sample=False, pad_token_id=0)
        b = varlen.generate(**kwargs, max_new_tokens=5, do_sample=False, pad_token_id=0)
        assert torch.equal(a, b)


def test_without_a_gpu_the_profile_gets_sdpa():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert attention.implementation(attention.NAME) == "sdpa"
    assert attention.implementation("eager") == "eager"
