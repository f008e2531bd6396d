"""Where the server listens: --uds, --fd, --host (IPv6), --backlog, and TLS."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from tests.support import ROOT, RawConnection, Running, request, serve

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "10", *args],
        capture_output=True,
        timeout=20,
    )


# -- unix domain sockets --------------------------------------------------------------------


def test_uds(tmp_path: Path) -> None:
    path = tmp_path / "aster.sock"
    with serve("tests.apps.life_app:app", "--uds", str(path), wait=False) as server:
        server.wait_for_log(r"running on unix socket")
        assert (
            server.lines[-1]
            == f"INFO      aster running on unix socket {path} (Press CTRL+C to quit)"
        )
        assert stat.S_ISSOCK(path.stat().st_mode)
        result = curl("--unix-socket", str(path), "-i", "http://localhost/scope")
        assert result.returncode == 0, result.stderr
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert head.splitlines()[0] == b"HTTP/1.1 200 OK"
        info = json.loads(body)
        # A unix socket peer has no address; the server is the socket path.
        assert info["client"] is None
        assert info["server"] == [str(path), None]
        assert info["host"] == "localhost"
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    # The socket file is removed on shutdown.
    assert not path.exists()


def test_uds_replaces_a_stale_socket_but_never_a_regular_file(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as old:
        old.bind(str(stale))  # bound, then closed: a leftover from a crashed server
    with serve("tests.apps.life_app:app", "--uds", str(stale), wait=False) as server:
        server.wait_for_log(r"running on unix socket")
        assert curl("--unix-socket", str(stale), "http://localhost/").stdout == b"ok"

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    result = subprocess.run(
        [sys.executable, "-m", "aster", "run", "tests.apps.life_app:app", "--uds", str(precious)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert (
        f"ERROR     could not bind on unix socket {precious}: address already in use"
    ) in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert precious.read_text() == "keep me"


def test_uds_with_workers(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    with serve("tests.apps.life_app:app", "--uds", str(path), "--workers", "2", wait=False) as s:
        deadline = time.monotonic() + 15
        while len([line for line in s.lines if "running on unix socket" in line]) < 2:
            assert time.monotonic() < deadline, s.log()
            time.sleep(0.05)
        assert curl("--unix-socket", str(path), "http://localhost/").stdout == b"ok"
        s.signal(signal.SIGTERM)
        assert s.wait() == 0
    assert not path.exists()


# -- an inherited file descriptor -------------------------------------------------------------


def test_fd() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    process = subprocess.Popen(
        [sys.executable, "-m", "aster", "run", "tests.apps.life_app:app", "--fd", str(fd)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        pass_fds=(fd,),
    )
    listener.close()  # the child owns it now
    running = Running(process, port=port)

    def pump() -> None:
        assert process.stdout is not None
        running.lines.extend(line.rstrip("\n") for line in process.stdout)

    threading.Thread(target=pump, daemon=True).start()
    try:
        running.wait_for_log(rf"^INFO      aster running on http://127\.0\.0\.1:{port} ")
        response = request(port, b"GET /scope HTTP/1.1\r\nHost: fd\r\n\r\n")
        assert response.status == 200
        assert json.loads(response.body)["server"] == ["127.0.0.1", port]
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bad_fd_is_a_clean_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aster", "run", "tests.apps.life_app:app", "--fd", "987"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"INFO      Started server process [{_pid(result.stderr)}]",
        "ERROR     could not use file descriptor 987: bad file descriptor",
        f"INFO      Finished server process [{_pid(result.stderr)}]",
    ]


def _pid(log: str) -> str:
    match = re.search(r"process \[(\d+)\]", log)
    assert match is not None, log
    return match.group(1)


# -- IPv6 and the backlog ---------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_host() -> None:
    with serve("tests.apps.life_app:app", "--host", "::1") as server:
        assert server.host == "::1"
        assert re.search(r"running on http://\[::1\]:\d+ \(Press CTRL\+C to quit\)$", server.log())
        with RawConnection(server.port, host="::1") as conn:
            conn.send(b"GET /scope HTTP/1.1\r\nHost: [::1]\r\n\r\n")
            response = conn.read_response()
        info = json.loads(response.body)
        assert info["client"][0] == "::1"
        assert info["server"] == ["::1", server.port]
        assert info["host"] == "[::1]"
        result = curl("-g", f"http://[::1]:{server.port}/")
        assert result.stdout == b"ok"


def test_backlog_reaches_listen() -> None:
    with serve("tests.apps.life_app:app", "--backlog", "7") as server:
        assert request(server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").body == b"ok"
        # For a listening socket, ss reports the backlog as Send-Q.
        result = subprocess.run(
            ["ss", "-Hltn", f"sport = :{server.port}"], capture_output=True, text=True, timeout=10
        )
        fields = result.stdout.split()
        assert fields[:3] == ["LISTEN", "0", "7"], result.stdout


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    other = ca.issue_cert("other.example")
    files = {
        "ca": directory / "ca.pem",
        "cert": directory / "cert.pem",
        "key": directory / "key.pem",
        "other_key": directory / "other-key.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(files["cert"]), append=True)
    other.private_key_pem.write_to_path(str(files["other_key"]))
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    files["encrypted_key"] = directory / "encrypted-key.pem"
    files["encrypted_key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return files


def test_tls(tls_files: dict[str, Path]) -> None:
    args = ("--ssl-keyfile", str(tls_files["key"]), "--ssl-certfile", str(tls_files["cert"]))
    with serve("tests.apps.life_app:app", *args) as server:
        assert server.scheme == "https"
        with httpx.Client(verify=ssl.create_default_context(cafile=str(tls_files["ca"]))) as client:
            response = client.get(f"https://127.0.0.1:{server.port}/scope")
            assert response.status_code == 200
            assert response.json()["scheme"] == "https"
            assert response.http_version == "HTTP/1.1"
            # Keep-alive works over TLS too.
            assert client.get(f"https://127.0.0.1:{server.port}/").text == "ok"
        # A client that does not trust the CA fails the handshake; the server keeps serving.
        with pytest.raises(httpx.ConnectError), httpx.Client() as client:
            client.get(f"https://127.0.0.1:{server.port}/")
        # Plain HTTP on the TLS port gets no HTTP response, and the server survives it.
        with RawConnection(server.port) as conn:
            conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert not conn.read_to_close().startswith(b"HTTP/1.1 200")
        result = curl("--cacert", str(tls_files["ca"]), f"https://localhost:{server.port}/")
        assert result.stdout == b"ok", result.stderr


def test_tls_mismatched_key_is_a_clean_error(tls_files: dict[str, Path]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aster",
            "run",
            "tests.apps.life_app:app",
            "--ssl-keyfile",
            str(tls_files["other_key"]),
            "--ssl-certfile",
            str(tls_files["cert"]),
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "ERROR     could not load the TLS certificate or key: [X509: KEY_VALUES_MISMATCH]"
    )
    assert "Traceback" not in result.stderr


def test_tls_needs_both_files(tls_files: dict[str, Path]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aster",
            "run",
            "tests.apps.life_app:app",
            "--ssl-certfile",
            str(tls_files["cert"]),
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == "ERROR     --ssl-keyfile and --ssl-certfile must be given together\n"


def test_tls_client_certificates(
    tls_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """--ssl-ca-certs with --ssl-cert-reqs 2 (CERT_REQUIRED): only clients with a cert get in."""
    directory = tmp_path_factory.mktemp("client")
    client_ca = trustme.CA()
    client_ca.cert_pem.write_to_path(str(directory / "client-ca.pem"))
    client_cert = client_ca.issue_cert("client@example.org")
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(directory / "client.pem"))
    args = (
        "--ssl-keyfile",
        str(tls_files["key"]),
        "--ssl-certfile",
        str(tls_files["cert"]),
        "--ssl-ca-certs",
        str(directory / "client-ca.pem"),
        "--ssl-cert-reqs",
        "2",
    )
    with serve("tests.apps.life_app:app", *args) as server:
        url = f"https://127.0.0.1:{server.port}/"
        context = ssl.create_default_context(cafile=str(tls_files["ca"]))
        with pytest.raises(httpx.HTTPError), httpx.Client(verify=context) as client:
            client.get(url)
        context.load_cert_chain(str(directory / "client.pem"))
        with httpx.Client(verify=context) as client:
            assert client.get(url).text == "ok"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ssl-ca-certs", "/nonexistent/ca.pem"], "could not load the CA certificates "),
        (["--ssl-ciphers", "NO-SUCH-CIPHER"], "could not load the ciphers 'NO-SUCH-CIPHER': "),
        (
            ["--ssl-keyfile", "{encrypted}", "--ssl-keyfile-password", "wrong"],
            "could not load the TLS certificate or key: ",
        ),
    ],
)
def test_tls_bad_settings_are_clean_errors(
    tls_files: dict[str, Path], extra: list[str], message: str
) -> None:
    extra = [arg.format(encrypted=tls_files["encrypted_key"]) for arg in extra]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aster",
            "run",
            "tests.apps.life_app:app",
            "--ssl-keyfile",
            str(tls_files["key"]),
            "--ssl-certfile",
            str(tls_files["cert"]),
            *extra,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ERROR     {message}"), result.stderr


def test_tls_encrypted_key_with_password(tls_files: dict[str, Path]) -> None:
    args = (
        "--ssl-keyfile",
        str(tls_files["encrypted_key"]),
        "--ssl-keyfile-password",
        "secret",
        "--ssl-certfile",
        str(tls_files["cert"]),
    )
    with serve("tests.apps.life_app:app", *args) as server:
        result = curl("--cacert", str(tls_files["ca"]), f"https://localhost:{server.port}/")
        assert result.stdout == b"ok", result.stderr
