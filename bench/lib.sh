# shellcheck shell=bash
# Helpers shared by the bench/*.sh scripts; source it with
#   . "$(dirname "$0")/lib.sh"
# before the script changes directory.  Globals it uses: WORK (temp dir, set
# by make_workdir), PIDS (servers still running), STARTED (pid from spawn),
# SAMPLER / POLLER (background loops killed on exit), KEEP (1: keep $WORK),
# RSS_MB (from sampler_stop).

PIDS=()     # servers still running
SAMPLER=""  # RSS sampler loop
POLLER=""   # other background loop (larger-than-ram.sh's restart poller)

# need CMD... -> returns if every CMD is on PATH, else exits 1 naming the first missing
need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || { echo "$c missing: scripts/install-deps.sh" >&2; exit 1; }
    done
}

# strata_bin -> path of the server under test ($STRATA_BIN or bin/strata-server); exits 1 if not built
strata_bin() {
    local bin=${STRATA_BIN:-$PWD/bin/strata-server}
    [ -x "$bin" ] || { echo "build first: make" >&2; exit 1; }
    echo "$bin"
}

# make_workdir PREFIX -> sets $WORK to a new /tmp/PREFIX.XXXXXX; cleanup runs on exit
make_workdir() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    trap cleanup EXIT
}

# cleanup -> nothing: kills $SAMPLER, $POLLER and the servers in PIDS, then removes $WORK unless KEEP=1
cleanup() {
    local p
    for p in $SAMPLER $POLLER; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

# free_port -> a TCP port on 127.0.0.1 that was free a moment ago
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# spawn CMD... -> $STARTED = pid of CMD started in the background, added to PIDS
spawn() {
    "$@" &
    STARTED=$!
    PIDS+=("$STARTED")
}

# wait_pong PORT PID TRIES -> 0 once PORT answers PONG; 1 if PID exits or TRIES x 0.1 s pass first
wait_pong() {
    for _ in $(seq 1 "$3"); do
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# term_wait PID SECS -> 0 if PID exits within SECS of a SIGTERM, 1 if it is still alive
term_wait() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

# forget_pid PID -> nothing: drops PID from PIDS
forget_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# stop_server PID SECS -> 0 on a clean exit within SECS of SIGTERM, 1 if it needed SIGKILL; reaps PID
stop_server() {
    local rc=0
    if ! term_wait "$1" "$2"; then
        kill -9 "$1" 2>/dev/null || true
        rc=1
    fi
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
    return "$rc"
}

# field PORT SECTION NAME -> value of NAME: in INFO SECTION ("" if absent)
field() {
    redis-cli -p "$1" info "$2" 2>/dev/null | tr -d '\r' |
        awk -F: -v k="$3" '$1 == k { print substr($0, length(k) + 2); exit }' || true
}

# rss_sampler PID FILE -> nothing: keeps PID's peak VmRSS (kB), sampled every 0.2 s, in FILE until PID exits
rss_sampler() {
    local pid=$1 out=$2 peak=0 k v _
    echo 0 >"$out"
    while [ -r "/proc/$pid/status" ]; do
        v=0
        while read -r k v _; do [ "$k" = VmRSS: ] && break; done <"/proc/$pid/status" 2>/dev/null || true
        if [ "${v:-0}" -gt "$peak" ] 2>/dev/null; then
            peak=$v
            echo "$peak" >"$out"
        fi
        sleep 0.2
    done
}

# sampler_start PID FILE -> $SAMPLER = pid of an rss_sampler of PID writing FILE
sampler_start() { rss_sampler "$1" "$2" & SAMPLER=$!; }

# sampler_stop FILE -> $RSS_MB = peak RSS in MB from FILE (not in a subshell: it reaps the sampler)
sampler_stop() {
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=""
    # shellcheck disable=SC2034  # RSS_MB is the result, read by the scripts
    RSS_MB=$(awk '{ printf "%.0f", $1 / 1024 }' "$1")
}

# ratio A B -> A / B to two decimals, "n/a" if either is not a number or B is 0
ratio() {
    python3 -c "import sys
try: print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')
except (ValueError, ZeroDivisionError): print('n/a')" "$1" "$2"
}

# rocksdb_stalls DIR -> number of write stall/stop lines in the RocksDB LOGs under DIR
rocksdb_stalls() {
    cat "$1"/LOG "$1"/*/LOG 2>/dev/null | grep -c 'Stopping writes\|Stalling writes' || true
}

# git_rev -> short HEAD commit ("unknown" outside git)
git_rev() { git rev-parse --short HEAD 2>/dev/null || echo unknown; }

# git_rev_state -> git_rev, plus " + uncommitted changes" if the tree differs from HEAD
git_rev_state() {
    local rev
    rev=$(git_rev)
    git diff --quiet HEAD -- 2>/dev/null || rev="$rev + uncommitted changes"
    echo "$rev"
}

# machine_line short|model -> the "Machine: ..." line for bench/RESULTS.md; "model" adds the CPU model
machine_line() {
    local cores
    cores="$(nproc) cores"
    [ "$1" = model ] && cores="$cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
    echo "Machine: $cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(redis-server --version | cut -d' ' -f1-3)."
}
