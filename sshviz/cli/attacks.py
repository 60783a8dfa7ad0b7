"""``sshviz attacks``: the attack lab's attacks, one line each, with their settings."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("attacks", help="list the attacks of the attack lab",
                            description="List the classic attacks on SSH that sshviz runs in memory "
                                        "against its own client and server (`sshviz run --attack "
                                        "NAME --print`, `sshviz demo --attack NAME`), each with its "
                                        "settings.")
    parser.set_defaults(func=list_attacks)


def list_attacks(args) -> int:
    from ..attacks import ATTACKS

    width = max(len(name) for name in ATTACKS)
    for name, attack in ATTACKS.items():
        print(f"{name:<{width}}  {attack.title}")
        for setting in attack.settings:
            print(f"{'':<{width}}    --{setting.name.replace('_', '-')} {'|'.join(setting.choices) or 'N'}"
                  f" (default {setting.default}): {setting.help}")
    return 0
