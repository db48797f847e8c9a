"""Helpers for the course "Fine-tune an LLM with PyTorch".

Each module names the notebook that teaches it. Importing this package is cheap: torch,
transformers, trl, peft and datasets are imported only by the functions that need them.
"""

from .errors import CourseError, install_notebook_handler
from .profile import Hardware, Profile, detect_hardware, get_profile

__all__ = ["CourseError", "Hardware", "Profile", "detect_hardware", "get_profile"]
__version__ = "0.1.0"

install_notebook_handler()
