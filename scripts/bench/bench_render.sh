#!/usr/bin/env bash
# Frame rendering benchmark: our scenes (rasterise + PNG encode, release build) against
# Gymnasium 1.4.0 (rgb_array render + Pillow PNG save with Pillow's default settings, what
# flaviotruzzi's gym-server did per rendered step), per environment, measured in the same run,
# printed side by side with the speed-up.
#
# Ours: the default encoder (PNGEncoder(): the fast deflate path) and, for comparison, libpng +
# zlib level 1 (PNGEncoder(compression: .zlib())). Reference: Pillow's default save and, for
# information, compress_level=1. Sizes are mean PNG bytes per frame.
#
# Usage (from anywhere):
#   scripts/bench/bench_render.sh
# Environment:
#   PACKAGE_DIR  the Swift package to benchmark (default: this repository)
#   PYTHON       a Python with gymnasium==1.4.0, pygame, numpy, pillow
#                (default: /tmp/venv-render/bin/python; make it with
#                 python3 -m venv /tmp/venv-render &&
#                 /tmp/venv-render/bin/pip install gymnasium==1.4.0 pygame numpy pillow)
#   SWIFT        the swift driver (default: swift on PATH, else /opt/swift/usr/bin/swift)
#
# Times are CPU milliseconds per frame of the benchmarking thread (the fastest of seven batches),
# which stays steady on a busy machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="${PACKAGE_DIR:-$(dirname "$(dirname "$here")")}"
python="${PYTHON:-/tmp/venv-render/bin/python}"
swift="${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== Swift scenes (release build of $package)" >&2
# --no-parallel: one benchmark at a time, so the measurements do not compete for the two cores.
(cd "$package" && GYM_BENCH=1 "$swift" test -c release --no-parallel --filter 'SceneBenchmark|RenderBenchmark' 2>&1) \
    | grep '^bench-render' | tee "$work/swift.txt" >&2

echo "== Gymnasium reference ($python)" >&2
SDL_VIDEODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1 "$python" "$here/bench_render_reference.py" 2>/dev/null \
    | tee "$work/python.txt" >&2

# Pair the lines by env and print ratios (reference time / our time: how many times faster).
echo "== machine load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (1/5/15 min), $(nproc 2>/dev/null || echo '?') cores"
awk '
    function field(line, key,    n, parts, i, kv) {
        n = split(line, parts, " ")
        for (i = 1; i <= n; i++) { split(parts[i], kv, "="); if (kv[1] == key) return kv[2] }
        return ""
    }
    FNR == NR {
        if ($1 == "bench-render-reference") {
            env = field($0, "env"); ref_total[env] = field($0, "total_ms"); ref_render[env] = field($0, "render_ms")
            ref_encode[env] = field($0, "encode_ms"); ref_bytes[env] = field($0, "bytes"); ref_total_l1[env] = field($0, "total_l1_ms")
        }
        next
    }
    $1 == "bench-render" && field($0, "env") != "" {
        env = field($0, "env"); ours_total[env] = field($0, "total_ms"); ours_raster[env] = field($0, "rasterize_ms")
        ours_encode[env] = field($0, "encode_ms"); ours_bytes[env] = field($0, "bytes"); zlib_total[env] = field($0, "total_zlib1_ms")
        zlib_encode[env] = field($0, "encode_zlib1_ms"); zlib_bytes[env] = field($0, "bytes_zlib1"); order[++count] = env
    }
    END {
        print "Times: CPU ms per frame (render/rasterise + PNG encode). x = Gymnasium with default Pillow / ours."
        printf "%-26s %8s %8s %8s %8s %8s %8s %8s %8s | %8s %8s %8s | %7s %7s %7s\n", "env", "ours ms", "gym ms", "ours fps", \
            "gym fps", "raster x", "encode x", "total x", "vsPIL1 x", "zlib1 ms", "zlib1 x", "enc/zl x", "bytes", "zlib1 B", "pil B"
        worst = ""
        for (i = 1; i <= count; i++) {
            env = order[i]
            if (!(env in ref_total)) { printf "%-26s %8.3f %8s\n", env, ours_total[env], "-"; continue }
            ratio = ref_total[env] / ours_total[env]
            if (worst == "" || ratio < worst) { worst = ratio; worst_env = env }
            printf "%-26s %8.3f %8.3f %8.0f %8.0f %7.1fx %7.1fx %7.1fx %7.1fx | %8.3f %7.1fx %7.1fx | %7d %7d %7d\n", env, ours_total[env], \
                ref_total[env], 1000 / ours_total[env], 1000 / ref_total[env], ref_render[env] / ours_raster[env], \
                ref_encode[env] / ours_encode[env], ratio, ref_total_l1[env] / ours_total[env], zlib_total[env], \
                ref_total[env] / zlib_total[env], zlib_encode[env] / ours_encode[env], ours_bytes[env], zlib_bytes[env], ref_bytes[env]
        }
        if (worst != "") printf "lowest total speed-up: %.1fx (%s)\n", worst, worst_env
    }
' "$work/python.txt" "$work/swift.txt"
