"""Markdown tables (data path, memory, issue-2 goals) from a bench results document.
Usable alone: python3 bench/report.py bench/results/bench-....json"""
import json
import sys

RATHOLE_TLS_GBPS = 4.9  # issue 2's figure for rathole over TLS (not installable here)


def _f(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def _ratio(v, base):
    return "" if v is None or not base else f" ({v / base:.2f}×)"


def _med(doc, name, key):
    r = doc["results"].get(name, {})
    return r.get("median", {}).get(key) if r.get("status") == "ok" else None


def per_conn_kib(r, n):
    hold = r.get("rss_hold", {}).get(str(n))
    idle = r.get("rss_idle")
    if not hold or not idle:
        return None
    return (hold["total_kib"] - idle["total_kib"]) / n


def data_table(doc):
    d = {k: _med(doc, "direct", k) for k in ("tput1_gbps", "tput8_gbps", "pp_p50_us", "conn_p50_us")}
    rows = ["| target | 1 stream Gbit/s | 8 streams Gbit/s | ping-pong p50 µs | ping-pong p99 µs "
            "| conn + echo p50 µs | conn/s |",
            "|---|---|---|---|---|---|---|"]
    for name, r in doc["results"].items():
        if r.get("status") != "ok":
            rows.append(f"| {name} | pending: {r.get('reason', '?')[:160]} ||||||")
            continue
        m = r.get("median", {})
        rows.append(
            f"| {name} | {_f(m.get('tput1_gbps'), 2)}{_ratio(m.get('tput1_gbps'), d['tput1_gbps'])} "
            f"| {_f(m.get('tput8_gbps'), 2)}{_ratio(m.get('tput8_gbps'), d['tput8_gbps'])} "
            f"| {_f(m.get('pp_p50_us'))}{_ratio(m.get('pp_p50_us'), d['pp_p50_us'])} "
            f"| {_f(m.get('pp_p99_us'))} "
            f"| {_f(m.get('conn_p50_us'))}{_ratio(m.get('conn_p50_us'), d['conn_p50_us'])} "
            f"| {_f(m.get('conn_per_s'), 0)} |")
    return "\n".join(rows)


def rss_table(doc):
    rows = ["| target | idle MiB (relay + agent) | holding 1,000: MiB | KiB/conn | PSS MiB "
            "| holding 10,000: MiB | KiB/conn | PSS MiB |", "|---|---|---|---|---|---|---|---|"]
    for name, r in doc["results"].items():
        if r.get("status") != "ok" or "rss_idle" not in r:
            continue
        idle = r["rss_idle"]
        cells = [f"{idle['total_kib'] / 1024:.1f} ({idle['relay_kib'] / 1024:.1f} + "
                 f"{idle['agent_kib'] / 1024:.1f})"]
        for n in (1000, 10000):
            h = r.get("rss_hold", {}).get(str(n))
            if h:
                cells += [f"{h['total_kib'] / 1024:.1f} ({h['relay_kib'] / 1024:.1f} + "
                          f"{h['agent_kib'] / 1024:.1f})", _f(per_conn_kib(r, n)),
                          _f(h.get("total_pss_kib", 0) / 1024)]
            else:
                cells += ["–", "–", "–"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _goal(label, value, limit, higher_is_better, unit="×"):
    if value is None:
        return f"| {label} | – | pending |"
    ok = value >= limit if higher_is_better else value <= limit
    if ok:
        verdict = "met"
    elif higher_is_better:
        verdict = f"missed by {1 - value / limit:.0%} (needs ≥ {limit:g}{unit})"
    else:
        verdict = f"missed: {value / limit:.2f}× the limit (needs ≤ {limit:g}{unit})"
    return f"| {label} | {value:.2f}{unit} | {verdict} |"


def goals_table(doc):
    def ratio(a, b):
        return a / b if a is not None and b else None

    p = {k: _med(doc, "porthole", k) for k in ("tput1_gbps", "pp_p50_us", "conn_p50_us")}
    ph = doc["results"].get("porthole", {})
    kib = per_conn_kib(ph, 10000) if ph.get("status") == "ok" else None
    rows = ["| goal (issue 2) | measured | verdict |", "|---|---|---|",
            _goal("1-stream TLS tunnel throughput ≥ 1.3× ssh -R",
                  ratio(p["tput1_gbps"], _med(doc, "ssh -R", "tput1_gbps")), 1.3, True),
            _goal(f"… ≥ 2× rathole over TLS (issue's {RATHOLE_TLS_GBPS} Gbit/s, not run here)",
                  ratio(p["tput1_gbps"], RATHOLE_TLS_GBPS), 2.0, True),
            _goal("… ≥ 0.3× direct", ratio(p["tput1_gbps"], _med(doc, "direct", "tput1_gbps")), 0.3, True),
            _goal("ping-pong p50 ≤ 1.5× direct",
                  ratio(p["pp_p50_us"], _med(doc, "direct", "pp_p50_us")), 1.5, False),
            _goal("new connection + echo p50 ≤ 2× one-hop haproxy",
                  ratio(p["conn_p50_us"], _med(doc, "haproxy", "conn_p50_us")), 2.0, False),
            _goal("relay + agent RSS ≤ 10 KiB per connection at 10,000", kib, 10.0, False, " KiB")]
    return "\n".join(rows)


def render(doc):
    m = doc["machine"]
    c = doc["config"]
    head = (f"porthole bench {doc['started']}: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, "
            f"Linux {m['kernel']}; medians of {c['runs']} × {c['seconds']:g} s; "
            f"load average at start {m['loadavg_start'][0]:.2f}")
    parts = [head, "", data_table(doc), "", rss_table(doc), "", goals_table(doc)]
    if doc.get("errors"):
        parts += ["", "Errors:"] + [f"- {e}" for e in doc["errors"]]
    return "\n".join(parts)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS.json")
    with open(sys.argv[1]) as f:
        print(render(json.load(f)))
