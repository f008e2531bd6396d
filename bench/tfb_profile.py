"""Where a TFB server's time goes: a py-spy ``--native -f raw`` profile, split by owner.

``python -m bench.tfb_profile FILE.raw`` reads py-spy's collapsed stacks (one line per
distinct stack, frames outermost first, ``;``-separated, then a sample count) and gives
each sample to the innermost frame that belongs to a known part of the stack:

- the **asyncpg driver**: ``asyncpg/`` and its Cython protocol (``protocol.c``,
  ``pgproto.c``, ``recordobj.c``);
- the **server**: ``aster/server/`` or ``uvicorn/``, and httptools' HTTP parser
  (``parser.c``/``llhttp.c``); the **framework**: the rest of ``aster/``, or
  ``fastapi/``, ``starlette/``, ``litestar/``, ``blacksheep/``;
- the **app** (``bench/apps/``), **pydantic**, **jinja2**, other Python libraries;
- the **event loop**: uvloop, libuv and asyncio (polling, scheduling, task steps).

Frames outside the event loop (start-up, ``main``) own nothing.  A socket write goes
through uvloop into the kernel; it is charged to whoever asked
for it (asyncpg sending a query, the server sending a response), not to the loop, and
also counted on its own (``socket write``), as are socket reads and ``epoll`` waits,
so the kernel's share is visible.  Native frames (C, Cython) need ``--native``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<where>[^()]*)\)$")
_NATIVE = re.compile(r"\.[ch]:\d+\)|\.so[\w.-]*\)")
ROOT = Path(__file__).resolve().parent.parent

ASYNCPG_NATIVE = {"protocol.c", "pgproto.c", "recordobj.c"}
HTTP_PARSER = {"parser.c", "llhttp.c", "api.c", "http.c"}
LIBUV = {"core.c", "linux.c", "stream.c", "loop-watcher.c", "timer.c", "queue.h", "tcp.c"}
LOOP_NATIVE = {"loop.c", "_asynciomodule.c", "_asynciomodule.c.h", *LIBUV}
FRAMEWORKS = ("fastapi/", "starlette/", "litestar/", "blacksheep/")
SERVERS = ("aster/server/", "uvicorn/", "httptools/")
ORDER = (
    "asyncpg driver",
    "framework",
    "server",
    "app (bench/apps)",
    "pydantic",
    "jinja2",
    "other Python",
    "event loop",
)


def owner(func: str, where: str) -> str | None:
    """The part of the stack a frame belongs to, or None for frames that say nothing
    (the interpreter, libc)."""
    path = where.rsplit(":", 1)[0]
    name = path.rsplit("/", 1)[-1]
    if "asyncpg" in path or name in ASYNCPG_NATIVE:
        return "asyncpg driver"
    if path.startswith(SERVERS) or name in HTTP_PARSER:
        return "server"
    if path.startswith(("aster/", *FRAMEWORKS)):
        return "framework"
    if "/" not in path and (ROOT / "aster" / "dependencies" / path).exists():
        return "framework"  # py-spy may print a file of a package by its bare name
    if path.startswith("bench/apps/"):
        return "app (bench/apps)"
    if "pydantic" in path:
        return "pydantic"
    if "jinja2" in path or "markupsafe" in path or path == "<template>":
        return "jinja2"
    if name in LOOP_NATIVE or "uvloop" in path or path.startswith("asyncio/"):
        return "event loop"
    if path.endswith(".py") and not path.startswith("<frozen"):
        return "other Python"
    return None


def _loop_entry(func: str, where: str) -> bool:
    """Whether a frame is where the program hands over to the event loop: the frames
    outside it (start-up, ``main``) own none of the time spent inside."""
    path = where.rsplit(":", 1)[0]
    return (
        "run_forever" in func
        or func == "uv_run"
        or path == "asyncio/runners.py"
        or (func == "Server.run" and path == "aster/server/server.py")
    )


def _syscall(frames: list[tuple[str, str]]) -> str | None:
    """What kernel work the sample's innermost frames are, if they are a syscall."""
    funcs = " ".join(f for f, _ in frames[-4:])
    if "libc" not in frames[-1][1]:
        return None
    if "write" in funcs:
        return "socket write"
    if "uv__read" in funcs or " read" in f" {funcs}":
        return "socket read"
    if "epoll" in funcs or "uv__io_poll" in funcs:
        return "epoll wait"
    return None


def classify(stack: str) -> tuple[str, str | None]:
    """(owner of the sample, syscall or None)."""
    frames = []
    for raw in stack.split(";"):
        m = _FRAME.match(raw.strip())
        frames.append((m["func"], m["where"]) if m else (raw.strip(), ""))
    syscall = _syscall(frames) if frames else None
    entries = [i for i, (func, where) in enumerate(frames) if _loop_entry(func, where)]
    inside = frames[entries[-1] + 1 :] if entries else frames
    passed_write = False
    for func, where in reversed(inside):
        part = owner(func, where)
        if part == "event loop" and "write" in func.lower():
            passed_write = True  # a transport write: charge whoever called it
            continue
        if part is None or (part == "event loop" and passed_write):
            continue
        return part, syscall
    return "event loop", syscall


def summarize(path: Path) -> tuple[Counter[str], Counter[tuple[str, str]], int]:
    """(samples by owner, samples by (syscall, owner), total) of a raw py-spy file."""
    owners: Counter[str] = Counter()
    syscalls: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        part, syscall = classify(stack)
        owners[part] += n
        if syscall:
            syscalls[syscall, part] += n
        total += n
    return owners, syscalls, total


def markdown(path: Path) -> str:
    owners, syscalls, total = summarize(path)
    native = _NATIVE.search(path.read_text()) is not None
    loop = "event loop" if native else "event loop and native code (no --native)"
    lines = [f"{total} samples in {path.name}", "", "| part | share |", "|---|---:|"]
    for part in ORDER:
        if owners[part]:
            label = loop if part == "event loop" else part
            lines.append(f"| {label} | {100 * owners[part] / total:.0f}% |")
    lines += ["", "| kernel, within the above | share | charged to |", "|---|---:|---|"]
    kinds: Counter[str] = Counter()
    for (kind, _), n in syscalls.items():
        kinds[kind] += n
    for kind, n in kinds.most_common():
        who = ", ".join(
            f"{part} {100 * m / total:.0f}%"
            for (k, part), m in syscalls.most_common()
            if k == kind and round(100 * m / total)
        )
        lines.append(f"| {kind} | {100 * n / total:.0f}% | {who} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tfb_profile", description=__doc__)
    p.add_argument("raw", type=Path, nargs="+", help="py-spy record --native -f raw output")
    args = p.parse_args(argv)
    for path in args.raw:
        print(markdown(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
