"""The demo ends with the command that audits its run: beside an `up` of another state directory
than the default one, that command names the directory, and it works as printed."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from ledger.demo import audit_hint, run_demo
from ledger.kit.config import STATE_DIR
from ledger.uprecord import UpRecord, now_iso, record_path
from tests.conftest import Instance
from tests.support import Chain

pytestmark = pytest.mark.chain


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_printed_audit_command_finds_the_runs_state_directory(
    instance: Instance, chain: Chain, tmp_path: Path
) -> None:
    # The instance, recorded as the `up` of a state directory that is not the default one, as
    # `label-ledger up --state-dir DIR` records itself.
    state = tmp_path / "elsewhere state"
    state.mkdir()
    UpRecord(
        api_url=instance.url,
        rpc_url=chain.client.rpc_url,
        pid=os.getpid(),
        chain_pid=None,
        deployment_file=str(tmp_path / "deployment.json"),
        publish_dir=str(instance.runtime.settings.publish_dir),
        started_at=now_iso(),
    ).write(record_path(state))

    output = io.StringIO()
    report = run_demo(
        api_url=instance.url,
        rpc_url=None,
        operator_key=None,
        items=40,
        annotators=3,
        console=Console(file=output, width=300),
        state_dir=state,
    )
    printed = " ".join(output.getvalue().split())
    assert report.balances_agree, printed

    found = re.search(r"from the chain alone \(no database\): (.+?) beside the `up`", printed)
    assert found, printed
    command = shlex.split(found.group(1))
    assert command[1:] == ["audit", "--state-dir", str(state)], command

    # run as printed, from where the demo ran, with no setting naming a chain: it audits this run
    audited = subprocess.run(
        [*command, "--json"],
        env={k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert audited.stderr.splitlines()[0] == (
        f"using the label-ledger up at {instance.url} (from {record_path(state)})"
    )
    verdict = json.loads(audited.stdout)
    assert verdict["ok"] is True
    assert {c["name"]: c["status"] for c in verdict["checks"]}.get("claims") == "pass"


def test_beside_the_default_state_directory_the_command_needs_no_flag() -> None:
    hint = audit_hint(
        "label-ledger", state_dir=STATE_DIR, rpc_url="http://x:1", api_url="http://y:2"
    )
    assert "[bold]label-ledger audit[/] beside the `up`" in hint
    # given --api, the demo knows no state directory: only the command that names everything
    alone = audit_hint("label-ledger", state_dir=None, rpc_url="http://x:1", api_url="http://y:2")
    assert "beside" not in alone
    assert (
        "label-ledger audit --rpc http://x:1 --deployment FILE --epochs http://y:2/v1/published"
        in alone
    )
