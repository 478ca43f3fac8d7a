"""`./scripts/setup` refuses a Node.js older than the pinned Anvil package needs (20), before
installing anything, and says what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_setup_refuses_node_18_and_says_what_to_do(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    # a Node.js 18 as it answers the two questions setup asks it, and an npm that must not run
    (tools / "node").write_text(
        '#!/bin/sh\ncase "$1" in\n  --version) echo v18.19.1 ;;\n  -p) echo 18 ;;\nesac\n'
    )
    (tools / "npm").write_text("#!/bin/sh\necho npm ran >&2\nexit 3\n")
    for tool in tools.iterdir():
        tool.chmod(0o755)
    result = subprocess.run(
        [str(REPO / "scripts" / "setup")],
        env={"PATH": f"{tools}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"label-ledger needs Node.js 20 or newer; {tools / 'node'} is v18.19.1." in result.stderr
    assert "Install Node.js 20+" in result.stderr
    assert "npm ran" not in result.stderr
    assert result.stdout == ""  # it stopped before installing anything
