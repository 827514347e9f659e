#!/usr/bin/env python3
"""Draw gosshfs/sshfs speed ratios from benchmark results as an SVG chart.

Usage: benchchart.py RESULTS.tsv [RESULTS.tsv...] > chart.svg

Each input line is "label<TAB>delay<TAB>metric<TAB>value<TAB>unit", as the
benchmark harness writes them. For every metric and delay the ratio is
gosshfs over sshfs for rates (MB/s, IOPS) and sshfs over gosshfs for times
(s), so a bar longer than 1 means gosshfs is faster. A metric measured in
several rounds is charted with its median.
"""
import statistics
import sys

METRICS = ["seqread", "seqwrite", "randread", "ls_cold", "ls_warm", "find",
           "readtree", "untar", "rmtree", "git_status_cold", "git_status_warm"]


def load(paths):
    values, units = {}, {}
    for path in paths:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 5:
                    continue
                label, delay, metric, value, unit = parts
                try:
                    values.setdefault((label, delay, metric), []).append(float(value))
                except ValueError:
                    continue
                units[metric] = unit
    # Several rounds of one comparison give several values: keep the median,
    # as the comparison's own table does.
    return {key: statistics.median(v) for key, v in values.items()}, units


def ratios(values, units, delay):
    out = []
    for m in METRICS:
        g, s = values.get(("gosshfs", delay, m)), values.get(("sshfs", delay, m))
        if not g or not s:
            continue
        out.append((m, g / s if units[m] != "s" else s / g))
    return out


def svg(groups):
    bar, gap, left, top = 14, 8, 150, 40
    scale = 60  # pixels per 1.0 of ratio
    width = left + scale * 6 + 40
    rows = sum(len(r) for _, r in groups) + len(groups)
    height = top + rows * (bar + gap) + 30
    colors = {"0": "#4a7ab5", "5ms": "#d9822b"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="20" font-size="14">gosshfs speed relative to sshfs 3.7.3 (longer is faster)</text>']
    for i in range(7):
        x = left + i * scale
        out.append(f'<line x1="{x}" y1="{top - 8}" x2="{x}" y2="{height - 24}" stroke="{"#000" if i == 1 else "#ddd"}"/>')
        out.append(f'<text x="{x}" y="{height - 8}" text-anchor="middle">{i}x</text>')
    y = top
    for delay, rows_ in groups:
        name = "loopback" if delay == "0" else "10 ms RTT"
        out.append(f'<text x="4" y="{y + bar - 2}" font-weight="bold">{name}</text>')
        y += bar + gap
        for metric, r in rows_:
            w = min(r, 6) * scale
            out.append(f'<text x="{left - 6}" y="{y + bar - 3}" text-anchor="end">{metric}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colors.get(delay, "#888")}"/>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 3}">{r:.2f}</text>')
            y += bar + gap
    out.append("</svg>")
    return "\n".join(out)


def main():
    values, units = load(sys.argv[1:])
    delays = sorted({d for (_, d, _) in values}, key=lambda d: d != "0")
    print(svg([(d, ratios(values, units, d)) for d in delays]))


if __name__ == "__main__":
    main()
