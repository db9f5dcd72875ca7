"""A throwaway PostgreSQL server for the tests and benchmarks (not part of the package).

``initdb`` + ``pg_ctl`` in a fresh temporary directory, listening on a Unix socket in that
directory only (``listen_addresses=''``: no TCP port, nothing reachable from outside, no clash
with another server on the machine). PostgreSQL refuses to run as root, so as root the server
runs as the unprivileged ``nobody`` user, which owns the temporary directory. ``stop()`` shuts it
down (``pg_ctl stop -m immediate``) and deletes the directory; use the context manager or a
fixture finalizer so that happens when a test fails too.

    with PgServer.start() as pg:          # raises PgUnavailable when it cannot be had
        url = pg.url("spectral")          # postgresql+psycopg://postgres@/spectral?host=...
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "nobody"
SUPERUSER = "postgres"


class PgUnavailable(RuntimeError):
    """The PostgreSQL server binaries or the Python driver cannot be had here (why in the text)."""


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: PATH first, then the newest
    Debian ``/usr/lib/postgresql/N/bin``."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def major(path: str) -> int:
        found = re.search(r"/postgresql/(\d+)/", path)
        return int(found.group(1)) if found else 0

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=major, reverse=True)
    candidates += [Path(p).parent for p in debian]
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def unavailable_reason() -> str | None:
    """Why a throwaway server cannot be started here, or None when it can."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in "
            "/usr/lib/postgresql/*/bin; install the Debian 'postgresql' package"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the PostgreSQL driver is not installed; pip install -e '.[postgres]'"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return (
                f"running as root and there is no unprivileged {SERVER_USER!r} user to run "
                "the server"
            )
    return None


class PgServer:
    """One running throwaway server; see the module docstring."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root, self.bin_dir = root, bin_dir
        self.data, self.socket_dir, self.log = root / "data", root / "sock", root / "server.log"
        self._as_user: dict[str, object] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVER_USER)
            self._as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @classmethod
    def start(cls, databases: tuple[str, ...] = ("spectral",)) -> PgServer:
        """initdb, start, create ``databases``; raises :class:`PgUnavailable` with the reason."""
        reason = unavailable_reason()
        if reason:
            raise PgUnavailable(reason)
        bin_dir = find_bin_dir()
        assert bin_dir is not None
        # short path: a Unix socket path must stay under ~100 bytes
        root = Path(tempfile.mkdtemp(prefix="spg-", dir="/tmp"))
        server = cls(root, bin_dir)
        try:
            server._init_and_start(databases)
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str, timeout: float = 120) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.root),
            "TZ": "UTC",
        }
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.root,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            **self._as_user,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.is_file() else ""
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{log}"
            )

    def _init_and_start(self, databases: tuple[str, ...]) -> None:
        self.socket_dir.mkdir()
        if self._as_user:
            for path in (self.root, self.socket_dir):
                os.chown(path, self._as_user["user"], self._as_user["group"])  # type: ignore[arg-type]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=''",  # no TCP at all: the socket below is the only way in
                f"-c unix_socket_directories='{self.socket_dir}'",
                "-c unix_socket_permissions=0777",  # root's clients reach the nobody-owned socket
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",  # throwaway data
                "-c max_connections=50 -c shared_buffers=16MB",
            ]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            for name in databases:
                conn.execute(f'CREATE DATABASE "{name}"')

    def url(self, database: str = "spectral") -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of ``database`` over the Unix socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        """Stop the server (immediate mode) and delete its directory; safe to call twice."""
        if (self.data / "postmaster.pid").is_file():
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                    timeout=60,
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)  # the postmaster's immediate shutdown

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
