"""A throw-away certificate authority for the TLS scenarios, made at run time with trustme.

Nothing is committed or reused between runs: each bench run mints a CA and a leaf
certificate for 127.0.0.1/localhost into its temporary directory.  The key is written
as PKCS#8, the one format every server here reads (granian accepts nothing else).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the run's CA certificate, server certificate chain and server key."""

    ca: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this run's CA and offers ALPN ``h2``."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.set_alpn_protocols(["h2"])
        return ctx


def make(directory: Path) -> TlsFiles:
    """Mint a CA and a certificate for 127.0.0.1 and localhost under ``directory``."""
    import trustme
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    files.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
