import pytest
import torch

from course_utils.errors import ConfigError, ModelLoadError
from course_utils.models import (embedding_report, ensure_pad_token, load_model, load_tokenizer,
                                 quantization_config, torch_dtype)
from course_utils.profile import TINY_MODEL_DIR, get_profile
from conftest import CPU, T4, H100


def test_tiny_tokenizer_gets_eos_as_pad():
    tok = load_tokenizer(str(TINY_MODEL_DIR))
    assert tok.eos_token == "</s>" and tok.pad_token_id == tok.eos_token_id


def test_tokenizer_without_eos_is_refused():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    tok.eos_token = None
    with pytest.raises(ModelLoadError, match="no EOS token"):
        ensure_pad_token(tok)


def test_embedding_rows_are_not_shrunk():
    p = get_profile(hardware=CPU, env={})
    model, tok = load_model(p, CPU), load_tokenizer(p.model)
    report = embedding_report(model, tok)
    assert report.embedding_rows == 1024 and report.tokenizer_ids == 1000 and report.ok
    assert model.get_input_embeddings().num_embeddings == 1024


def test_dtypes_follow_hardware():
    smoke = get_profile(hardware=CPU, env={})
    assert torch_dtype(smoke, CPU) == torch.float32
    assert torch_dtype(get_profile("gpu", hardware=H100, env={}), H100) == torch.bfloat16
    assert torch_dtype(get_profile("colab", hardware=T4, env={}), T4) == torch.float16
    assert torch_dtype(get_profile("colab", hardware=H100, env={}), H100) == torch.bfloat16


def test_bf16_on_a_t4_is_refused():
    gpu = get_profile("gpu", hardware=H100, env={})
    with pytest.raises(ConfigError, match="does not support it"):
        torch_dtype(gpu, T4)


def test_quantization_configs():
    assert quantization_config(get_profile(hardware=CPU, env={}), CPU) is None
    nf4 = quantization_config(get_profile("colab", hardware=T4, env={}), T4)
    assert nf4.load_in_4bit and nf4.bnb_4bit_quant_type == "nf4" and nf4.bnb_4bit_compute_dtype == torch.float16
    assert quantization_config(get_profile("seed", hardware=T4, env={}), T4).load_in_8bit


def test_missing_model_folder(tmp_path):
    p = get_profile(hardware=CPU, env={"COURSE_MODEL": str(tmp_path / "missing")})
    with pytest.raises(ModelLoadError, match="could not load"):
        load_model(p, CPU)
    with pytest.raises(ModelLoadError, match="check the folder"):
        load_tokenizer(str(tmp_path / "missing"))


def test_unknown_hub_id_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline"):
        load_tokenizer("no-such-org/no-such-model")


def test_model_load_errors_runs_the_folder_check_first(tmp_path):
    """Notebook 04's one `with model_load_errors(..., check=...)` line does the folder check too."""
    from course_utils.models import model_load_errors

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "base"}')
    with pytest.raises(ModelLoadError, match="holds a LoRA adapter"):
        with model_load_errors(str(adapter), check="model"):
            raise AssertionError("the check must fail before the load")
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        with model_load_errors(str(adapter), check="tokenizer"):
            raise AssertionError("the check must fail before the load")
    with pytest.raises(ValueError):
        with model_load_errors(str(adapter), check="weights"):
            pass


def test_precision_table_marks_this_machine_and_profile():
    from course_utils.models import precision_table

    table = precision_table(get_profile("colab", hardware=T4, env={}), T4)
    assert list(table.columns) == ["CPU", "GPU, no bf16 (T4) *", "GPU, bf16"]
    assert table.loc["nf4: colab *", "GPU, no bf16 (T4) *"] == "4-bit, float16"
    assert table.loc["bf16: gpu", "CPU"] == "-" and "int8: seed" in table.index
