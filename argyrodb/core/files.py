"""Reading and writing files safely (text, atomic outputs, figures).

Every output goes to a temporary file in the target folder and is renamed into place, so an interrupted
run never leaves a truncated file that looks valid; the file gets the usual permissions (0666 less the
umask, or the mode of the file it replaces), not the 0600 of a temporary file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from .errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def finalize_mode(tmp: str | Path, target: str | Path) -> None:
    """Give ``tmp`` the mode ``target`` has (if it exists) or 0666 less the umask."""
    try:
        mode = os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    os.chmod(tmp, mode)


@contextlib.contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path next to ``target``; on success it is renamed onto ``target``, on any
    failure it is removed and ``target`` is untouched."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(target, f"output folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        finalize_mode(tmp, target)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def check_output_paths(*paths: str | Path | None) -> None:
    """Refuse before any work when an output's folder is missing or two outputs are the same file."""
    seen: set[Path] = set()
    for path in paths:
        if path is None:
            continue
        path = Path(path)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise InputError(path, f"output folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise InputError(path, f"output folder {folder} is not writable")
        resolved = path.resolve()
        if resolved in seen:
            raise InputError(path, "two outputs would be written to the same file")
        seen.add(resolved)


def _existing_file(path: str | Path, max_bytes: int) -> Path:
    """``path``, refused with a one-line error when missing or over ``max_bytes``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(path, f"file is {size} bytes, over the {max_bytes}-byte limit")
    return path


def read_bytes_file(path: str | Path, max_bytes: int = 50_000_000) -> bytes:
    """A file's bytes, refused as :func:`read_text_file` refuses a missing or too large file."""
    return _existing_file(path, max_bytes).read_bytes()


def read_text_file(path: str | Path, max_bytes: int = 50_000_000) -> str:
    """A UTF-8 text file (a byte-order mark is accepted), refused with a one-line error when missing,
    too large or not text."""
    path = _existing_file(path, max_bytes)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def save_figure(fig, out: str | Path, dpi: int = 150) -> Path:
    """Write a matplotlib figure as PNG (``dpi``) atomically and close it (also when writing fails)."""
    plt = pyplot()

    out = Path(out)
    try:
        with atomic_path(out) as tmp, open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return out


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_filename(name: str, suffix: str) -> str:
    """A file name made from a structure name that cannot leave its folder ('../../x' -> 'x')."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "structure"
    return cleaned + suffix
