"""`itsm export` and `itsm import` end to end on SQLite (the engines are covered at the service
layer in test_transfer.py): stdout and --output, exit codes 2 and 4, every problem on stderr
with its line and nothing written, a mapping file's dry run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from itsm_tui.clock import FixedClock
from tests.cli_helpers import Cli, built_desk, fresh_cli, nothing_written
from tests.test_transfer import readme_csv_example

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def transfer_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI test desk plus two incidents (one with a note, one cancelled), built once."""
    return built_desk(
        tmp_path_factory,
        "transfer",
        ["incident", "new", "--title", "Mail down", "--impact", "1", "--urgency", "2",
         "--group", "Service Desk", "--assignee", "alice"],
        ["incident", "note", "INC0000001", "--text", "rebooted mail-01"],
        ["incident", "new", "--title", "VPN slow", "--impact", "3", "--urgency", "3"],
        ["incident", "update", "INC0000002", "--state", "cancelled"],
    )  # fmt: skip


@pytest.fixture
def cli(
    transfer_desk: Path, sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> Cli:
    return fresh_cli(transfer_desk, sqlite_url, clock, capsys)


def test_export_to_stdout_and_file_then_import_into_an_empty_desk(
    cli: Cli, tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = cli.ok("export").out
    assert json.loads(exported)["incidents"][0]["journal"][0]["body"] == "rebooted mail-01"
    target = tmp_path / "desk.json"
    # Viewers may export (their export leaves users' SSH keys out, so it is not byte-equal).
    viewer = cli.json("export", "--output", str(tmp_path / "viewer.json"), user="vic")
    assert viewer["counts"]["incidents"] == 2
    summary = cli.json("export", "--output", str(target))
    assert summary["counts"]["incidents"] == 2
    assert target.read_text(encoding="utf-8") == exported
    csv_path = tmp_path / "incidents.csv"
    cli.ok("export", "--what", "incident", "--format", "csv", "-o", str(csv_path))
    assert csv_path.read_text(encoding="utf-8").startswith("number,title,description,")

    fresh = Cli(f"sqlite:///{tmp_path / 'fresh.sqlite'}", clock, capsys)
    fresh.ok("init")
    dry = fresh.json("import", str(target), "--dry-run")
    assert dry["dry_run"] and dry["counts"]["incidents"]["created"] == 2
    assert fresh.json("incident", "list") == []
    report = fresh.ok("import", str(target)).out
    assert "incidents: 2 created, 0 updated, 0 unchanged" in report
    assert fresh.ok("export").out == exported
    again = fresh.json("import", str(target))
    assert again["counts"]["incidents"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert (
        fresh.json("incident", "new", "--title", "x", "--impact", "2", "--urgency", "2")["number"]
        == "INC0000003"
    )


def test_refusals_exit_2_or_4_list_every_problem_and_write_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    err = cli.run("export", "--format", "csv", "--what", "incidents,changes")
    assert err.code == 2 and "one kind per file" in err.err
    assert cli.run("export", "--what", "tickets").code == 2
    assert cli.run("export", "-o", str(tmp_path / "no" / "desk.json")).code == 2

    document = json.loads(cli.ok("export", "--what", "incidents").out)
    document["incidents"][1]["urgency"] = 7
    document["incidents"][1]["assignee"] = "zed"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    with nothing_written(cli.url):
        result = cli.run("import", str(path))
    assert result.code == 2 and result.out == ""
    lines = result.err.splitlines()
    assert lines[0] == f"itsm: error: {path}: 2 problems, nothing was written"
    # The second incident's object opens on this line of the file.
    starts = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text == "    {"]
    start = starts[1]
    assert lines[1].startswith(f"  {path}:{start}: incidents[1] INC0000002: urgency: ")
    assert "unknown user 'zed'" in lines[2]

    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"name,description,criticality\nWeb,ok,high\nMail,caf\xe9,low\n")
    with nothing_written(cli.url):
        result = cli.run("import", str(broken))
    assert result.code == 2 and f"{broken}:3: the file is not valid UTF-8" in result.err

    with nothing_written(cli.url):
        denied = cli.run("import", str(path), user="sue")
    assert denied.code == 4 and "admin" in denied.err
    assert cli.run("import", str(tmp_path / "missing.json")).code == 2


def test_a_mapping_reads_another_tools_csv(cli: Cli) -> None:
    csv_path = ROOT / "tests" / "data" / "servicenow_incidents.csv"
    mapping = ROOT / "assets" / "mappings" / "servicenow_incidents.toml"
    with nothing_written(cli.url):
        dry = cli.json("import", str(csv_path), "--mapping", str(mapping), "--dry-run")
    assert dry["counts"] == {"incidents": {"created": 3, "updated": 0, "unchanged": 0}}
    cli.ok("import", str(csv_path), "--mapping", str(mapping))
    shown = cli.show("INC0010002")
    assert (shown["state"], shown["priority"], shown["assignee"]) == ("resolved", 2, "bob")
    assert shown["opened_at"] == "2026-07-01T07:15:00Z"


def test_the_readmes_minimal_csv_imports_as_incidents_and_kind_chooses_a_tie(
    cli: Cli, tmp_path: Path
) -> None:
    minimal = tmp_path / "minimal.csv"
    minimal.write_text(readme_csv_example(), encoding="utf-8")
    report = cli.json("import", str(minimal))
    assert list(report["counts"]) == ["incidents"]
    assert report["counts"]["incidents"]["created"] >= 1

    tied = tmp_path / "tied.csv"
    tied.write_text("name,description\nPayroll,Monthly pay runs\n", encoding="utf-8")
    with nothing_written(cli.url):
        result = cli.run("import", str(tied))
    assert result.code == 2
    assert "fits several kinds (groups, services); say which with --kind" in result.err
    report = cli.json("import", str(tied), "--kind", "services")
    assert report["counts"] == {"services": {"created": 1, "updated": 0, "unchanged": 0}}
    assert "invalid choice" in cli.usage_error("import", str(tied), "--kind", "tickets")
    export = tmp_path / "desk.json"
    cli.ok("export", "--what", "services", "-o", str(export))
    with nothing_written(cli.url):
        result = cli.run("import", str(export), "--kind", "services")
    assert result.code == 2 and "--kind applies to CSV files only" in result.err


# Runs `itsm` in a grandchild and reports its exit code and peak RSS (KiB). Not measured on
# the direct child: ru_maxrss survives exec, and a child forked (or vforked) from a pytest worker
# starts with the worker's high-water mark (300 MB late in a run). A process forked from this
# small interpreter starts with a fresh one.
_MEASURE = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.executable, [sys.executable, "-m", "itsm_tui", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _run_measured(argv: list[str], err: Path) -> tuple[int, int]:
    """`itsm argv...` capped at 2 GB of address space and 120 s of CPU (so an unbounded read
    fails fast instead of eating the machine): its exit code and its own peak resident memory
    in MB."""
    with err.open("wb") as sink:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=sink,
            check=True,
            timeout=300,
        )
    code, peak_kib = (int(part) for part in done.stdout.split())
    return code, peak_kib // 1024


def test_an_endless_or_oversized_file_is_refused_with_exit_2_in_bounded_memory(
    cli: Cli, tmp_path: Path
) -> None:
    """/dev/zero (and a FIFO) have no size: the read stops at the limit, not at the end."""
    err = tmp_path / "err.txt"
    with nothing_written(cli.url):
        code, peak_mb = _run_measured(
            ["--db", cli.url, "--user", "root", "import", "/dev/zero", "--max-size", "1"], err
        )
    text = err.read_text()
    assert code == 2, text[-2000:]
    assert "/dev/zero is larger than 1 MB" in text and "--max-size" in text, text
    assert "Traceback" not in text
    assert peak_mb < 250, peak_mb  # an import command alone is about 100 MB

    big = tmp_path / "big.csv"
    row = "INC0000901,Printer on floor 2 jams,3,3,2026-03-02T09:00:00Z\n"
    big.write_text("number,title,impact,urgency,opened_at\n" + row * 20_000, encoding="utf-8")
    assert big.stat().st_size > 1 << 20
    with nothing_written(cli.url):
        result = cli.run("import", str(big), "--max-size", "1")
    assert result.code == 2 and f"{big} is larger than 1 MB" in result.err
    assert cli.run("import", str(big), "--max-size", "0").code == 2


def test_a_file_nested_too_deeply_is_bad_input_not_a_traceback(cli: Cli, tmp_path: Path) -> None:
    """Python's JSON and TOML parsers recurse per level: brackets alone, far inside the size
    limit, ended in a RecursionError traceback (exit 1)."""
    deep = "[" * 100_000 + "]" * 100_000
    export = tmp_path / "deep.json"
    export.write_text(f'{{"format": "itsm-tui-export", "version": 1, "users": {deep}}}')
    cell = tmp_path / "deep.csv"
    cell.write_text(f'username,role,groups\nalice,agent,"{"[" * 60_000 + "]" * 60_000}"\n')
    mapping = tmp_path / "deep.toml"
    mapping.write_text(f"kind = {'[' * 5_000 + ']' * 5_000}\n")
    plain = tmp_path / "users.csv"
    plain.write_text("username,role\nalice,agent\n")
    with nothing_written(cli.url):
        for argv in (
            [str(export)],
            [str(cell), "--kind", "users"],
            [str(plain), "--mapping", str(mapping)],
        ):
            result = cli.run("import", *argv)
            assert result.code == 2 and "nested too deeply" in result.err, result
