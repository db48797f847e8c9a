"""Checkers for the exercises at the end of notebooks 01-09.

Call a checker with your answer and the course objects it names. It prints one line and
returns a bool:

- ``✓ right: ...`` and ``True`` when the answer is right;
- ``✗ not yet: ... Hint: ...`` and ``False`` when it is not (the hint points at the likely mistake);
- ``not answered yet — ...`` and ``False`` while the answer is still ``None`` (or ``...``),
  so a notebook runs top to bottom with its exercises left open.

A checker never raises on a wrong answer, whatever its type. It works the right answer out
itself from the data, tokenizer, model or trainer you pass, so it holds for every profile, not
just for the numbers of the ``smoke`` run. Worked solutions: ``solutions/NN_solutions.ipynb``.

Each checker says what its exercise asks for in ``asks_for``: ``"code"`` (a function, a filter, a
configuration, a tensor, a template...) or ``"number"`` (a value worked out and given as a number). Every
notebook has at least one code exercise and at most one number-only exercise.

The checkers, one module per notebook (``course_utils/exercises/nbNN.py``):

- 01 · install: ``check_compute_dtype``, ``check_formats_that_fit``, ``check_decode_fp16``
- 02 · data: ``check_prompt``, ``check_most_common_instruction``, ``check_unique_prompts``
- 03 · lengths: ``check_short_template``, ``check_smallest_max_length``, ``check_fits_filter``
- 04 · model: ``check_weight_bytes``, ``check_completion_ids``, ``check_bnb_4bit_config``, ``check_memory_row``
- 05 · LoRA: ``check_lora_trainable``, ``check_lora_scale``, ``check_lora_forward``, ``check_lora_all_linear``, ``check_lora_linear``
- 06 · training: ``check_steps_per_epoch``, ``check_completion_mask``, ``check_lr_schedule``, ``check_unpacked_rows``
- 07 · inference: ``check_score``, ``check_generation``, ``check_top_p``
- 08 · chat format: ``check_own_template``, ``check_fixed_template`` (``suspect_template``)
- 09 · evaluate and ship: ``check_read_score``, ``check_spearman``, ``check_word_perplexity``,
  ``check_last_word_match``
"""

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09
from .nb01 import *  # noqa: F401,F403
from .nb02 import *  # noqa: F401,F403
from .nb03 import *  # noqa: F401,F403
from .nb04 import *  # noqa: F401,F403
from .nb05 import *  # noqa: F401,F403
from .nb06 import *  # noqa: F401,F403
from .nb07 import *  # noqa: F401,F403
from .nb08 import *  # noqa: F401,F403
from .nb09 import *  # noqa: F401,F403

__all__ = [name for module in (nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09) for name in module.__all__]
