"""PNG plots of a run: latency percentiles vs rate, throughput over time, webhook levels."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _measured(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    sc: dict[str, Any] | None = results.get("scenarios", {}).get(name)
    return sc if sc and sc.get("status") == "measured" else None


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """The plots that the results allow; [] if matplotlib is not installed."""
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        log.warning("matplotlib is not installed: no plots")
        return []
    written: list[Path] = []
    title = f"{results['meta']['mode']} run, {results['meta']['date']}"

    e2e = _measured(results, "e2e")
    if e2e:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        rates = [r["rate"] for r in e2e["rates"]]
        for pct, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-"), ("max", "x:")):
            ys = [r["received_to_fill_ms"].get(pct) for r in e2e["rates"]]
            ax.plot(rates, ys, style, label=f"received→fill {pct}")
        ys = [r["intended_to_fill_ms"].get("p99") for r in e2e["rates"]]
        ax.plot(rates, ys, "^--", color="grey", label="intended send→fill p99")
        ax.axhline(8, color="green", lw=0.8, ls="--", label="target p50 8 ms (1,000/s)")
        ax.axhline(25, color="red", lw=0.8, ls="--", label="target p99 25 ms (1,000/s)")
        ax.set_yscale("log")
        ax.set_xlabel("offered rate (signals/s, open loop)")
        ax.set_ylabel("latency (ms, log)")
        ax.set_title(f"End-to-end latency vs rate — {title}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        written.append(_save(fig, out / "latency_vs_rate.png", plt))

    chain = _measured(results, "chain")
    if e2e or chain:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        if e2e:
            for r in e2e["rates"]:
                (line,) = axes[0].plot(r["fills_per_s"], label=f"{r['rate']}/s offered")
                axes[0].axhline(r["rate"], color=line.get_color(), lw=0.6, ls=":")
            axes[0].set_title("E2E: fills/s over time", fontsize=9)
            axes[0].set_xlabel("seconds since the first request")
            axes[0].set_ylabel("fills per second")
            axes[0].legend(fontsize=7)
        if chain:
            lines = (
                ("at_stream", "at-stream worker"),
                ("two_workers", "at-stream, 2 workers"),
                ("baseline", "raw aiokafka"),
            )
            for key, label in lines:
                if (chain.get(key) or {}).get("fills_per_s"):
                    axes[1].plot(chain[key]["fills_per_s"], label=label)
            axes[1].set_title(
                f"Chain catch-up of {chain['at_stream']['records']:,} signals", fontsize=9
            )
            axes[1].set_xlabel("seconds since the consumer's launch")
            axes[1].set_ylabel("fills per second (symlog)")
            axes[1].set_yscale("symlog", linthresh=100)
            axes[1].legend(fontsize=7)
        for ax in axes:
            ax.grid(True, alpha=0.3)
        fig.suptitle(f"Throughput over time — {title}", fontsize=10)
        written.append(_save(fig, out / "throughput_over_time.png", plt))

    hook = _measured(results, "webhook")
    if hook:
        fig, ax = plt.subplots(figsize=(6, 4))
        levels = hook["levels"]
        xs = range(len(levels))
        ax.bar(
            [x - 0.2 for x in xs],
            [lv["at_stream"]["accepted_per_s"] for lv in levels],
            0.4,
            label="at-stream worker",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [lv["baseline"]["accepted_per_s"] for lv in levels],
            0.4,
            label="bare aiohttp handler",
        )
        ax.set_xticks(list(xs), [f"c={lv['concurrency']}" for lv in levels])
        ax.set_ylabel("accepted requests/s")
        ax.set_title(f"Webhook closed loop — {title}", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
        written.append(_save(fig, out / "webhook_throughput.png", plt))
    return written


def _save(fig: Any, path: Path, plt: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
