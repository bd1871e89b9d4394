"""A throw-away CA and a server certificate for localhost, made with the openssl CLI.

WHY: TLS to the broker is tested against a real Mosquitto TLS listener; every such test needs
the same small PKI, and certificates must not be committed (they would expire).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_ca_and_server_cert(d: Path, ca_name: str = "test-ca") -> None:
    """Write ca.crt/ca.key and server.crt/server.key (CN and SAN localhost, 127.0.0.1) to d;
    ``ca_name`` tells two CAs apart (a broker whose certificate another CA signed)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={ca_name}",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    )
