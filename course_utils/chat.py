"""The course's chat template for a base model (notebook 08; notebook 09 serves with it).

A base model such as XGen-7B-base or the course's tiny model has no chat template. Notebook 08 writes
this one out in a cell and explains each line; this module holds the same string, so that the script
mirror, notebook 09 and the tests use one copy (a test ties the notebook's string to this one).

A turn ends with the tokenizer's EOS: no new token, so no embedding row has to grow. The assistant's
text *and* its EOS sit inside ``{% generation %}`` so that trl's ``assistant_only_loss=True`` puts loss
on them, and on nothing else.
"""

from __future__ import annotations

from typing import Any

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}{{ '### System:\\n' + message['content'] + '\\n\\n' }}"
    "{%- elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{%- elif message['role'] == 'assistant' %}{{ '### Assistant:\\n' }}"
    "{%- generation %}{{ message['content'] + eos_token }}{%- endgeneration %}{{ '\\n\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '### Assistant:\\n' }}{%- endif %}"
)


def with_chat_template(tokenizer: Any, template: str = CHAT_TEMPLATE) -> Any:
    """Give ``tokenizer`` the course's chat template (in place) and return it."""
    tokenizer.chat_template = template
    return tokenizer
