"""The sample traces in ``traces/``: what each one shows and how to make it again.

    python -m sshviz.samples             regenerate the in-process samples from their seeds
    scripts/record-live-samples          record the sessions with real OpenSSH peers again
                                         (needs ssh and sshd; not reproducible byte for byte)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .scenario import Scenario, make_conductor
from .trace.samples import SUFFIX


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    scenario: dict = field(default_factory=dict)  # Scenario options, for in-process samples
    wrong_password_only: bool = False  # the client knows only a wrong password
    live: str = ""  # "openssh-server" | "openssh-client": recorded against real OpenSSH
    needs: str = ""  # a Scenario field this sample needs (a layer not yet built otherwise)

    @property
    def in_process(self) -> bool:
        return not self.live


SAMPLES = [
    Sample("curve25519-ed25519-password-exec",
           "curve25519-sha256, an ssh-ed25519 host key, password authentication, then exec",
           dict(kex="curve25519-sha256", hostkey="ssh-ed25519", auth="password", seed=11,
                command="echo Hello, SSH!")),
    Sample("publickey-sftp", "publickey authentication, then an SFTP session (put, ls, get)",
           dict(auth="publickey", command=None, seed=12,
                sftp_actions=["put hello.txt", "ls", "get readme.txt"]),
           needs="sftp_actions"),
    Sample("diffie-hellman-group-exchange",
           "diffie-hellman-group-exchange-sha256 (RFC 4419), ECDSA host key, AES-CTR with HMAC",
           dict(kex="diffie-hellman-group-exchange-sha256", hostkey="ecdsa-sha2-nistp256",
                cipher="aes128-ctr", mac="hmac-sha2-256", seed=13)),
    Sample("failed-login", "a wrong password, refused; the client gives up and disconnects",
           dict(auth="password", seed=14, command=None), wrong_password_only=True),
    Sample("rekey", "a second key exchange in the middle of the session (same session id, new keys)",
           dict(rekey=True, cipher="aes256-gcm@openssh.com", seed=15)),
    Sample("openssh-sshd", "the sshviz client against OpenSSH's sshd (recorded with connect --trace)",
           live="openssh-server"),
    Sample("openssh-ssh", "OpenSSH's ssh client against the sshviz server (recorded with serve --trace)",
           live="openssh-client"),
]


def available(sample: Sample) -> bool:
    """Whether this build can make the sample (SFTP arrives with its own layer)."""
    return not sample.needs or sample.needs in {f.name for f in dataclasses.fields(Scenario)}


def generate(sample: Sample):
    """Run an in-process sample from its seed; returns the Trace."""
    conductor = make_conductor(Scenario(**sample.scenario))
    if sample.wrong_password_only:
        conductor.client.auth.config.passwords[:] = ["wrong password"]
    conductor.run()
    conductor.trace.fill_header()
    conductor.trace.header.extra["sample"] = {"name": sample.name, "description": sample.description}
    return conductor.trace


def main(argv: list[str] | None = None) -> int:
    from .trace.fileformat import save_trace

    parser = argparse.ArgumentParser(prog="python -m sshviz.samples",
                                     description="Regenerate the sample traces in traces/.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "traces",
                        help="directory to write to (default: the checkout's traces/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for sample in SAMPLES:
        path = args.out / (sample.name + SUFFIX)
        if sample.live:
            continue  # scripts/record-live-samples
        if not available(sample):
            print(f"skipped {sample.name}: needs Scenario.{sample.needs} (the SFTP layer)", file=sys.stderr)
            continue
        trace = generate(sample)
        save_trace(trace, path)
        print(f"wrote {path} ({len(trace.events)} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
