#!/usr/bin/env python3
"""Helpers for bench/run.sh: CPU time of processes, pgbench's output, the service's Prometheus
counters, and the summary (markdown) of the alternating rounds in results.tsv.

  report.py ticks PID
      Prints the CPU time (user + system, clock ticks) PID has used.
  report.py pgticks POSTMASTER_PID
      Prints the CPU time (clock ticks) of the whole PostgreSQL server: the postmaster, every
      process it started that is still running, and (cutime + cstime) every one it has reaped,
      so backends that came and went during a point (pgbench's) are counted too.
  report.py pgbench STDOUT STATEMENTS_PER_TRANSACTION
      Prints "transactions statements statements_per_second p50_ms p99_ms p999_ms" from
      pgbench's output and its --log files (latencies per transaction).
  report.py calls METRICS_URL METHOD
      Prints "ok reset other": firstsip_grpc_requests_total for METHOD with code OK; with
      CANCELLED or INVALID_ARGUMENT, which is what the service records for the calls in flight
      when a load generator hangs up at the end of its time; and with any other code.
  report.py dbsent METRICS_URL
      Prints "requests statements syncs" the service's primary pool has sent PostgreSQL
      (firstsip_db_*_total{pool="primary"}, updated by the service once a second).
  report.py summary RESULTS_TSV META_FILE
      Writes the summary (markdown) to stdout. META_FILE holds key=value lines from run.sh.
"""
import glob
import os
import re
import statistics
import sys
import urllib.request
from collections import defaultdict

CALLS = ["get_user", "list_briefings", "sign_in", "create_briefing"]


def fail(message):
    sys.stderr.write("report.py: " + message + "\n")
    sys.exit(1)


def stat_fields(pid):
    with open("/proc/%s/stat" % pid) as f:
        text = f.read()
    # The command name is in parentheses and may hold spaces: fields start after the last ')'.
    return text[text.rindex(")") + 2:].split()


def ticks(pid):
    fields = stat_fields(pid)  # fields[0] is state (field 3): utime is field 14
    print(int(fields[11]) + int(fields[12]))


def pgticks(postmaster):
    fields = stat_fields(postmaster)
    total = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    for path in glob.glob("/proc/[0-9]*/stat"):
        pid = path.split("/")[2]
        if pid == postmaster:
            continue
        try:
            child = stat_fields(pid)
        except (OSError, ValueError):
            continue  # gone meanwhile: its time is in the postmaster's cutime once reaped
        if child[1] == postmaster:
            total += int(child[11]) + int(child[12])
    print(total)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def pgbench(stdout_path, per_transaction):
    text = open(stdout_path).read()
    processed = re.search(r"number of transactions actually processed: (\d+)", text)
    tps = re.search(r"tps = ([0-9.]+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    if not processed or not tps:
        fail("cannot read pgbench's output %s:\n%s" % (stdout_path, text[-2000:]))
    if failed and int(failed.group(1)):
        fail("pgbench: %s failed transactions" % failed.group(1))
    latencies = []
    for log in glob.glob(stdout_path + ".log*"):
        for line in open(log):
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000.0)
        os.remove(log)
    latencies.sort()
    transactions = int(processed.group(1))
    print("%d\t%d\t%.0f\t%.3f\t%.3f\t%.3f" % (
        transactions, transactions * per_transaction, float(tps.group(1)) * per_transaction,
        percentile(latencies, 0.5), percentile(latencies, 0.99), percentile(latencies, 0.999)))


def calls(url, method):
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    ok = reset = other = 0
    for line in text.splitlines():
        if not line.startswith("firstsip_grpc_requests_total{"):
            continue
        labels, value = line.rsplit(" ", 1)
        if 'method="%s"' % method not in labels:
            continue
        if 'code="OK"' in labels:
            ok += float(value)
        elif 'code="CANCELLED"' in labels or 'code="INVALID_ARGUMENT"' in labels:
            reset += float(value)
        else:
            other += float(value)
    print("%d\t%d\t%d" % (ok, reset, other))


def dbsent(url):
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    sent = {}
    for name in ["requests", "statements", "syncs"]:
        match = re.search(r'^firstsip_db_%s_total\{pool="primary"\} ([0-9.e+]+)$' % name, text, re.M)
        sent[name] = int(float(match.group(1))) if match else 0
    print("%d\t%d\t%d" % (sent["requests"], sent["statements"], sent["syncs"]))


# ---------------------------------------------------------------------------------------------
# Summary.

COLUMNS = ["system", "rpc", "concurrency", "round", "order", "generator", "calls", "errors",
           "rps", "p50_ms", "p99_ms", "p999_ms", "server_us", "pg_us", "gen_us", "rss_kb",
           "hwm_kb", "per_sync", "per_statement"]


def number(value):
    try:
        return float(value)
    except ValueError:
        return None


def fmt(value, digits=0):
    if value is None:
        return "-"
    return "%.*f" % (digits, value)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values, digits=0):
    """median (min-max)"""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt(values[0], digits)
    return "%s (%s–%s)" % (fmt(statistics.median(values), digits), fmt(min(values), digits),
                           fmt(max(values), digits))


def per_round_ratios(rows, a, b, key="rps"):
    """a/b within each round, where both were measured: the alternation pairs them."""
    by_round = defaultdict(dict)
    for row in rows:
        by_round[row["round"]][row["system"]] = number(row[key])
    return [r[a] / r[b] for r in by_round.values()
            if r.get(a) is not None and r.get(b)]


def summary(results_path, meta_path):
    meta = {}
    for line in open(meta_path):
        if "=" in line:
            key, value = line.rstrip("\n").split("=", 1)
            meta[key] = value
    rows = []
    with open(results_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    rounds = int(meta.get("rounds", "1"))
    out = [meta.get("header", ""), ""]
    if rounds < 5:
        out += ["**%d rounds: too few to claim a ratio** (medians of at least 5 alternating "
                "rounds are what this page rests on)." % rounds, ""]
    out += ["Each cell: median of the rounds (lowest–highest). Ratios are taken within each "
            "round, where the systems ran one after the other, and then summarised the same way. "
            "CPU µs per call: the server process, every PostgreSQL process, and the load "
            "generator, over the point's calls (warm-up included).", ""]

    groups = defaultdict(list)
    for row in rows:
        groups[(row["rpc"], int(row["concurrency"]))].append(row)

    limit_note = []
    for rpc in CALLS:
        levels = sorted(c for (r, c) in groups if r == rpc)
        if not levels:
            continue
        out += ["### %s" % rpc, ""]
        out += ["| c | system | calls/s | p50 ms | p99 ms | p999 ms | server µs/call | "
                "PostgreSQL µs/call | load gen µs/call | RSS MiB | calls per Sync | calls per "
                "statement |",
                "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        ratio_lines = []
        for c in levels:
            group = groups[(rpc, c)]
            systems = []
            for row in group:
                if row["system"] not in systems:
                    systems.append(row["system"])
            for system in systems:
                mine = [r for r in group if r["system"] == system]
                get = lambda key: [number(r[key]) for r in mine]
                rss = [v / 1024 if v is not None else None for v in get("rss_kb")]
                out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    c, system, spread(get("rps")), spread(get("p50_ms"), 3),
                    spread(get("p99_ms"), 3), spread(get("p999_ms"), 3),
                    spread(get("server_us"), 1), spread(get("pg_us"), 1),
                    spread(get("gen_us"), 1), spread(rss, 0), spread(get("per_sync"), 1),
                    spread(get("per_statement"), 1)))
            present = set(systems)
            for other in ["go", "bare", "service-b"]:
                if "service" in present and other in present:
                    ratios = per_round_ratios(group, "service", other)
                    name = {"go": "service / Go", "bare": "service / bare gRPC",
                            "service-b": "service / B"}[other]
                    ratio_lines.append("| %d | %s | %s |" % (c, name, spread(ratios, 2)))
            if rpc == "get_user" and "service" in present and "bare" in present:
                db_forms = [s for s in present if s.startswith("pgbench")]
                if db_forms:
                    # The combined limit per round: the bare transport and the best database
                    # form of that round, as if the two shared the machine without overlap.
                    by_round = defaultdict(dict)
                    for row in group:
                        by_round[row["round"]][row["system"]] = number(row["rps"])
                    limits = []
                    for r in by_round.values():
                        best = max((r[s] for s in db_forms if r.get(s)), default=None)
                        if r.get("service") and r.get("bare") and best:
                            limits.append(r["service"] / (1 / (1 / r["bare"] + 1 / best)))
                    ratio_lines.append("| %d | service / combined limit | %s |" % (
                        c, spread(limits, 2)))
        if ratio_lines:
            out += ["", "| c | ratio | median (lowest–highest) of the per-round ratios |",
                    "|---:|---|---:|"] + ratio_lines
        out.append("")
    out += limit_note
    return "\n".join(out)


def main(argv):
    if len(argv) == 3 and argv[1] == "ticks":
        ticks(argv[2])
    elif len(argv) == 3 and argv[1] == "pgticks":
        pgticks(argv[2])
    elif len(argv) == 4 and argv[1] == "pgbench":
        pgbench(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "calls":
        calls(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "dbsent":
        dbsent(argv[2])
    elif len(argv) == 4 and argv[1] == "summary":
        print(summary(argv[2], argv[3]))
    else:
        fail("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv)
