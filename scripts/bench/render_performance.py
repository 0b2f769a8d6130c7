#!/usr/bin/env python3
"""Writes docs/PERFORMANCE.md from the JSON of scripts/bench/run_bench.py.

    python3 scripts/bench/render_performance.py [--json .tmp/bench/results.json] [--out docs/PERFORMANCE.md]

The machine is described as run_bench.py found it (CPU model, cores, memory, kernel, from /proc at
measurement time); a JSON without that description is refused, since figures without their
machine mean little. Standard library only.
"""
import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Hand-written analyses (where a step's time goes, the deflate comparison), included after the
# targets: their figures come from profiles and benchmarks named in them.
ANALYSES = [REPO / "docs/performance-profile.md", REPO / "docs/deflate-benchmark.md", REPO / "docs/trainers-benchmark.md"]


def fmt(value, unit):
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value:.3f} ms"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    return f"{value:,.0f} {unit}"


def ratio_text(ref):
    return f"{ref['ratio']:.3g}×" if ref.get("ratio") is not None else "–"


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def machine_table(report):
    m = report.get("machine")
    if not m:
        raise SystemExit("the JSON has no machine description: rerun scripts/bench/run_bench.py")
    mem = f"{m['memory_bytes'] / 2**30:.1f} GiB" if m.get("memory_bytes") else "unknown"
    mhz = f" at {m['cpu_mhz']:,.0f} MHz" if m.get("cpu_mhz") else ""
    rows = [
        ("CPU", f"{m.get('cpu_model', 'unknown')}{mhz}"),
        ("cores", f"{m.get('logical_cpus')} logical, {m.get('usable_cpus')} usable by the benchmark"),
        ("memory", mem),
        ("kernel", m.get("kernel", "unknown")),
        ("system", m.get("os", "") or "unknown"),
        ("load average (1, 5, 15 min)", f"{' / '.join(m.get('loadavg', []))} at the start, "
                                        f"{' / '.join(m.get('loadavg_at_end', []))} at the end"),
    ]
    lines = ["| | |", "| --- | --- |"] + [f"| {k} | {cell(v)} |" for k, v in rows]
    return "\n".join(lines)


def versions_table(report):
    v = report.get("versions", {})
    rows = []
    server = v.get("gym-server")
    if server:
        rows.append(("gym-server", f"`{server['path']}` (sha256 {server['sha256'][:16]}…)"))
    if v.get("bench_scripts_commit"):
        rows.append(("benchmark scripts", f"commit {v['bench_scripts_commit'][:12]}"))
    for key in ("wrk", "nginx"):
        if v.get(key):
            rows.append((key, v[key]))
    flask = v.get("flask-reference")
    if flask:
        origin = flask.get("gym_http_server.py", {}).get("origin", "")
        rows.append(("Flask reference", f"openai's gym_http_server.py ({origin}); gym {flask.get('gym')}, "
                                        f"Flask {flask.get('Flask')}, Werkzeug {flask.get('Werkzeug')}, "
                                        f"numpy {flask.get('numpy')}, Python {flask.get('python')}"))
    inproc = v.get("inprocess-references")
    if inproc:
        rows.append(("in-process references", f"gymnasium {inproc.get('gymnasium')}, envpool {inproc.get('envpool', 'not installed')}, "
                                              f"numpy {inproc.get('numpy')}, Python {inproc.get('python')}"))
    return "\n".join(["| | |", "| --- | --- |"] + [f"| {k} | {cell(val)} |" for k, val in rows])


def section_markdown(name, section):
    out = [f"## {section.get('title', name)}", ""]
    method = section.get("details", {}).get("method")
    if method:
        out += [method, ""]
    rounds = section.get("details", {}).get("rounds")
    if rounds:
        out += ["Every round (requests/s, in the order measured): " + "; ".join(
            f"{name} {', '.join(f'{r:,}' for r in values)}" for name, values in rounds.items()) + ".", ""]
    for line in section.get("skipped", []) + section.get("notices", []):
        out += [f"> {cell(line)}", ""]
    out += ["| figure | gym-server | compared with | its figure | gym-server ÷ it |", "| --- | ---: | --- | ---: | ---: |"]
    for fig in section["figures"]:
        better = "higher is better" if fig["better"] == "higher" else "lower is better"
        mine = fmt(fig["value"], fig["unit"]) if fig["status"] == "ok" else fig["status"]
        refs = fig["references"] or [{"name": "–", "value": None, "status": "ok"}]
        for i, ref in enumerate(refs):
            theirs = fmt(ref["value"], fig["unit"]) if ref["status"] == "ok" else ref["status"]
            label = f"{fig['label']} ({better})" if i == 0 else ""
            out.append(f"| {cell(label)} | {cell(mine) if i == 0 else ''} | {cell(ref['name'])} | {cell(theirs)} | "
                       f"{ratio_text(ref) if ref['status'] == 'ok' else '–'} |")
    commands = []
    for fig in section["figures"]:
        for who, server, command in [("gym-server", fig.get("server"), fig.get("command"))] + [
                (r["name"], r.get("server"), r.get("command")) for r in fig["references"]]:
            for line in (server and f"# {who} server\n{shorten(server)}", command and f"# {who}\n{shorten(command)}"):
                if line and line not in commands:
                    commands.append(line)
    if commands:
        out += ["", "<details><summary>Command lines</summary>", "", "```sh", *commands, "```", "", "</details>"]
    return "\n".join(out)


def shorten(text):
    """Repository paths relative to its root, so the command lines read as run from there."""
    return text.replace(str(REPO) + "/", "") if isinstance(text, str) else text


def render(report):
    started = report.get("started", "")
    parts = [
        "# Performance",
        "",
        "Generated by `scripts/bench/render_performance.py` from the figures of `scripts/bench/run_bench.py` "
        "and the analyses in `docs/performance-profile.md` and `docs/deflate-benchmark.md`; do not edit by hand. Every figure was measured in one run, on the machine below, next to the "
        "references a user would pick instead; the last column is gym-server's figure divided by the "
        "reference's (above 1 is better for rates, below 1 for latencies and memory).",
        "",
        f"Run started {started}, took {report.get('wall_seconds', 0) / 60:.1f} min; each wrk run lasted "
        f"{report.get('options', {}).get('duration_s')} s after a {report.get('options', {}).get('warmup_s')} s warm-up.",
        "",
    ]
    if not report.get("complete"):
        parts += ["> **This run did not complete: the figures below are partial.**", ""]
    targets = report.get("targets")
    if targets:
        parts += ["## Targets", "", "| target | this run | verdict |", "| --- | ---: | --- |"]
        for t in targets:
            value = "–" if t["value"] is None else (f"{t['value']:.1f} MiB" if t["reference"] is None else f"{t['value']:.3g}×")
            parts.append(f"| {cell(t['text'])} | {value} | {t['status']} |")
        parts.append("")
    for extra in ANALYSES:
        if extra.is_file():
            parts += [extra.read_text().rstrip(), ""]
    parts += ["## Machine", "", machine_table(report), "", "## Software", "", versions_table(report), ""]
    for name, section in report.get("sections", {}).items():
        parts += [section_markdown(name, section), ""]
    notes = report.get("notes", [])
    if notes:
        parts += ["## Notes", ""]
        for note in notes:
            head, _, rest = note["text"].partition("\n")
            parts += [head, ""] + (["```", rest.rstrip(), "```", ""] if rest else [])
    parts += ["## Reproduce", "", "```sh",
              "python3 scripts/bench/run_bench.py --gym-http-api /path/to/openai/gym-http-api",
              "python3 scripts/bench/render_performance.py", "```", ""]
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=str(REPO / ".tmp/bench/results.json"), help="run_bench.py's output")
    parser.add_argument("--out", default=str(REPO / "docs/PERFORMANCE.md"), help="the Markdown to write")
    args = parser.parse_args()
    try:
        report = json.loads(Path(args.json).read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read {args.json}: {error}")
    if report.get("schema") != 1:
        raise SystemExit(f"{args.json}: not a run_bench.py result (schema {report.get('schema')!r})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(report))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
