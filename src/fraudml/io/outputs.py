"""Output folders: checked before work starts, held by one run, written whole, never
replacing what fraudml did not write.

A command that writes a folder claims it first (:func:`claim_output`): the folder must
be new, empty, or a previous output of the same command (it carries a marker file,
:data:`MARKER`); it may not be the filesystem root, the working directory or one of its
ancestors, nor hold a protected path (the tracking store), nor hold or sit inside the
dataset.
The claim holds an advisory lock beside the folder for the whole run, so a second run
into the same folder stops at once with a message instead of dying on the first one's
staging directory. Writing happens in a hidden staging sibling that is renamed into
place only when complete (:meth:`OutputClaim.staging`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fraudml.errors import OutputError

#: The file inside every folder fraudml writes: which command wrote it, and when.
MARKER = ".fraudml-output.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it (both resolved)."""
    return path == folder or folder in path.parents


#: The infix of a staging folder's name, ``.<name>.fraudml-<random>.partial``: a sibling
#: output ``<name>.y`` has staging folders ``.<name>.y.fraudml-…``, which it never matches.
STAGING = "fraudml-"


def _marker(folder: Path) -> dict | None:
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return None
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def written_by(folder: Path) -> str | None:
    """The command whose output ``folder`` is, from its marker; ``None`` without one."""
    found = _marker(folder)
    return None if found is None or "command" not in found else str(found["command"])


def foreign_entries(folder: Path) -> list[str]:
    """What ``folder`` holds beyond what fraudml wrote there (the marker lists it): a
    replaced output must not take anyone else's files with it."""
    found = _marker(folder) or {}
    listed = found.get("entries")
    if not isinstance(listed, list):
        return []  # an older marker without the list: everything counts as fraudml's
    ours = {*map(str, listed), MARKER}
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in ours)


def check_output(
    target: str | os.PathLike[str] | None,
    command: str,
    protect: Iterable[Path] = (),
    immutable: Iterable[Path] = (),
) -> Path:
    """The resolved output folder, or :class:`OutputError` saying why it is refused.

    Parameters
    ----------
    target : path
        The folder the command will write (``OUT=``).
    command : str
        The command's name; a non-empty folder must carry this command's marker.
    protect : paths
        Folders the output may neither be nor hold (the tracking store).
    immutable : paths
        Folders the output may neither be, hold, nor sit inside (the dataset: raw data
        is never written into).
    """
    if target is None or not str(target).strip():
        raise OutputError(f"no output folder given (set OUT=dir or out=dir for {command})")
    given = str(target)
    path = Path(given).expanduser().resolve()
    cwd = Path.cwd().resolve()
    if path == Path(path.anchor):
        raise OutputError(f"out={given!r} is the filesystem root; name a folder of its own")
    if _inside(cwd, path):
        raise OutputError(
            f"out={given!r} is the working directory or one of its ancestors ({path}); "
            "fraudml writes a whole folder and would replace it; name a new folder"
        )
    home = Path.home().resolve()
    if path == home:
        raise OutputError(f"out={given!r} is the home directory; name a new folder")
    immutable = [Path(p).expanduser().resolve() for p in immutable]
    for guarded in [Path(p).expanduser().resolve() for p in protect] + immutable:
        if _inside(guarded, path):
            raise OutputError(
                f"out={given!r} ({path}) holds {guarded}, which fraudml must not replace; "
                "name a new folder"
            )
    for guarded in immutable:
        if _inside(path, guarded):
            raise OutputError(
                f"out={given!r} ({path}) is inside {guarded}, which fraudml never writes "
                "into; name a folder elsewhere"
            )
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputError(f"out={given!r} ({path}) is a file, not a folder")
        if any(path.iterdir()):
            owner = written_by(path)
            if owner is None:
                raise OutputError(
                    f"out={given!r} ({path}) is not empty and was not written by fraudml "
                    f"(no {MARKER}); fraudml never replaces what it did not write: name a "
                    "new folder or empty this one"
                )
            if owner != command:
                raise OutputError(
                    f"out={given!r} ({path}) holds the output of `fraudml {owner}`, not of "
                    f"`fraudml {command}`; name another folder"
                )
            extra = foreign_entries(path)
            if extra:
                raise OutputError(
                    f"out={given!r} ({path}) is an earlier output of `fraudml {command}` but "
                    f"now also holds what fraudml did not write ({', '.join(extra[:5])}"
                    f"{' …' if len(extra) > 5 else ''}); replacing it would delete them: "
                    "move them out or name a new folder"
                )
    return path


@dataclass
class OutputClaim:
    """An output folder checked and locked for one run; see :func:`claim_output`."""

    path: Path
    command: str
    protect: tuple[Path, ...] = ()
    immutable: tuple[Path, ...] = ()
    _lock: int | None = field(default=None, repr=False)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """Yield an empty hidden sibling folder; on success it replaces :attr:`path`.

        An interrupted run leaves the old folder as it was (or none) and a hidden
        ``.<name>.fraudml-*.partial`` that the next claim of the same folder removes.
        """
        target = self.path
        check_output(target, self.command, self.protect, self.immutable)  # still ours?
        staging = Path(
            tempfile.mkdtemp(
                prefix=f".{target.name}.{STAGING}", suffix=".partial", dir=target.parent
            )
        )
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; give it mkdir's mode
        try:
            yield staging
            (staging / MARKER).write_text(
                json.dumps(
                    {
                        "command": self.command,
                        "written_at": datetime.now().isoformat("T", "seconds"),
                        # what the folder holds, so that a later run knows what is its own
                        "entries": sorted(p.name for p in staging.iterdir()),
                    }
                )
                + "\n",
                encoding="utf-8",
            )
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
                os.replace(staging, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def __enter__(self) -> OutputClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_output(
    target: str | os.PathLike[str] | None,
    command: str,
    protect: Iterable[Path] = (),
    immutable: Iterable[Path] = (),
) -> OutputClaim:
    """Check ``target`` (:func:`check_output`) and lock it for this run.

    The lock is ``.<name>.lock`` beside the folder (an advisory ``flock``, released when
    the process ends, even by ``kill -9``). Leftovers of an interrupted run of the same
    folder are removed once the lock is held.
    """
    protect, immutable = tuple(map(Path, protect)), tuple(map(Path, immutable))
    path = check_output(target, command, protect, immutable)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = path.parent / f".{path.name}.lock"
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutputError(
            f"out={str(target)!r} ({path}) is being written by another fraudml run "
            f"(lock {lock_file}); wait for it or name another folder"
        ) from None
    for stale in path.parent.glob(f".{path.name}.{STAGING}*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    old = path.with_name(f".{path.name}.old")
    if old.exists() and path.exists():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists():  # killed between the two renames: the previous output comes back
        os.replace(old, path)
    return OutputClaim(path, command, protect, immutable, _lock=fd)


def as_claim(
    out: str | os.PathLike[str] | OutputClaim,
    command: str,
    protect: Iterable[Path] = (),
    immutable: Iterable[Path] = (),
) -> tuple[OutputClaim, bool]:
    """``out`` as a claim, and whether the caller made it (and so must release it)."""
    if isinstance(out, OutputClaim):
        return out, False
    return claim_output(out, command, protect, immutable), True
