"""``fraudml <command> [hydra overrides…]``: dispatch to one Hydra app per command."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from fraudml.errors import FraudmlError
from fraudml.log import setup_logging
from fraudml.paths import conf_dir

log = logging.getLogger("fraudml")


@dataclass(frozen=True)
class Command:
    summary: str
    #: ``module:function`` taking the composed config, or ``None`` while not built yet.
    target: str | None
    #: The issue that brings a command not built yet.
    pending: str = ""


COMMANDS: dict[str, Command] = {
    "validate": Command("read, validate and quarantine a dataset", "fraudml.cli.validate:run"),
    "simulate": Command(
        "write a synthetic city with planted fraud schemes", "fraudml.cli.simulate:run"
    ),
    "profiles": Command("build patient, provider and doctor profiles", "fraudml.cli.profiles:run"),
    "rules": Command(
        "run the rule base (conf/rules/*.yaml) over a window", "fraudml.cli.rules:run"
    ),
    "train": Command("train, evaluate and register models", "fraudml.cli.train:run"),
    "score": Command("score a period into explained leads", "fraudml.cli.score:run"),
    "serve": Command(
        "serve the rule base over HTTP for checks before settlement", "fraudml.cli.serve:run"
    ),
    "feedback": Command(
        "turn auditors' verdicts into labels (the closed loop)", "fraudml.cli.feedback:run"
    ),
    "ledger": Command(
        "practitioners' points ledger and providers' credit rating", "fraudml.cli.ledger:run"
    ),
    "monitor": Command(
        "the monitoring report (动态监测专报) of a period", "fraudml.cli.monitor:run"
    ),
    "import": Command(
        "turn a source extract into a dataset: fraudml import medicare|national SRC OUT",
        "fraudml.cli.importer:run",
    ),
}

#: How an operator gives a required setting through make (shown when it is missing).
MAKE_VARIABLES = {
    "data.path": "DATA=dir, or data.path=dir",
    "period.start": "FROM=YYYY-MM-DD, or period.start=…",
    "period.end": "UNTIL=YYYY-MM-DD, or period.end=…",
}

#: Positional arguments a command accepts before its overrides, in order.
POSITIONAL: dict[str, tuple[str, ...]] = {"import": ("source", "src", "out")}


def with_positionals(name: str, args: list[str]) -> list[str]:
    """``fraudml import medicare SRC OUT`` → ``source=medicare src=SRC out=OUT``."""
    keys = POSITIONAL.get(name, ())
    overrides, i = [], 0
    for arg in args:
        if "=" not in arg and not arg.startswith("-") and i < len(keys):
            overrides.append(f"{keys[i]}={arg}")
            i += 1
        else:
            overrides.append(arg)
    return overrides


def usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: fraudml <command> [key=value …]   (Hydra overrides; --help per command)", ""]
    for name, cmd in COMMANDS.items():
        note = "" if cmd.target else f"  [not available yet: {cmd.pending}]"
        lines.append(f"  {name:<{width}}  {cmd.summary}{note}")
    return "\n".join(lines)


def _resolve(target: str) -> Callable[[DictConfig], int | None]:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fraudml`` program."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    name, overrides = args[0], with_positionals(args[0], args[1:])
    command = COMMANDS.get(name)
    if command is None:
        print(f"fraudml: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if command.target is None:
        print(
            f"fraudml {name}: not available yet; it arrives with {command.pending}.",
            file=sys.stderr,
        )
        return 3

    import duckdb
    import hydra

    from fraudml.config import register

    register()
    setup_logging()
    run = _resolve(command.target)
    status: dict[str, int] = {"code": 0, "ran": 0}

    def task(cfg: DictConfig) -> None:
        status["ran"] = 1
        try:
            status["code"] = int(run(cfg) or 0)
        except FraudmlError as exc:
            # the user's to fix: its kind and message, no traceback
            log.error("%s: %s", exc.kind, exc)
            status["code"] = 2
        except duckdb.OutOfMemoryException as exc:
            log.error(
                "invalid setting: the engine ran out of memory within engine.memory_limit=%s "
                "(%s); raise engine.memory_limit (at most the machine's RAM) or work on a "
                "shorter period",
                cfg.engine.memory_limit if "engine" in cfg else "?",
                str(exc).strip().splitlines()[0][:200],
            )
            status["code"] = 2
        except MissingMandatoryValue as exc:  # a ``???`` in the config nobody gave
            given = MAKE_VARIABLES.get(exc.full_key or "", f"{exc.full_key}=…")
            log.error("invalid setting: %s is required (give %s)", exc.full_key, given)
            status["code"] = 2

    app = hydra.main(config_path=str(conf_dir()), config_name=name, version_base="1.3")(task)
    saved = sys.argv
    sys.argv = [f"fraudml {name}", *overrides]
    try:
        app()
    except SystemExit as exc:
        # Hydra reports a bad override or config (a misspelt key, a value of the wrong
        # type) and exits 1 before the command runs: that is the user's mistake, exit 2.
        # An error inside a command that ran is a bug and keeps Hydra's exit code.
        if not status["ran"]:
            return 2
        return int(exc.code) if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
