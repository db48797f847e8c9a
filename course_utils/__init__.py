"""Helpers for the course "Fine-tune an LLM with PyTorch".

Each module names the notebook that teaches it. Importing this package is cheap: torch,
transformers, trl, peft and datasets are imported only by the functions that need them.
"""

import logging
import warnings

from .errors import CourseError, install_notebook_handler
from .profile import Hardware, Profile, detect_hardware, get_profile
from .progress import quiet_library_bars

__all__ = ["CourseError", "Hardware", "Profile", "detect_hardware", "get_profile", "quiet_library_bars"]
__version__ = "0.1.0"


class _DropMessage(logging.Filter):
    """Drops one known log message (matched by its start), lets every other record through."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def _silence_noise_a_learner_cannot_act_on() -> None:
    """Two messages every run prints that ask nothing of the learner. Each is matched narrowly
    (its module and the start of its text), so any other warning from the same library still shows.

    - bitsandbytes, on CPUs with AVX512-BF16, tries to fetch a faster 4-bit CPU kernel from the
      Hugging Face Hub through the optional ``kernels`` package and logs "No module named
      'kernels'" when it is absent. It then uses its built-in CPU code, which is correct; the GPU
      profiles never use that path, and the smoke runs are offline, so installing ``kernels``
      would not help.
    - transformers 5 renamed ``model.is_gradient_checkpointing`` to ``is_activation_checkpointing``;
      peft 0.21 and trl 1.16 still read the old name inside ``get_peft_model`` / ``SFTTrainer``,
      which raises a FutureWarning about their code, not yours.
    """
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(
        _DropMessage("Failed to load CPU gemm_4bit_forward from kernels-community"))
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated",
                            category=FutureWarning, module=r"transformers\.modeling_utils")


_silence_noise_a_learner_cannot_act_on()
install_notebook_handler()
