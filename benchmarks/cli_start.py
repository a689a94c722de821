"""Start-up time of `itsm` commands, against `python -c pass` in the same run.

Scripts and monitoring hooks call `itsm` in loops, so what one call costs matters more than
what the desk does once it runs. Targets (issue 15): `itsm --help` and `itsm --version` at most
0.15 s, `itsm --json incident list --limit 50` on the 300-incident demo at most 0.4 s.

What it does and why:
- Builds the demo once (`itsm --db sqlite:///X demo --no-launch` in a temporary directory), or
  reuses the SQLite file given with `--demo`; the list runs as `alex`, a demo agent.
- Runs every command with the user's config and data directories pointed at an empty temporary
  directory and the ITSM_* variables removed, so nothing of the machine's desk is read.
- Runs each command once to warm the disk cache and the bytecode cache (PYTHONDONTWRITEBYTECODE
  is dropped: an installed package has its bytecode), then `--repeat` times,
  the commands interleaved round-robin so a burst of load on a shared machine hits them alike.
- Also times `python -c "import itsm_tui.store.models"`: SQLAlchemy, SQLModel, pydantic and the
  mapped tables, which every command that opens a database needs: the floor under the list.
- Prints, per command, the wall time (what a script waits) and the CPU time (user + system, of
  the child process: what a loop of calls costs the machine) as median and minimum, and the
  median wall time as a multiple of `python -c pass` from the same run. The machine's load
  average is printed too: on a busy machine wall times grow, the ratios much less.
- With `--compare DIR` (another checkout, e.g. the main branch before a change), the same
  commands run from that checkout's source as well (PYTHONPATH, its bytecode cached under a
  temporary directory so nothing is written into it): before and after in one run.

    python benchmarks/cli_start.py [--repeat N] [--demo PATH] [--compare DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

USER = "alex"  # a demo agent
TARGETS = {"--help": 0.15, "--version": 0.15, "incident list": 0.4}
# What the console script `itsm` runs; used for a `--compare` checkout, which has no script.
SCRIPT = "import sys; from itsm_tui.cli import main; sys.argv[0] = 'itsm'; sys.exit(main())"
MODELS = "import itsm_tui.store.models"


@dataclass
class Case:
    label: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path  # not a checkout: `python -c` puts the working directory first on sys.path
    target: float | None = None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    exit_code: int = 0

    def run(self) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.exit_code = done.returncode
        if done.returncode not in (0, 2):  # 2: a flag an older checkout does not know
            raise SystemExit(f"{self.label}: exit {done.returncode}\n{done.stderr.decode()}")
        self.walls.append(wall)
        self.cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def itsm_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m itsm_tui`."""
    script = Path(sys.executable).with_name("itsm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "itsm_tui"]


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITSM_")}
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    env.pop("PYTHONPATH", None)
    # An installed itsm-tui has its bytecode compiled (pip does it at install); without it
    # every call would compile the package's source again (about 1 s of CPU here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def build_demo(path: Path, env: dict[str, str], incidents: int) -> None:
    print(f"Building the demo ({incidents} incidents) in {path} ...", flush=True)
    subprocess.run(
        [
            *itsm_command(),
            "--db",
            f"sqlite:///{path}",
            "demo",
            "--no-launch",
            "--incidents",
            str(incidents),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=path.parent,
    )


def cases(itsm: list[str], env: dict[str, str], home: Path, db: Path, prefix: str) -> list[Case]:
    listing = ["--db", f"sqlite:///{db}", "--user", USER, "--json", "incident", "list"]
    return [
        Case(f"{prefix}itsm --help", [*itsm, "--help"], env, home, TARGETS["--help"]),
        Case(f"{prefix}itsm --version", [*itsm, "--version"], env, home, TARGETS["--version"]),
        Case(
            f"{prefix}itsm --json incident list --limit 50",
            [*itsm, *listing, "--limit", "50"],
            env,
            home,
            TARGETS["incident list"],
        ),
    ]


def report(all_cases: list[Case], base: Case) -> None:
    """A table, then (as every benchmark here) one JSON object of the figures as last line."""
    base_wall = statistics.median(base.walls)
    figures: dict[str, object] = {}
    width = max(len(c.label) for c in all_cases)
    print()
    print(
        f"{'command':<{width}}  {'wall med':>8}  {'wall min':>8}  {'cpu med':>7}  {'cpu min':>7}"
        f"  {'x pass':>6}  target"
    )
    for case in all_cases:
        wall = statistics.median(case.walls)
        verdict = ""
        if case.exit_code:
            verdict = f"(exit {case.exit_code}: not supported there)"
        elif case.target is not None:
            verdict = f"<= {case.target:.2f} s: {'met' if wall <= case.target else 'MISSED'}"
        print(
            f"{case.label:<{width}}  {wall:8.3f}  {min(case.walls):8.3f}"
            f"  {statistics.median(case.cpus):7.3f}  {min(case.cpus):7.3f}"
            f"  {wall / base_wall:6.1f}  {verdict}"
        )
        figures[case.label] = {
            "wall_median_s": round(wall, 3),
            "wall_min_s": round(min(case.walls), 3),
            "cpu_median_s": round(statistics.median(case.cpus), 3),
            "cpu_min_s": round(min(case.cpus), 3),
            "times_python_pass": round(wall / base_wall, 1),
            "exit_code": case.exit_code,
        }
    load = os.getloadavg()[0]
    print(f"\nSeconds; {len(base.walls)} runs each; load average {load:.2f}.")
    print(json.dumps({"runs": len(base.walls), "load_average": round(load, 2), **figures}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per command (default 15)")
    parser.add_argument("--demo", type=Path, help="reuse this demo SQLite file")
    parser.add_argument("--incidents", type=int, default=300, help="demo size (default 300)")
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="itsm-start-") as tmp:
        home = Path(tmp)
        env = clean_env(home)
        db = args.demo
        if db is None:
            db = home / "demo.sqlite"
            build_demo(db, env, args.incidents)
        elif not db.is_file():
            raise SystemExit(f"no demo database at {db}")
        print(f"Load average {os.getloadavg()[0]:.2f} at the start.", flush=True)

        base = Case("python -c pass", [sys.executable, "-c", "pass"], env, home)
        # What any command that opens a database pays before doing anything: SQLAlchemy,
        # SQLModel, pydantic and the 25 mapped tables. The list's figure cannot go below it.
        floor = Case(
            "python -c 'import itsm_tui.store.models'", [sys.executable, "-c", MODELS], env, home
        )
        all_cases = [base, floor, *cases(itsm_command(), env, home, db, "")]
        if args.compare is not None:
            before_env = {
                **env,
                "PYTHONPATH": str(args.compare.resolve()),
                "PYTHONPYCACHEPREFIX": str(home / "pycache"),
            }
            before = [sys.executable, "-c", SCRIPT]
            all_cases += cases(before, before_env, home, db, f"[{args.compare.name}] ")
        for case in all_cases:  # warm the disk and bytecode caches
            case.run()
            case.walls.clear()
            case.cpus.clear()
        for _ in range(args.repeat):
            for case in all_cases:
                case.run()
        report(all_cases, base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
