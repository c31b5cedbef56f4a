"""`course grade --dask`: a cluster only the instructor can use (mutual TLS), or a plain warning."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess

import pytest

from autograder.cli import dask_security

distributed = pytest.importorskip("distributed")


GRADER_EXTENSIONS = """basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
"""


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A certificate authority and one certificate it signed (for the scheduler, workers and client)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    # The README's commands. Python 3.13's default contexts verify strictly (VERIFY_X509_STRICT):
    # the authority needs a key usage, the certificate the v3 extensions of grader.ext.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=course grading CA", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "grader.key", "-out", "grader.csr",
            "-subj", "/CN=grader")
    (folder / "grader.ext").write_text(GRADER_EXTENSIONS)
    openssl("x509", "-req", "-in", "grader.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "grader.pem", "-days", "2", "-extfile", "grader.ext")
    return {"ca": str(folder / "ca.pem"), "cert": str(folder / "grader.pem"), "key": str(folder / "grader.key")}


def _tls_probe(address, certificates, with_certificate):
    """Open a TLS connection to the scheduler as a client would; "refused" when the server ends it."""
    host, port = address[len("tls://"):].rsplit(":", 1)
    context = ssl.create_default_context(cafile=certificates["ca"])
    context.check_hostname = False
    if with_certificate:
        context.load_cert_chain(certificates["cert"], certificates["key"])
    try:
        with socket.create_connection((host, int(port)), timeout=3) as raw, \
                context.wrap_socket(raw) as tls:
            return "refused" if tls.recv(1) == b"" else "accepted"
    except socket.timeout:
        return "accepted"          # the handshake held; the scheduler waits for a real message
    except (ssl.SSLError, ConnectionError):
        return "refused"


def test_the_tls_options_build_a_security_that_requires_encryption(certificates):
    security = dask_security("tls://10.0.0.5:8786", **certificates)
    assert security.require_encryption is True
    assert (security.tls_ca_file, security.tls_client_cert, security.tls_client_key) == (
        certificates["ca"], certificates["cert"], certificates["key"])
    context = security.get_connection_args("client")["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("address, leave_out, message", [
    ("tls://10.0.0.5:8786", "key", "TLS needs all three files: add --dask-tls-key"),
    ("tcp://10.0.0.5:8786", None, "with TLS certificates the address starts with tls://")])
def test_incomplete_tls_options_are_refused(certificates, address, leave_out, message):
    files = {k: v for k, v in certificates.items() if k != leave_out}
    with pytest.raises(ValueError, match=message):
        dask_security(address, **files)


def test_without_tls_a_plain_warning(capsys):
    security = dask_security("tcp://10.0.0.5:8786")
    assert not security.require_encryption
    assert "keep it on a private network" in capsys.readouterr().err


def test_command_line_hands_the_security_to_the_client(certificates, monkeypatch, tmp_path):
    from autograder import fixture_course
    from course.cli import main

    seen = {}

    class Refused(Exception):
        pass

    def fake_client(address, security=None):
        seen.update(address=address, security=security)
        raise Refused

    monkeypatch.setattr(distributed, "Client", fake_client)
    root = str(fixture_course.make_course(tmp_path / "course"))
    with pytest.raises(Refused):
        main(["grade", "ps1", "--course", root, "--dask", "tls://10.0.0.5:8786",
              "--dask-tls-ca", certificates["ca"], "--dask-tls-cert", certificates["cert"],
              "--dask-tls-key", certificates["key"]])
    assert seen["address"] == "tls://10.0.0.5:8786" and seen["security"].require_encryption
    assert seen["security"].tls_client_key == certificates["key"]
    assert main(["grade", "ps1", "--course", root, "--dask", "tcp://10.0.0.5:8786",
                 "--dask-tls-ca", certificates["ca"]]) == 1


def test_a_tls_scheduler_grades_for_the_instructor_and_refuses_a_client_without_certificates(
        certificates, tmp_path, capsys):
    from distributed.security import Security

    from autograder import fixture_course
    from course.cli import main

    everyone = Security(tls_ca_file=certificates["ca"], tls_scheduler_cert=certificates["cert"],
                        tls_scheduler_key=certificates["key"], tls_worker_cert=certificates["cert"],
                        tls_worker_key=certificates["key"], tls_client_cert=certificates["cert"],
                        tls_client_key=certificates["key"], require_encryption=True)
    root = fixture_course.make_course(tmp_path / "course")
    fixture_course.write_notebook(root, "alice", fixture_course.notebook_with(fixture_course.correct_code()))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://",
                                  security=everyone, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        assert _tls_probe(address, certificates, with_certificate=False) == "refused"
        assert _tls_probe(address, certificates, with_certificate=True) == "accepted"
        assert main(["grade", "ps1", "--course", str(root), "--timeout", "10", "--dask", address,
                     "--dask-tls-ca", certificates["ca"], "--dask-tls-cert", certificates["cert"],
                     "--dask-tls-key", certificates["key"]]) == 0
    assert "6/6" in capsys.readouterr().out
