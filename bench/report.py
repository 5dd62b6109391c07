"""The suite's Markdown report and its latency plot (matplotlib, imported only when plotting)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from run import commit, cores_cell, machine

import dev

SECTION_TITLES = {
    "serving": "Serving command comparison (SQLite + database cache)",
    "mcp": "/mcp tools/call echo next to the plain view, typed_echo (type hints), drf_echo (DRF), and the two "
    "rounds of an input-required call",
    "tokens": "Token endpoint",
    "dpop": "DPoP: /mcp tools/call echo with a Bearer token and with a DPoP-bound one (Python load generator)",
    "growth": "Growth: /mcp at 64 clients, empty versus grown database",
    "tasks": "MCP tasks: creating a task and polling one (a task worker beside the server)",
}


def markdown(suite, started: datetime, png_name: str) -> str:
    args = suite.args
    lines = [
        "# Benchmark report",
        "",
        f"- when: {started:%Y-%m-%d %H:%M} UTC, commit {commit()}",
        f"- machine: {machine()}; load generator wrk on the same machine, loopback, keep-alive, closed loop",
        f"- default serving command: {dev.DEFAULT_SERVER}, workers from the CPU count; JSON access log on",
        f"- {args.duration:g} s per run after a {args.warmup:g} s warm-up per scenario; each run waits "
        f"up to {args.quiet_wait:g} s for the machine to be quiet (machine CPU busy is shown per run)",
        "",
        *verdict(suite.rows),
        "",
        f"![latency]({png_name})",
    ]
    for section in SECTION_TITLES:
        rows = [row for row in suite.rows if row.section == section]
        if rows:
            lines += ["", f"## {SECTION_TITLES[section]}", "", *table(rows)]
            lines += EXTRAS.get(section, lambda rows: [])(rows)
    if suite.notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in suite.notes]]
    lines += [
        "",
        "Server RSS is the resident memory of the server's processes (master and workers) at the end "
        "of each run. Server CPU counts the server's processes only; machine CPU busy is every process "
        'on every core, so 100% means the machine is the limit. "other" is everything else running '
        "(other test runs included): figures taken while it is high understate the server.",
    ]
    return "\n".join(lines) + "\n"


def table(rows) -> list[str]:
    lines = [
        "| setup | clients | scenario | requests/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req "
        "| server RSS MiB | machine busy | cores: server (workers) / postgres / redis / wrk / other "
        "| connections per worker |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        r = row.result
        lines.append(
            f"| {row.setup} | {r.clients} | {r.scenario.name} | {r.per_second:,.0f} | {r.p50_ms:.1f} | "
            f"{r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {r.cpu_ms_per_request:.2f} | {r.rss_mib:.0f} | "
            f"{100 * r.machine_busy:.0f}% | {cores_cell(r.cores)} | {'/'.join(map(str, r.connections))} |"
        )
    return lines


def _find(rows, section: str, setup_start: str, scenario_start: str, clients: int):
    return next(
        (
            row.result
            for row in rows
            if row.section == section
            and row.setup.startswith(setup_start)
            and row.name.startswith(scenario_start)
            and row.result.clients == clients
        ),
        None,
    )


ECHO, TYPED, DRF = "/mcp tools/call echo", "/mcp tools/call typed_echo", "/mcp tools/call drf_echo"
VALIDATED = {TYPED: "typed_echo", DRF: "drf_echo"}  # tools whose rate is compared with echo's


def overhead(rows) -> list[str]:
    lines = ["", "/mcp relative to the plain view, same server, same run:", ""]
    for setup in dict.fromkeys(row.setup for row in rows):
        for clients in sorted({row.result.clients for row in rows if row.setup == setup}):
            plain = _find(rows, "mcp", setup, "plain", clients)
            call = _find(rows, "mcp", setup, ECHO, clients)
            if plain and call and plain.per_second:
                shares = "".join(
                    f"; {label} {found.per_second / call.per_second:.0%} of echo's"
                    for name, label in VALIDATED.items()
                    if (found := _find(rows, "mcp", setup, name, clients)) and call.per_second
                )
                lines.append(
                    f"- {setup}, {clients} clients: {call.per_second / plain.per_second:.0%} of the plain "
                    f"view's requests/s ({call.cpu_ms_per_request - plain.cpu_ms_per_request:+.2f} ms "
                    "server CPU per request)" + shares
                )
    return lines


def serving_pivot(rows) -> list[str]:
    scenarios = list(dict.fromkeys(row.name for row in rows))
    clients = sorted({row.result.clients for row in rows})
    header = " | ".join(f"{name.split(':')[0].split(' (')[0]} @{c}" for name in scenarios for c in clients)
    lines = [
        "",
        "requests/s (p99 ms):",
        "",
        f"| server | {header} |",
        "| --- |" + " ---: |" * (len(scenarios) * len(clients)),
    ]
    for setup in dict.fromkeys(row.setup for row in rows):
        cells = []
        for name in scenarios:
            for c in clients:
                r = _find(rows, "serving", setup, name, c)
                cells.append(f"{r.per_second:,.0f} ({r.p99_ms:.1f})" if r else "")
        lines.append(f"| {setup} | " + " | ".join(cells) + " |")
    return lines


def growth_change(rows) -> list[str]:
    """Before/after growth per scenario; with the plain view measured too (it touches no table, so it
    moves only with the machine's own speed), each scenario's share of it before and after as well."""
    lines = ["", "Change after growth (requests/s, p99; share of the plain view in the same phase):", ""]
    pairs = {}
    for name in dict.fromkeys(row.name for row in rows):
        pair = [row.result for row in rows if row.name == name]
        if len(pair) == 2 and pair[0].per_second and pair[1].per_second:
            pairs[name] = pair
    plain = next((pair for name, pair in pairs.items() if name.startswith("plain view")), None)
    for name, (before, after) in pairs.items():
        line = (
            f"- {name}: {before.per_second:,.0f} -> {after.per_second:,.0f} requests/s "
            f"({after.per_second / before.per_second - 1:+.0%}); "
            f"p99 {before.p99_ms:.1f} -> {after.p99_ms:.1f} ms"
        )
        if plain is not None and not name.startswith("plain view"):
            line += (
                f"; {before.per_second / plain[0].per_second:.0%} -> "
                f"{after.per_second / plain[1].per_second:.0%} of the plain view"
            )
        lines.append(line)
    return lines


def dpop_cost(rows) -> list[str]:
    """What a DPoP proof costs the server per request: server CPU per request, Bearer versus DPoP."""
    lines = ["", "What a proof costs per request (server CPU per request, same load generator):", ""]
    for setup in dict.fromkeys(row.setup for row in rows if row.section == "dpop"):
        for clients in sorted({row.result.clients for row in rows if row.section == "dpop"}):
            bearer = _find(rows, "dpop", setup, "/mcp tools/call echo, Bearer", clients)
            bound = _find(rows, "dpop", setup, "/mcp tools/call echo, DPoP", clients)
            if not (bearer and bound and bearer.requests and bound.requests):
                continue
            before, after = bearer.cpu_ms_per_request, bound.cpu_ms_per_request
            lines.append(
                f"- {setup}, {clients} clients: {before:.2f} -> {after:.2f} ms of server CPU per request "
                f"({after - before:+.2f} ms); "
                f"{bearer.per_second:,.0f} -> {bound.per_second:,.0f} requests/s; p99 {bearer.p99_ms:.1f} -> {bound.p99_ms:.1f} ms"
            )
    return lines


EXTRAS = {"mcp": overhead, "serving": serving_pivot, "dpop": dpop_cost, "growth": growth_change}


def verdict(rows) -> list[str]:
    lines = ["| target | measured | verdict |", "| --- | --- | --- |"]
    for setup in dict.fromkeys(row.setup for row in rows if row.section == "mcp"):
        call, plain = _find(rows, "mcp", setup, ECHO, 64), _find(rows, "mcp", setup, "plain", 64)
        if call and plain:
            share = call.per_second / plain.per_second if plain.per_second else 0
            ok = call.per_second >= 5000 and call.p99_ms < 25 and share >= 0.70
            lines.append(
                f"| /mcp tools/call at 64 clients ({setup}): >= 5,000 req/s, p99 < 25 ms, >= 70% of plain | "
                f"{call.per_second:,.0f} req/s, p99 {call.p99_ms:.1f} ms, {share:.0%} | "
                f"{'met' if ok else 'MISSED'} |"
            )
        for name, label in VALIDATED.items():
            found = _find(rows, "mcp", setup, name, 64)
            if call and found and call.per_second:
                share = found.per_second / call.per_second
                kind = "type-hinted tool" if name == TYPED else "DRF-serializer tool"
                lines.append(
                    f"| {kind} ({label}) at 64 clients ({setup}): >= 85% of echo's req/s | "
                    f"{found.per_second:,.0f} req/s, {share:.0%} | {'met' if share >= 0.85 else 'MISSED'} |"
                )
    for setup in dict.fromkeys(row.setup for row in rows if row.section == "tokens"):
        best = max(
            (
                row.result.per_second
                for row in rows
                if row.setup == setup and row.name.endswith("client_credentials")
            ),
            default=0,
        )
        lines.append(
            f"| client_credentials ({setup}): >= 600 tokens/s | {best:,.0f} tokens/s | "
            f"{'met' if best >= 600 else 'MISSED'} |"
        )
    return lines


def plot(rows, path: Path) -> None:
    """Latency (p50 dashed, p99 solid) and requests/s against clients, one line per setup and scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = defaultdict(list)
    for row in rows:
        if row.section in ("mcp", "tokens", "serving"):
            series[(row.section, row.setup, row.name)].append(row.result)
    figure, (latency, rate) = plt.subplots(1, 2, figsize=(14, 6))
    colors = plt.get_cmap("tab20").colors  # 20 distinct colours: the default cycle repeats after 10
    drawn = [(key, results) for key, results in series.items() if len(results) >= 2]
    for index, ((_section, setup, name), results) in enumerate(drawn):
        results.sort(key=lambda r: r.clients)
        x = [r.clients for r in results]
        label, color = f"{setup}: {name}", colors[index % len(colors)]
        latency.plot(x, [r.p99_ms for r in results], marker="o", color=color, label=label)
        latency.plot(x, [r.p50_ms for r in results], linestyle="--", color=color)
        rate.plot(x, [r.per_second for r in results], marker="o", color=color, label=label)
    latency.axhline(25, color="grey", linewidth=0.8, linestyle=":")
    latency.set(
        xscale="log", yscale="log", xlabel="concurrent clients", ylabel="latency ms (p99 solid, p50 dashed)"
    )
    rate.axhline(5000, color="grey", linewidth=0.8, linestyle=":")
    rate.set(xscale="log", xlabel="concurrent clients", ylabel="requests/s")
    for axis in (latency, rate):
        axis.set_xticks([1, 16, 64], ["1", "16", "64"])
        axis.grid(True, which="both", alpha=0.3)
    rate.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.suptitle("Latency and throughput by concurrency (wrk, loopback, 2 cores)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
