"""``python -m bench [--quick | --smoke] [--out DIR]``: run every scenario, write the report.

Full mode writes ``docs/bench/results.json``, the plots under ``docs/bench/`` and
``docs/BENCHMARKS.md``; ``--quick`` and ``--smoke`` write all of it into
``var/bench/<mode>/`` unless ``--out`` says where. Exit status 1 if a scenario failed
(a missed target is not a failure: it is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import sys
from pathlib import Path

from bench import plots, profiling, report, targets
from bench.modes import FULL, MODES
from bench.progress import Progress
from bench.runner import SCENARIOS, Options, run
from bench.stack import ROOT

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller run, under 3 minutes")
    size.add_argument("--smoke", action="store_true", help="tiny run checking the harness")
    p.add_argument("--out", type=Path, help="directory for results.json, plots, BENCHMARKS.md")
    p.add_argument("--markdown", type=Path, help="where BENCHMARKS.md goes (default by mode)")
    p.add_argument("--bootstrap", help="use this Kafka instead of starting one (no cold start)")
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--profile", action="store_true", default=None, help="py-spy the worker")
    prof.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--render", action="store_true", help="no run: rewrite the report from OUT/results.json"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries on fresh topics are normal
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.out is not None:
        out: Path = args.out
        md: Path = args.markdown or out / "BENCHMARKS.md"
    elif mode is FULL:
        out, md = ROOT / "docs" / "bench", args.markdown or ROOT / "docs" / "BENCHMARKS.md"
    else:
        out = ROOT / "var" / "bench" / mode.name
        md = args.markdown or out / "BENCHMARKS.md"
    only = frozenset(s.strip() for s in args.only.split(",")) if args.only else frozenset(SCENARIOS)
    unknown = only - set(SCENARIOS)
    if unknown:
        parser().error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if "replay" in only and "chain" not in only:
        parser().error("replay runs on the chain's worker once it has caught up: add chain")
    opts = Options(
        mode=mode,
        bootstrap=args.bootstrap,
        only=only,
        profile=mode.profile_seconds > 0 if args.profile is None else args.profile,
        keep=args.keep,
        command=shlex.join(["python", "-m", "bench", *argv]),
        out=out,
    )
    progress = Progress(quiet=args.quiet)
    json_path = out / "results.json"
    if args.render:  # no run: the report again from a run's results (and kept stacks)
        results = json.loads(json_path.read_text())
        profiling.resummarise(results.get("profile") or {}, out)
    else:
        results = asyncio.run(run(opts, progress))
    results["targets"] = targets.evaluate(results)
    results["meta"]["json"] = _rel(json_path)
    report.write_json(results, json_path)
    written = plots.write(results, out)
    report.write_markdown(results, md, written)
    for t in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        progress("target", f"{t['target']}: {t['value']} {t['unit']} -> {verdict}")
    progress("report", f"wrote {_rel(json_path)}, {_rel(md)} and {len(written)} plot(s)")
    failed = [n for n, s in results.get("scenarios", {}).items() if s.get("status") == "failed"]
    if failed:
        progress("report", f"FAILED scenarios: {', '.join(failed)}")
    return 1 if failed or "scenarios" not in results else 0


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
