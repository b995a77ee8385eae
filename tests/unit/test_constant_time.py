"""No early-exit comparison of a secret remains: every signature, secret or token is
compared with ``hmac.compare_digest``, whose time does not depend on how much matched.

The scan reads every module of ``app/`` and fails on a ``==``/``!=``/``in`` comparison
whose operands name a signature, digest, MAC, secret or token (``startswith`` and slicing
of a signature are early-exit too). What it allows: comparisons with a constant (an empty
or ``None`` check) and lengths.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import app as package

SECRETISH = re.compile(
    r"(^|_)(sigs?|signatures?|digests?|macs?|hmac|secrets?|tokens?|expected)($|_)", re.IGNORECASE
)
APP = Path(package.__file__).parent
VERIFIERS = {"schemes.py", "signing.py", "web/auth.py", "web/routing.py"}


def _secretish(node: ast.AST) -> bool:
    """Whether an identifier in ``node`` names a signature, secret or token."""
    return any(
        SECRETISH.search(n.id if isinstance(n, ast.Name) else n.attr)
        for n in ast.walk(node)
        if isinstance(n, ast.Name | ast.Attribute)
    )


def _harmless(node: ast.AST) -> bool:
    """A constant, or a len()/type check: what a comparison with a secret may be against."""
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"len", "type", "isinstance"}
    )


def _early_exits(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(_harmless(o) for o in operands):
            continue
        if all(_secretish(o) for o in operands):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_secret_is_compared_with_an_early_exit_operator() -> None:
    found = [line for path in sorted(APP.rglob("*.py")) for line in _early_exits(path)]
    assert found == []


def test_every_verifier_uses_compare_digest() -> None:
    for name in sorted(VERIFIERS):
        source = (APP / name).read_text()
        assert "hmac.compare_digest(" in source, name


def test_the_scan_finds_an_early_exit_comparison(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def ok(sig, expected):\n    return sig == expected or sig != ''\n")
    assert _early_exits(bad) == ["bad.py:2: sig == expected"]  # not the check for ''
