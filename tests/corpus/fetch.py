"""Download the corpus sdists with pip, check their hashes, unpack the notebook folders.

    python -m tests.corpus.fetch [DEST]      (default: .corpus; `make test` runs it)

Idempotent: an sdist already unpacked with the right hash is left alone.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

from .sources import SDISTS, Sdist

DEFAULT_DEST = Path(__file__).resolve().parents[2] / ".corpus"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(sdist: Sdist, folder: Path) -> Path:
    target = folder / sdist.filename
    if not target.exists():
        # --no-build-isolation: pip only reads the sdist's metadata, with the setuptools at hand.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--no-build-isolation", f"{sdist.name}=={sdist.version}", "-d", str(folder)],
            check=True,
        )
    found = _sha256(target)
    if found != sdist.sha256:
        target.unlink()
        raise SystemExit(f"{target.name}: SHA-256 {found} is not the pinned {sdist.sha256}")
    return target


def _unpack(sdist: Sdist, archive: Path, dest: Path) -> None:
    marker = dest / sdist.root / ".unpacked"
    if marker.exists() and marker.read_text() == sdist.sha256:
        return
    prefixes = tuple(f"{sdist.root}/{folder}/" for folder in sdist.folders)
    with tarfile.open(archive) as tar:
        # The listed folders, and the top-level files (the licence among them).
        members = [m for m in tar.getmembers() if (m.isfile() or m.isdir()) and
                   (m.name.startswith(prefixes) or (m.isfile() and m.name.count("/") == 1))]
        tar.extractall(dest, members=members, filter="data")
    marker.write_text(sdist.sha256)


def fetch(dest: Path = DEFAULT_DEST) -> Path:
    (dest / "sdists").mkdir(parents=True, exist_ok=True)
    for sdist in SDISTS.values():
        _unpack(sdist, _download(sdist, dest / "sdists"), dest)
    return dest


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DEST))
