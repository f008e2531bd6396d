"""The pinned sdists whose test suites ``make compat`` runs: fetched once, sha256 checked.

Release files on PyPI are immutable, so a pinned digest proves the suite is the one the
counts in the README were taken on. ``pip download`` fetches the archive (the ordinary
client, with the machine's index configuration); it is unpacked under ``.fastapi-sdist/``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sdist:
    project: str
    version: str
    sha256: str  # of the .tar.gz as published on PyPI

    @property
    def name(self) -> str:
        return f"{self.project}-{self.version}"


FASTAPI = Sdist(
    "fastapi", "0.165.0", "dd94d4128319c1e1d50535ab023ab698f850a4d2822f0e181747b46f4ff3c0ab"
)
STARLETTE = Sdist(
    "starlette", "1.10.0", "b8399098d4c1e3522734f7235dc79b1fc967f96cf139c81e0fa30479e0685f9b"
)


def log(message: str) -> None:
    print(f"[compat] {message}", file=sys.stderr, flush=True)


def sdist_version(directory: Path) -> str | None:
    pkg_info = directory / "PKG-INFO"
    if not pkg_info.is_file():
        return None
    for line in pkg_info.read_text(encoding="utf-8").splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def extract(sdist: Sdist, archive: Path, into: Path) -> Path:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sdist.sha256:
        raise SystemExit(f"{archive}: sha256 {digest} does not match the pinned {sdist.sha256}")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(into)  # pinned, hash-checked archive
    return into / sdist.name


def ensure_sdist(sdist: Sdist, work: Path, source: Path | None = None) -> Path:
    """The extracted sdist directory under ``work``, fetching and unpacking it if needed.

    ``source`` may name a local archive (hash-checked like a download) or an extracted
    directory of the same version.
    """
    target = work / sdist.name
    if sdist_version(target) == sdist.version:
        return target
    work.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    if source is not None and source.is_dir():
        if sdist_version(source) != sdist.version:
            raise SystemExit(f"{source} is not the {sdist.project} {sdist.version} sdist")
        shutil.copytree(source, target)
        return target
    archive = source
    if archive is None:
        download = work / "download"
        archive = download / f"{sdist.name}.tar.gz"
        if not archive.is_file():
            log(f"downloading the {sdist.project}=={sdist.version} sdist from PyPI")
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            requirement = f"{sdist.project}=={sdist.version}"
            subprocess.run([*pip, "-q", "-d", str(download), requirement], check=True)
    extracted = extract(sdist, archive, work)
    if sdist_version(extracted) != sdist.version:
        raise SystemExit(f"{extracted} does not contain {sdist.project} {sdist.version}")
    return extracted
