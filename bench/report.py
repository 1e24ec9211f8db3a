#!/usr/bin/env python3
"""Helpers for bench/run.sh: read h2load's and pgbench's output, scrape the service's
Prometheus counters, and write the summary (markdown) from results.tsv.

  report.py h2load STDOUT LOG SECONDS MESSAGE_BYTES
      One h2load point (run without --warm-up-time, see run.sh). Prints
      "calls errors rps p50_ms p99_ms p999_ms" tab-separated. h2load counts any HTTP 200 as a
      success, even when the gRPC status in the trailers is an error; but an error carries no
      message, and an OK answer to a fixed request is always the same 5 + MESSAGE_BYTES bytes
      of DATA, so the DATA h2load received must come to that for every call it counted. Exits 1,
      saying why, when it does not, or on any failed, errored, timed-out or non-2xx request.
  report.py pgbench STDOUT DEPTH
      Prints "transactions statements statements_per_second" (TPS x DEPTH).
  report.py calls METRICS_URL METHOD
      Prints "ok reset other": firstsip_grpc_requests_total for METHOD with code OK; with
      CANCELLED or INVALID_ARGUMENT, which is what the service records for the streams h2load
      resets when its time is up (INVALID_ARGUMENT when the reset came before the request
      message: the service then reads an empty request); and with any other code.
  report.py summary RESULTS_TSV META_FILE
      Writes the summary (markdown) to stdout. META_FILE holds key=value lines from run.sh.
"""
import re
import sys
import urllib.request
from collections import defaultdict

CALLS = ["get_user", "list_briefings", "sign_in", "create_briefing"]


def fail(message):
    sys.stderr.write("report.py: " + message + "\n")
    sys.exit(1)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def h2load(stdout_path, log_path, seconds, message_bytes):
    text = open(stdout_path).read()
    requests = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    traffic = re.search(r"traffic: .*\((\d+)\) data", text)
    if not requests or not codes or not traffic:
        fail("cannot read h2load's output %s:\n%s" % (stdout_path, text[-2000:]))
    started, done, succeeded, failed, errored, timeout = (
        int(requests.group(i)) for i in range(2, 8))
    status_2xx = int(codes.group(1))
    data = int(traffic.group(1))
    if failed or errored or timeout or status_2xx != succeeded or succeeded != done or not done:
        fail("h2load: %d done, %d succeeded, %d failed, %d errored, %d timeout, %d 2xx"
             % (done, succeeded, failed, errored, timeout, status_2xx))
    frame = 5 + message_bytes
    # Streams still open when h2load stops (started - done) may have delivered their message.
    if not done * frame <= data <= started * frame:
        fail("h2load received %d bytes of DATA for %d calls (%d started): %d-byte OK answers "
             "make %d; %d calls answered no message (gRPC errors?)"
             % (data, done, started, frame, done * frame, (done * frame - data + frame - 1)
                // frame))
    latencies = []
    statuses = defaultdict(int)
    with open(log_path) as log:
        for line in log:
            fields = line.split("\t")
            if len(fields) >= 3:
                statuses[fields[1]] += 1
                latencies.append(int(fields[2]))
    if set(statuses) - {"200"}:
        fail("h2load's log has HTTP statuses other than 200: %s" % dict(statuses))
    if len(latencies) != done:
        fail("h2load's log %s has %d calls, its summary %d" % (log_path, len(latencies), done))
    latencies.sort()
    print("%d\t0\t%.0f\t%.3f\t%.3f\t%.3f" % (
        done, done / seconds, percentile(latencies, 0.50) / 1000,
        percentile(latencies, 0.99) / 1000, percentile(latencies, 0.999) / 1000))


def pgbench(stdout_path, depth):
    text = open(stdout_path).read()
    processed = re.search(r"number of transactions actually processed: (\d+)", text)
    tps = re.search(r"tps = ([0-9.]+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    if not processed or not tps:
        fail("cannot read pgbench's output %s:\n%s" % (stdout_path, text[-2000:]))
    if failed and int(failed.group(1)):
        fail("pgbench: %s failed transactions" % failed.group(1))
    print("%d\t%d\t%.0f" % (int(processed.group(1)), int(processed.group(1)) * depth,
                            float(tps.group(1)) * depth))


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


# ---------------------------------------------------------------------------------------------
# Summary.


def number(value):
    try:
        return float(value)
    except ValueError:
        return None


def fmt(value, digits=0):
    if value is None:
        return "-"
    return "%.*f" % (digits, value)


def ratio(a, b):
    return fmt(a / b, 2) if a is not None and b else "-"


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summary(results_path, meta_path):
    meta = {}
    for line in open(meta_path):
        if "=" in line:
            key, value = line.rstrip("\n").split("=", 1)
            meta[key] = value
    levels = [int(c) for c in meta["levels"].split()]
    rpcs = meta["rpcs"].split()
    rows = []
    with open(results_path) as results:
        header = results.readline().rstrip("\n").split("\t")
        for line in results:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))

    # points[system][rpc, c] -> list of rows (one per round)
    points = defaultdict(lambda: defaultdict(list))
    for row in rows:
        points[row["system"]][row["rpc"], int(row["concurrency"])].append(row)

    def field(system, rpc, c, name):
        return mean(number(r[name]) for r in points[system].get((rpc, c), []))

    def best(system, rpc):
        values = [field(system, r, c, "rps") for (r, c) in points[system] if r == rpc]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    has_go = bool(points["go"])
    has_b = bool(points["service-b"])
    bare_best = best("bare", "get_user")
    # The database side of the limit: pgbench's pipelined figure, or the plain one where that is
    # higher (a design need not pipeline; pipelined SignIns share one transaction per pipeline).
    limit = {}
    limit_from = {}
    for rpc in CALLS:
        piped, plain = best("pgbench-pipeline", rpc), best("pgbench", rpc)
        database = max(v for v in (piped, plain, 0) if v is not None)
        if bare_best and database:
            limit[rpc] = 1 / (1 / bare_best + 1 / database)
            limit_from[rpc] = "" if piped is not None and piped >= database else " (plain)"

    out = []
    w = out.append
    w(meta.get("header", ""))
    w("")
    w("| call | c | load gen | service RPS | p50 ms | p99 ms | p999 ms | Go RPS | p50 ms | "
      "p99 ms | p999 ms | service / Go | service / bare | service / limit | "
      "gen µs/call service | gen µs/call Go |")
    w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rpc in rpcs:
        for c in levels:
            s = lambda name: field("service", rpc, c, name)
            g = lambda name: field("go", rpc, c, name)
            gen = next((r["generator"] for r in points["service"].get((rpc, c), [])), "-")
            bare = field("bare", "get_user", c, "rps") if rpc == "get_user" else None
            w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
              % (rpc, c, gen, fmt(s("rps")), fmt(s("p50_ms"), 3), fmt(s("p99_ms"), 3),
                 fmt(s("p999_ms"), 3), fmt(g("rps")), fmt(g("p50_ms"), 3), fmt(g("p99_ms"), 3),
                 fmt(g("p999_ms"), 3), ratio(s("rps"), g("rps")), ratio(s("rps"), bare),
                 ratio(s("rps"), limit.get(rpc)), fmt(s("gen_cpu_us_per_call"), 1),
                 fmt(g("gen_cpu_us_per_call"), 1)))
    if not has_go:
        w("")
        w("Go: not measured (%s)." % meta.get("go_note", "no Go server"))

    if has_b:
        w("")
        w("The service columns above are A, the mean of its rounds.")
        w("")
        w("A/B: A = %s, B = %s; %s rounds, A then B in each, RPS of each round. "
          "B / A compares the means." % (meta.get("a_label", "A"), meta.get("b_label", "B"),
                                          meta.get("rounds", "2")))
        w("")
        w("| call | c | A RPS | B RPS | A p50 ms | B p50 ms | A p99 ms | B p99 ms | B / A |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for rpc in rpcs:
            for c in levels:
                a_rows = points["service"].get((rpc, c), [])
                b_rows = points["service-b"].get((rpc, c), [])
                each = lambda rs: ", ".join(fmt(number(r["rps"])) for r in rs) or "-"
                a, b = field("service", rpc, c, "rps"), field("service-b", rpc, c, "rps")
                w("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                    rpc, c, each(a_rows), each(b_rows), fmt(field("service", rpc, c, "p50_ms"), 3),
                    fmt(field("service-b", rpc, c, "p50_ms"), 3),
                    fmt(field("service", rpc, c, "p99_ms"), 3),
                    fmt(field("service-b", rpc, c, "p99_ms"), 3), ratio(b, a)))

    if points["bare"] or points["bare-loadgen"]:
        w("")
        w("Bare gRPC server (`bench/bare_server.cc`, a constant User), GetUser:")
        w("")
        w("| load gen | c | RPS | p50 ms | p99 ms | p999 ms | gen µs/call |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for system in ("bare", "bare-loadgen"):
            for (rpc, c), rs in sorted(points[system].items(), key=lambda item: item[0][1]):
                f = lambda name: field(system, rpc, c, name)
                w("| %s | %d | %s | %s | %s | %s | %s |" % (
                    rs[0]["generator"], c, fmt(f("rps")), fmt(f("p50_ms"), 3),
                    fmt(f("p99_ms"), 3), fmt(f("p999_ms"), 3), fmt(f("gen_cpu_us_per_call"), 1)))

    if points["pgbench"] or points["pgbench-pipeline"]:
        depth = meta.get("depth", "?")
        clients = sorted({c for system in ("pgbench", "pgbench-pipeline")
                          for (_, c) in points[system]})
        w("")
        w("pgbench, the service's own statements, same database: plain `-M prepared` "
          "(statements/s = TPS) and pipelined (%s statements between `\\startpipeline` and "
          "`\\endpipeline`, statements/s = TPS × %s); µs of pgbench CPU per statement at the "
          "most clients. Combined limit = 1 / (1 / bare GetUser best + 1 / pipelined best) "
          "(the plain best where that is higher, marked): the most any design could reach "
          "here." % (depth, depth))
        w("")
        head = "| call |" + "".join(" plain %d |" % c for c in clients) + \
            "".join(" pipelined %d |" % c for c in clients) + \
            " pgbench µs/stmt plain | pipelined | combined limit |"
        w(head)
        w("|---|" + "---:|" * (2 * len(clients) + 3))
        top = clients[-1] if clients else 0
        for rpc in rpcs:
            cells = [fmt(field("pgbench", rpc, c, "rps")) for c in clients]
            cells += [fmt(field("pgbench-pipeline", rpc, c, "rps")) for c in clients]
            cells += [fmt(field("pgbench", rpc, top, "gen_cpu_us_per_call"), 1),
                      fmt(field("pgbench-pipeline", rpc, top, "gen_cpu_us_per_call"), 1),
                      fmt(limit.get(rpc)) + limit_from.get(rpc, "")]
            w("| %s | %s |" % (rpc, " | ".join(cells)))
        if bare_best:
            w("")
            w("Bare GetUser best: %s RPS." % fmt(bare_best))

    memory = []
    for system, label in (("service", meta.get("a_label", "service")),
                          ("service-b", meta.get("b_label", "B")), ("go", "Go")):
        rss = [number(r["server_rss_max_kb"]) for rs in points[system].values() for r in rs]
        hwm = [number(r["server_hwm_kb"]) for rs in points[system].values() for r in rs]
        rss = [v for v in rss if v is not None]
        peak = [v for v in hwm + rss if v is not None]
        if peak:
            memory.append("| %s | %s | %s |" % (
                label, fmt(max(rss) / 1024 if rss else None, 1), fmt(max(peak) / 1024, 1)))
    if memory:
        w("")
        w("Server memory (MiB; the target is < 100): the highest VmRSS sampled (every 0.25 s) "
          "under load, and the peak: VmHWM after each point, or the sampled VmRSS where that "
          "is higher (the kernel updates VmHWM lazily).")
        w("")
        w("| server | VmRSS under load | peak |")
        w("|---|---:|---:|")
        out.extend(memory)

    if points["service-1M"]:
        small = field("service", "list_briefings", 8, "p50_ms")
        large = mean(number(r["p50_ms"]) for rs in points["service-1M"].values() for r in rs)
        w("")
        w("ListBriefings (c=8, h2load) p50 at 10 k briefings %s ms, at 1 M %s ms: ratio %s." % (
            fmt(small, 3), fmt(large, 3), ratio(large, small)))
    print("\n".join(out))


def main(argv):
    if len(argv) == 6 and argv[1] == "h2load":
        h2load(argv[2], argv[3], float(argv[4]), int(argv[5]))
    elif len(argv) == 4 and argv[1] == "pgbench":
        pgbench(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "calls":
        calls(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "summary":
        summary(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
