"""OpenSSH certificates against real OpenSSH, both ways, with certificates ssh-keygen -s makes
at test time: the sshviz client and sshd's HostCertificate / TrustedUserCAKeys, OpenSSH's ssh
and ``sshviz serve --host-certificate`` / ``--user-ca``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from . import serving
from .openssh import SSH, SSH_KEYGEN, require, shared_keys, ssh_command, sshd, sshviz_cli

pytestmark = pytest.mark.interop


def make_ca(directory: Path, name: str = "ca", kind: str = "ed25519") -> Path:
    path = directory / name
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", f"{name}@sshviz-test", "-f", str(path)],
                   check=True)
    return path


def certify(ca: Path, key: Path, directory: Path, name: str, principals: str, validity: str = "-5m:+1h",
            host: bool = False, options: tuple[str, ...] = ()) -> Path:
    """ssh-keygen -s: a certificate for ``key`` (a private key path; its .pub is copied so the
    shared keys' directory is left alone). Returns the certificate's path, NAME-cert.pub,
    beside a copy of the private key NAME, as OpenSSH's ssh finds it with -i NAME."""
    shutil.copy(key, directory / name)
    (directory / name).chmod(0o600)
    shutil.copy(Path(str(key) + ".pub"), directory / f"{name}.pub")
    args = [SSH_KEYGEN, "-q", "-s", str(ca), "-I", f"{name} id", "-n", principals, "-V", validity]
    if host:
        args.append("-h")
    for option in options:
        args += ["-O", option]
    subprocess.run([*args, str(directory / f"{name}.pub")], check=True, capture_output=True)
    return directory / f"{name}-cert.pub"


def connect_cli(port: int, known_hosts: Path, identity: Path, user: str = "root", *extra: str):
    return sshviz_cli("connect", "-p", str(port), "--known-hosts", str(known_hosts), "-i", str(identity),
                      *extra, "--exec", "echo certified", f"{user}@127.0.0.1", timeout=60)


# -- the sshviz client against sshd ------------------------------------------------------------


@pytest.mark.parametrize("host_key", ["ed25519", "ecdsa256", "rsa"])
def test_client_accepts_a_host_certificate_from_sshd(tmp_path, host_key):
    require(SSH_KEYGEN)
    ca = make_ca(tmp_path, kind="ecdsa" if host_key == "rsa" else "ed25519")
    cert = certify(ca, shared_keys() / f"host_{host_key}", tmp_path, "host", "127.0.0.1,localhost", host=True)
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority 127.0.0.1,[127.0.0.1]:* {Path(str(ca) + '.pub').read_text()}")
    with sshd([f"HostCertificate {cert}"], host_keys=(host_key,)) as server:
        done = connect_cli(server.port, known, shared_keys() / "user_ed25519", "root", "--print")
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert done.stdout == b"certified\n"
    assert "-cert-v01@openssh.com" in err and "'host id'" in err  # the certificate was what it checked
    assert "valid_principals" in err and "signature_key" in err  # and every field was shown


@pytest.mark.parametrize("validity, principals, kind, expected", [
    ("20200101:20200102", "127.0.0.1", "host", "expired"),
    ("+1d:+2d", "127.0.0.1", "host", "not valid yet"),
    ("-5m:+1h", "other.example", "host", "not among its principals"),
    ("-5m:+1h", "127.0.0.1", "user", "user certificate, presented as a host certificate"),
])
def test_client_refuses_a_bad_host_certificate(tmp_path, validity, principals, kind, expected):
    require(SSH_KEYGEN)
    ca = make_ca(tmp_path)
    cert = certify(ca, shared_keys() / "host_ed25519", tmp_path, "host", principals, validity,
                   host=kind == "host")
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority * {Path(str(ca) + '.pub').read_text()}")
    with sshd([f"HostCertificate {cert}"], host_keys=("ed25519",)) as server:
        # sshd presents a user certificate as a host certificate only if told to; ssh-keygen
        # made one with the host key, so sshd's HostCertificate takes it.
        done = connect_cli(server.port, known, shared_keys() / "user_ed25519", "root", "--accept-new")
    err = done.stderr.decode()
    assert done.returncode != 0 and done.stdout == b""
    assert "certificate refused" in err and expected in err, err
    assert "HOST_KEY_NOT_VERIFIABLE" in err or "not verif" in err.lower() or "refused" in err
    assert known.read_text().count("\n") == 1  # --accept-new learned nothing


def test_client_refuses_a_revoked_ca(tmp_path):
    require(SSH_KEYGEN)
    ca = make_ca(tmp_path)
    cert = certify(ca, shared_keys() / "host_ed25519", tmp_path, "host", "127.0.0.1", host=True)
    ca_line = Path(str(ca) + ".pub").read_text()
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority * {ca_line}@revoked * {ca_line}")
    with sshd([f"HostCertificate {cert}"], host_keys=("ed25519",)) as server:
        done = connect_cli(server.port, known, shared_keys() / "user_ed25519")
    err = done.stderr.decode()
    assert done.returncode != 0 and "REVOKED" in err, err


@pytest.mark.parametrize("user_key", ["ed25519", "ecdsa256", "rsa"])
def test_client_logs_in_with_a_user_certificate(tmp_path, user_key):
    require(SSH_KEYGEN)
    ca = make_ca(tmp_path, kind="rsa" if user_key == "ed25519" else "ed25519")
    certify(ca, shared_keys() / f"user_{user_key}", tmp_path, "me", "root,someone")
    with sshd([f"TrustedUserCAKeys {ca}.pub"], authorized=()) as server:
        known = server.known_hosts_file()
        done = connect_cli(server.port, known, tmp_path / "me", "root")
        log = server.log_text()
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"certified\n"
    assert "-CERT" in log and "ID me id" in log, log


def test_client_user_certificate_for_another_principal_is_refused_by_sshd(tmp_path):
    require(SSH_KEYGEN)
    ca = make_ca(tmp_path)
    certify(ca, shared_keys() / "user_ed25519", tmp_path, "me", "someone-else")
    with sshd([f"TrustedUserCAKeys {ca}.pub"], authorized=()) as server:
        done = connect_cli(server.port, server.known_hosts_file(), tmp_path / "me", "root")
    assert done.returncode != 0 and done.stdout == b""


# -- OpenSSH's ssh against sshviz serve --------------------------------------------------------


def test_openssh_trusts_sshviz_host_certificate(tmp_path):
    require(SSH, SSH_KEYGEN)
    ca = make_ca(tmp_path)
    cert = certify(ca, shared_keys() / "host_ed25519", tmp_path, "host", "127.0.0.1", host=True)
    known = tmp_path / "ca_known_hosts"
    known.write_text(f"@cert-authority * {Path(str(ca) + '.pub').read_text()}")
    with serving.serve(tmp_path, "--host-key", str(tmp_path / "host"), "--host-key",
                       str(shared_keys() / "host_rsa"), "--host-certificate", str(cert)) as served:
        args = ssh_command(served.port, serving.USER, tmp_path, "StrictHostKeyChecking=yes",
                           f"UserKnownHostsFile={known}", "-v",
                           identity=shared_keys() / "user_ed25519", command="echo hello")
        done = subprocess.run(args, capture_output=True, timeout=60, input=b"")
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert done.stdout == b"hello\n"
    assert "Server host certificate: ssh-ed25519-cert-v01@openssh.com" in err
    assert f"Host '[127.0.0.1]:{served.port}' is known and matches the ED25519-CERT host certificate" in err
    assert "Found CA key" in err


def test_openssh_refuses_sshviz_expired_host_certificate(tmp_path):
    require(SSH, SSH_KEYGEN)
    ca = make_ca(tmp_path)
    cert = certify(ca, shared_keys() / "host_ed25519", tmp_path, "host", "127.0.0.1", "20200101:20200102",
                   host=True)
    known = tmp_path / "ca_known_hosts"
    known.write_text(f"@cert-authority * {Path(str(ca) + '.pub').read_text()}")
    with serving.serve(tmp_path, "--host-key", str(tmp_path / "host"), "--host-certificate", str(cert)) as served:
        served.wait_for_line("expired", stream="stderr")  # serve warned at start
        args = ssh_command(served.port, serving.USER, tmp_path, "StrictHostKeyChecking=yes",
                           f"UserKnownHostsFile={known}", identity=shared_keys() / "user_ed25519",
                           command="echo hello")
        done = subprocess.run(args, capture_output=True, timeout=60, input=b"")
    assert done.returncode != 0 and done.stdout == b""


def _user_ca_serve(tmp_path: Path, ca: Path):
    return serving.serve(tmp_path, users=["--user", serving.USER, "--user-ca", f"{ca}.pub"])


def test_openssh_logs_in_to_sshviz_with_a_user_certificate(tmp_path):
    require(SSH, SSH_KEYGEN)
    ca = make_ca(tmp_path)
    certify(ca, shared_keys() / "user_ecdsa256", tmp_path, "me", f"{serving.USER},other")
    with _user_ca_serve(tmp_path, ca) as served:
        args = ssh_command(served.port, serving.USER, tmp_path, identity=tmp_path / "me", command="echo hello")
        done = subprocess.run(args, capture_output=True, timeout=60, input=b"")
        line = served.wait_for_line("publickey success")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"hello\n"
    assert "user certificate 'me id'" in line


@pytest.mark.parametrize("principals, options, expected", [
    ("other", (), "not among its principals"),
    (serving.USER, ("force-command=ls",), "force-command cannot be enforced"),
    (serving.USER, ("source-address=127.0.0.1/32",), "source-address cannot be enforced"),
])
def test_sshviz_refuses_user_certificates_it_must_not_accept(tmp_path, principals, options, expected):
    require(SSH, SSH_KEYGEN)
    ca = make_ca(tmp_path)
    certify(ca, shared_keys() / "user_ed25519", tmp_path, "me", principals, options=options)
    with _user_ca_serve(tmp_path, ca) as served:
        args = ssh_command(served.port, serving.USER, tmp_path, "BatchMode=yes", identity=tmp_path / "me",
                           command="echo hello")
        done = subprocess.run(args, capture_output=True, timeout=60, input=b"")
        line = served.wait_for_line("publickey failure .certificate 'me id' refused")
    assert done.returncode != 0 and done.stdout == b""
    assert expected in line, line
