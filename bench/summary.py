"""The tables of BENCHMARKS.md: the summary rows and the per-scenario details."""

from __future__ import annotations

from typing import Any

REPLAY_TIMES = ("reset_s", "ready_s", "positions_equal_s", "caught_up_s")


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def times(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}x"


def pcts(s: dict[str, Any], keys: tuple[str, ...] = ("p50", "p95", "p99", "max")) -> str:
    return " / ".join(num(s.get(k), 1) for k in keys) if s.get("n") else "—"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(scenario, figure, value, baseline, ratio) for the summary table."""
    sc = results["scenarios"]
    out: list[tuple[str, str, str, str, str]] = []

    def status_row(name: str, label: str) -> bool:
        s = sc.get(name, {})
        if s.get("status") == "measured":
            return False
        why = s.get("reason") or s.get("error") or "missing"
        out.append((label, f"{s.get('status', 'not measured')}: {why}", "", "", ""))
        return True

    if not status_row("webhook", "1. Webhook throughput"):
        for lv in sc["webhook"]["levels"]:
            a, b, c = lv["at_stream"], lv["baseline"], lv["concurrency"]
            out.append(
                (
                    f"1. Webhook, closed loop c={c}",
                    "accepted req/s",
                    num(a["accepted_per_s"], 0),
                    num(b["accepted_per_s"], 0),
                    times(lv["ratio"]),
                )
            )
            out.append(
                (
                    f"1. Webhook, closed loop c={c}",
                    "p50 / p99 ms",
                    pcts(a["latency_ms"], ("p50", "p99")),
                    pcts(b["latency_ms"], ("p50", "p99")),
                    "",
                )
            )
        best = sc["webhook"]["best"]
        out.append(
            (
                "1. Webhook, best level",
                f"req/s (c={best['concurrency']})",
                num(best["accepted_per_s"], 0),
                num(best["baseline_per_s"], 0),
                times(best["ratio"]),
            )
        )
        ack = sc["webhook"].get("broker_ack_ms", {})
        out.append(
            (
                "1. (context) one produce, acks=all, c=1",
                "broker ack round trip p50 / p99 ms",
                pcts(ack, ("p50", "p99")),
                "",
                "",
            )
        )
    if not status_row("e2e", "2. End-to-end latency"):
        for r in sc["e2e"]["rates"]:
            note = f" ({r['accepted']:,} of {r['offered']:,} accepted"
            note += ", saturated: sending stopped)" if r["saturated"] else ")"
            out.append(
                (
                    f"2. E2E at {r['rate']:,}/s for {r['seconds']:g} s",
                    "received→fill p50/p95/p99/max ms" + note,
                    pcts(r["received_to_fill_ms"]),
                    "",
                    "",
                )
            )
    if not status_row("chain", "3. Chain catch-up"):
        ch = sc["chain"]
        out.append(
            (
                f"3. Chain catch-up, {ch['at_stream']['records']:,} signals",
                "signals/s",
                num(ch["at_stream"]["signals_per_s"], 0),
                num(ch["baseline"]["signals_per_s"], 0),
                times(ch["ratio"]),
            )
        )
        plain = ch.get("plain_faust") or {}
        if plain.get("signals_per_s") is not None:
            out.append(
                (
                    "3. Chain catch-up vs plain per-record Faust (baseline column)",
                    "signals/s",
                    num(ch["at_stream"]["signals_per_s"], 0),
                    num(plain["signals_per_s"], 0),
                    times(ch.get("plain_faust_ratio")),
                )
            )
        two = ch.get("two_workers") or {}
        if two.get("signals_per_s") is not None:
            out.append(
                (
                    "3. Chain catch-up, 2 workers (one group, 2 processes)",
                    "signals/s",
                    num(two["signals_per_s"], 0),
                    num(ch["baseline"]["signals_per_s"], 0),
                    times(ch.get("two_workers_ratio")),
                )
            )
        out.append(
            (
                "3. Chain catch-up, start-up included",
                "signals/s",
                num(ch["at_stream"]["signals_per_s_incl_start"], 0),
                num(ch["baseline"]["signals_per_s_incl_start"], 0),
                "",
            )
        )
    if not status_row("replay", "8. Replay"):
        rp = sc["replay"]
        out.append(
            (
                f"8. Replay: reset --to-earliest of {rp['fills']:,} applied fills, restart",
                "fills/s, reset's start→positions equal byte for byte",
                num(rp["fills_per_s"], 0),
                "",
                "",
            )
        )
        out.append(
            (
                "8. Replay",
                "reset s (positions rebuilt in it) / launch→ready s / reset→positions equal s "
                "/ launch→group caught up s (order states, books)",
                " / ".join(num(rp[k], 2) for k in REPLAY_TIMES),
                "",
                "",
            )
        )
    if not status_row("resources", "4. Resources"):
        rs = sc["resources"]
        out.append(
            ("4. Resources (during 2)", "worker RSS max MB", num(rs["worker_rss_max_mb"]), "", "")
        )
        out.append(
            (
                "4. Resources (during 2)",
                "broker (java) RSS max MB",
                num(rs["broker_rss_max_mb"]),
                "",
                "",
            )
        )
        for rate, cpu in rs["cpu_s_per_1000_signals"].items():
            out.append(
                (
                    f"4. Resources at {int(rate):,}/s",
                    "worker CPU s per 1,000 signals",
                    num(cpu, 3),
                    "",
                    "",
                )
            )
    if not status_row("startup", "5. Start-up"):
        st = sc["startup"]
        out.append(
            (
                "5. Start-up, broker up",
                "launch→/readyz s (fresh topics)",
                num(st["ready_fresh_s"], 2),
                "",
                "",
            )
        )
        out.append(
            (
                "5. Start-up, broker up",
                "launch→/readyz s (restart)",
                num(st["ready_restart_s"], 2),
                "",
                "",
            )
        )
        cold = st["cold"]
        out.append(
            (
                "5. Start-up, cold",
                "broker start + worker ready s",
                f"{num(cold['total_s'], 2)} ({num(cold['broker_start_s'], 2)} + "
                f"{num(cold['worker_ready_s'], 2)})",
                "",
                "",
            )
        )
    if not status_row("recovery", "6. Table recovery"):
        for size in sc["recovery"]["sizes"]:
            out.append(
                (
                    f"6. Positions recovery, {size['keys']:,} keys",
                    "cold launch→/readyz s (warm restart s)",
                    f"{num(size['ready_s'], 2)} ({num(size['warm_restart_ready_s'], 2)})",
                    "",
                    "",
                )
            )
    if not status_row("failover", "7. Failover"):
        fo = sc["failover"]
        out.append(
            (
                f"7. Failover, 2 workers, {fo['keys']:,} keys, one SIGTERMed",
                "SIGTERM→survivor ready s, standby 1 (standby 0)",
                f"{num(fo['standby_1_s'], 2)} ({num(fo['standby_0_s'], 2)})",
                num(fo["standby_0_s"], 2),
                times(fo["ratio"]),
            )
        )
    return out


def table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return lines


def details(results: dict[str, Any]) -> list[str]:
    """Per-scenario detail tables (what the summary leaves out)."""
    sc = results["scenarios"]
    lines: list[str] = []
    e2e = sc.get("e2e", {})
    if e2e.get("status") == "measured":
        body = []
        for r in e2e["rates"]:
            rss = r["rss"].get("worker", {}).get("max_mb")
            body.append(
                [
                    f"{r['rate']:,}/s",
                    f"{r['accepted']:,}/{r['offered']:,}"
                    + (" (saturated)" if r["saturated"] else ""),
                    pcts(r["received_to_fill_ms"]),
                    pcts(r["intended_to_fill_ms"]),
                    pcts(r["http_answer_ms"]),
                    num(r["cpu_s_per_1000_signals"], 3),
                    num(rss),
                ]
            )
        head = ["rate", "accepted/offered", "received→fill ms p50/p95/p99/max",
                "intended send→fill ms", "HTTP answer ms (from intended)",
                "worker CPU s/1k", "worker RSS MB"]  # fmt: skip
        lines += ["### End-to-end latency", "", *table(head, body), ""]
    rec = sc.get("recovery", {})
    if rec.get("status") == "measured":
        body = [
            [
                f"{s['keys']:,}",
                num(s["ready_s"], 2),
                num(s.get("fast_restore_s"), 2),
                num(s.get("restore_read_s"), 2),
                num(s["keys_per_s"], 0),
                num(s["warm_restart_ready_s"], 2),
                num(s["worker_rss_max_mb"]),
            ]
            for s in rec["sizes"]
        ]
        head = ["keys", "cold launch→ready s", "fast restore s", "Faust restore read s",
                "keys/s (cold)",
                "warm restart→ready s", "worker RSS max MB"]  # fmt: skip
        lines += ["### Positions table recovery", "", *table(head, body), ""]
    fo = sc.get("failover", {})
    if fo.get("status") == "measured":
        body = [
            [
                str(r["standby_replicas"]),
                f"{r['keys']:,}",
                num(r["standby_caught_up_s"], 2),
                num(r["a_shutdown_s"], 2),
                num(r["failover_s"], 2),
                num(r["after_exit_s"], 2),
            ]
            for r in fo["runs"]
        ]
        head = ["standby replicas", "keys", "standby caught up after s",
                "leaver's shutdown s", "SIGTERM→survivor ready s",
                "leaver exit→survivor ready s"]  # fmt: skip
        lines += ["### Failover (one of two workers leaves)", "", *table(head, body), ""]
    return lines
