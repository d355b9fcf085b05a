"""Reading a board folder that anyone in the room can write to, in bounded time and memory.

One routine for the library (:func:`lepton_lab.board.read_board`, the challenge's printout) and
the leaderboard app, so that neither can be stalled by what a participant puts in the folder:

* only names ending in ``.json`` (not hidden) are looked at, at most :data:`MAX_ENTRIES`;
* an entry that is not a regular file by ``lstat`` (a FIFO, a socket, a symbolic link, a
  folder) is rejected without being opened; a regular one is opened relative to the folder's
  descriptor with ``O_NOFOLLOW | O_NONBLOCK`` (a swap for a link or a FIFO between the look and
  the open neither follows nor blocks), its type and size checked again by ``fstat`` on the
  descriptor, and at most :data:`MAX_FILE_BYTES` read;
* files are read smallest first, at most :data:`MAX_READ_BYTES` in all per pass, so a flood of
  large files cannot push the real submissions (a few kB each) out;
* each entry is cached by its (inode, modification time, size): a poll re-reads only what
  changed.

The board's accuracy floor lives in the folder too (:data:`FLOOR_FILE`), read the same way; it
counts only if written by the folder's owner (the instructor) or root.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import board_text
from .board_checks import Rejected, Submission, check

#: Files larger than this are not read (a real submission is a few kB).
MAX_FILE_BYTES = 2_000_000
TOO_LARGE = f"larger than {MAX_FILE_BYTES // 1_000_000} MB"
#: Names looked at per pass: the rest are counted, not read.
MAX_ENTRIES = 20_000
#: Bytes read per pass at most (over every file): bounds the time one pass takes.
MAX_READ_BYTES = 200_000_000
#: The board's accuracy floor: a share between 0 and 1 (e.g. ``0.955``), alone in the file.
FLOOR_FILE = "accuracy-floor.txt"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO named as the board: ENOTDIR
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
#: What an entry is, when it is not a regular file.
NOT_A_FILE = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link",
              stat.S_IFDIR: "a folder", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}
OPEN_ERRORS = {errno.ELOOP: "a symbolic link", errno.ENXIO: "a socket or device", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ENOENT: "removed while being read"}


@dataclass
class Board:
    submissions: list[Submission] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    floor: float | None = None
    """The board's accuracy floor (from :data:`FLOOR_FILE`), None where the instructor set none."""


def is_candidate(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


def _not_a_file(mode: int) -> str:
    return f"{NOT_A_FILE.get(stat.S_IFMT(mode), 'not a regular file')}: not read"


def read_limited(dir_fd: int, name: str, limit: int = MAX_FILE_BYTES) -> tuple[bytes | None, str, int]:
    """(bytes, '', owner uid) of a regular file in the folder, or (None, why not, -1): never
    follows a link, never blocks, never reads more than ``limit`` bytes."""
    try:
        fd = os.open(name, OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return None, f"not read ({OPEN_ERRORS.get(exc.errno or 0, exc.strerror or 'error')})", -1
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, _not_a_file(st.st_mode), -1
        if st.st_size > limit:
            return None, TOO_LARGE if limit == MAX_FILE_BYTES else f"larger than {limit} bytes", -1
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # grew while being read
            return None, TOO_LARGE, -1
        return data, "", st.st_uid
    except OSError as exc:
        return None, f"not read ({exc.strerror or 'error'})", -1
    finally:
        os.close(fd)


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def check_bytes(content: bytes | bytearray | memoryview, path: str = "") -> Submission | Rejected:
    """A file's bytes (from a board folder or an upload) checked; a Rejected with the reason
    otherwise. Never raises for what a file holds."""
    try:
        if len(content) > MAX_FILE_BYTES:
            raise ValueError(TOO_LARGE)
        return check(json.loads(bytes(content).decode("utf-8"), parse_constant=_no_constants), path)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(path, f"not readable JSON ({type(exc).__name__})")
    except (ValueError, RecursionError, OverflowError) as exc:
        return Rejected(path, board_text.shown(exc, 300, normalize=False) or type(exc).__name__)
    except (TypeError, AttributeError, KeyError, IndexError) as exc:  # a string where a number goes, say
        return Rejected(path, f"not a valid submission ({type(exc).__name__})")


#: An entry's identity for the cache: (inode, mtime_ns, size, mode) by lstat; a change re-reads it.
Key = tuple[int, int, int, int]


@dataclass(frozen=True)
class Scan:
    """What a folder holds, cheaply: names and lstat keys, smallest first; how many were skipped."""

    entries: tuple[tuple[str, Key], ...]
    skipped: int = 0
    floor_key: Key | None = None


def scan(dir_fd: int) -> Scan:
    """The candidate names of an open folder with their lstat keys (no file is opened)."""
    found: list[tuple[int, str, Key]] = []
    skipped, floor_key = 0, None
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.name == FLOOR_FILE:
                floor_key = _key(entry)
            if not is_candidate(entry.name):
                continue
            if len(found) >= MAX_ENTRIES:
                skipped += 1
                continue
            key = _key(entry)
            found.append((key[2], entry.name, key))
    found.sort()
    return Scan(tuple((name, key) for _, name, key in found), skipped, floor_key)


def _key(entry: os.DirEntry) -> Key:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:  # removed since the listing
        return (0, 0, -1, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)


class BoardReader:
    """Reads a board folder, re-reading only the entries that changed since the last pass."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Key, Submission | Rejected]] = {}
        self._folder = ""

    def read(self, folder: Path, found: Scan | None = None, dir_fd: int | None = None) -> Board:
        """Every candidate file checked, each at most once per change; ``found`` from :func:`scan`."""
        own_fd = dir_fd is None
        fd = os.open(folder, DIR_FLAGS) if dir_fd is None else dir_fd
        try:
            found = found or scan(fd)
            if str(folder) != self._folder:
                self._cache, self._folder = {}, str(folder)
            board, budget, cache = Board(), MAX_READ_BYTES, {}
            for name, key in found.entries:
                cached = self._cache.get(name)
                if cached and cached[0] == key:
                    result = cached[1]
                elif not stat.S_ISREG(key[3]):
                    result = Rejected(str(folder / name), _not_a_file(key[3]))
                elif key[2] > budget:  # not cached: the next pass may have the budget for it
                    board.rejected.append(Rejected(str(folder / name), f"not read: this pass's "
                                                   f"{MAX_READ_BYTES // 1_000_000} MB went to smaller files"))
                    continue
                else:
                    budget -= max(key[2], 0)
                    data, why, _ = read_limited(fd, name)
                    result = check_bytes(data, str(folder / name)) if data is not None else \
                        Rejected(str(folder / name), why)
                cache[name] = (key, result)
                if isinstance(result, Submission):
                    board.submissions.append(result)
                else:
                    board.rejected.append(result)
            self._cache = cache
            if found.skipped:
                board.rejected.append(Rejected(str(folder / "…"), f"{found.skipped} more files not read (more than "
                                               f"{MAX_ENTRIES} in the folder)"))
            board.floor = self._floor(fd, folder, found, board)
            return board
        finally:
            if own_fd:
                os.close(fd)

    @staticmethod
    def _floor(fd: int, folder: Path, found: Scan, board: Board) -> float | None:
        if found.floor_key is None:
            return None
        data, why, uid = read_limited(fd, FLOOR_FILE, 64)
        path = str(folder / FLOOR_FILE)
        if data is None:
            board.rejected.append(Rejected(path, why))
            return None
        if uid not in (os.fstat(fd).st_uid, 0):
            board.rejected.append(Rejected(path, "not written by the board folder's owner: ignored"))
            return None
        try:
            value = float(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            board.rejected.append(Rejected(path, "not a share between 0 and 1 (e.g. 0.955): ignored"))
            return None
        return value
