"""Where fraudml finds its shipped configuration (the default rule base among it)."""

from __future__ import annotations

import os
from pathlib import Path


def conf_dir() -> Path:
    """The config folder: ``$FRAUDML_CONF``, the repository's ``conf/``, or the wheel's."""
    if env := os.environ.get("FRAUDML_CONF"):
        return Path(env).resolve()
    here = Path(__file__).resolve()
    repo_conf = here.parents[2] / "conf"
    if repo_conf.is_dir():
        return repo_conf
    return here.parent / "conf"
