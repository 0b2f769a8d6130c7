#!/usr/bin/env bash
# Deflate benchmark: the project's FastDeflate (PNGEncoder()'s default path) against libdeflate
# (levels 1 and the lowest level at least as small as FastDeflate) and zlib level 1, on the same
# frames of every environment (native sizes, twelve states each), in the same run, release build.
# Every timed stream is inflated by zlib and decoded by libpng and compared with the frame.
# (Tests/GymEnvsTests/Scenes/DeflateBenchmark.swift; libdeflate is loaded with dlopen, from
# Debian's libdeflate0: `scripts/setup/install-deps.sh test` installs it.)
#
# Usage (from anywhere):
#   scripts/bench/bench_deflate.sh
# Environment:
#   PACKAGE_DIR   the Swift package to benchmark (default: this repository)
#   SCRATCH_PATH  swift's --scratch-path (default: swift's own, .build)
#   SWIFT         the swift driver (default: swift on PATH, else /opt/swift/usr/bin/swift)
#
# Times are CPU milliseconds per frame of the benchmarking thread (the fastest of seven rounds,
# the encoders interleaved in each round), which stays steady on a busy machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="${PACKAGE_DIR:-$(dirname "$(dirname "$here")")}"
swift="${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}"
scratch=()
if [ -n "${SCRATCH_PATH:-}" ]; then scratch=(--scratch-path "$SCRATCH_PATH"); fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== FastDeflate / libdeflate / zlib (release build of $package)" >&2
status=0
(cd "$package" && GYM_BENCH=1 "$swift" test -c release "${scratch[@]}" --no-parallel --filter DeflateBenchmark 2>&1) \
    > "$work/swift.txt" || status=$?
grep '^bench-deflate' "$work/swift.txt" | tee "$work/lines.txt" >&2 || true
if [ "$status" -ne 0 ] || grep -q 'unavailable' "$work/lines.txt"; then
    grep -E 'error|unavailable|failed|recorded an issue' "$work/swift.txt" | head -20
    echo "deflate benchmark FAILED (exit $status): see the lines above"
    exit 1
fi

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
    "load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
awk '
    function field(line, key,    n, parts, i, kv) {
        n = split(line, parts, " ")
        for (i = 1; i <= n; i++) { split(parts[i], kv, "="); if (kv[1] == key) return kv[2] }
        return ""
    }
    $1 == "bench-deflate" && field($0, "env") != "" {
        env = field($0, "env"); order[++count] = env; line[env] = $0
    }
    END {
        print "PNG file from a canvas, CPU ms per frame (MB/s of raw RGB) and mean bytes. ld = libdeflate,"
        print "ldeq = its lowest level no larger than FastDeflate (total: one level for all), zlib1 = libpng + zlib 1."
        print "fast/ld = FastDeflate time / libdeflate time (below 1: FastDeflate faster)."
        printf "%-25s %15s %15s %4s %15s %15s | %7s %7s %7s %7s | %8s %8s\n", "env", "fast ms (MB/s)", "ld1 ms (MB/s)", \
            "lvl", "ldeq ms (MB/s)", "zlib1 ms (MB/s)", "fast B", "ld1 B", "ldeq B", "zlib1 B", "fast/ld1", "fast/ldeq"
        for (i = 1; i <= count; i++) {
            l = line[order[i]]; raw = field(l, "raw_bytes") / 1e6
            printf "%-25s %6.3f (%6.0f) %6.3f (%6.0f) %4s %6s (%6s) %6.3f (%6.0f) | %7d %7d %7s %7d | %8s %8s\n", order[i], \
                field(l, "fast_ms"), raw / field(l, "fast_ms") * 1000, field(l, "ld1_ms"), raw / field(l, "ld1_ms") * 1000, \
                field(l, "ldeq_level"), field(l, "ldeq_ms"), \
                (field(l, "ldeq_ms") == "-" ? "-" : sprintf("%.0f", raw / field(l, "ldeq_ms") * 1000)), \
                field(l, "zlib1_ms"), raw / field(l, "zlib1_ms") * 1000, field(l, "fast_bytes"), field(l, "ld1_bytes"), \
                field(l, "ldeq_bytes"), field(l, "zlib1_bytes"), field(l, "ratio_l1"), field(l, "ratio_eq")
        }
        print ""
        print "The compressor alone (no scanline copy, no PNG chunks), CPU ms per frame:"
        printf "%-25s %9s %9s %9s %9s\n", "env", "fast", "ld1", "ldeq", "zlib1"
        for (i = 1; i <= count; i++) {
            l = line[order[i]]
            printf "%-25s %9s %9s %9s %9s\n", order[i], field(l, "fast_stream_ms"), field(l, "ld1_stream_ms"), \
                field(l, "ldeq_stream_ms"), field(l, "zlib1_stream_ms")
        }
        l = line["total"]
        if (field(l, "ldenv_ms") != "")
            printf "total with each env at its own equal-size level: ld %s ms, %s B, fast/ld %s\n", field(l, "ldenv_ms"), \
                field(l, "ldenv_bytes"), field(l, "ratio_env")
    }
' "$work/lines.txt"
grep '^bench-deflate-levels' "$work/lines.txt" | sed 's/^bench-deflate-levels /mean PNG bytes by libdeflate level: /'
