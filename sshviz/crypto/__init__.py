"""Thin wrappers over `cryptography`, each algorithm in a registry under its SSH name."""
