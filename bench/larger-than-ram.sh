#!/bin/bash
# Larger-than-RAM benchmark (issue 4): a dataset 30x strata-server's
# maxmemory, loaded and read back with bench/loadgen.c (pipelined, uniform or
# Zipfian keys, every GET value verified), against redis-server as reference.
#   a. strata --maxmemory 64mb --maxmemory-policy allkeys-lru: load KEYS x 1 KB
#      (sequential SETs, every key once); load rate, DBSIZE, peak RSS.
#   b. GET uniform and GET zipf (s=0.99) over the whole keyspace, SECONDS each
#      (zipf after a WARMUP-second unmeasured zipf run): rps, p50/p99, hot-set
#      hit rate (INFO memory hotset_hits/hotset_misses delta), peak RSS.
#   d. restart: SIGTERM, wait, start again on the same dir; ms from exec to the
#      first PONG and to the first correct GET of key 0 (long evicted), INFO
#      persistence loading at that point; then GET --verify of every key.
#   c. all-in-RAM figure: a fresh strata without maxmemory, SMALL_KEYS keys
#      (fit its 256 MB hot set), the same zipf GET run; ratio to b's zipf.
#   e. redis-server --maxmemory 64mb allkeys-lru, same load: DBSIZE and GETs
#      of the loaded keys that return nil (keys lost); redis-server without
#      maxmemory, same load, SAVE, restart: ms to first PONG (not -LOADING)
#      and first correct GET.
# Prints markdown tables; with --record, appends them to bench/RESULTS.md.
# Every server is stopped by PID; the temp dir (several GB) is removed on exit.
#
# Usage: bench/larger-than-ram.sh [--record] [--keys N] [--small-keys N]
#                                 [--seconds S] [--warmup S] [--keep]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
RECORD=0
KEEP=0
KEYS=2200000
SMALL_KEYS=200000
SECONDS_PER_RUN=30
WARMUP=5
VALUE_BYTES=1024
MAXMEM_MB=64
while [ $# -gt 0 ]; do
    case "$1" in
    --record) RECORD=1 ;;
    --keys) KEYS="$2"; shift ;;
    --small-keys) SMALL_KEYS="$2"; shift ;;
    --seconds) SECONDS_PER_RUN="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --keep) KEEP=1 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
STRATA_SRC=$(strata_bin)
need redis-server redis-cli python3 cc timeout

T_START=$(date +%s)
# Other processes competing for the cores skew every figure: say so.
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk '{ exit !($1 > 0.5) }' /proc/loadavg; then
    echo "warning: load average $LOADAVG_START before the run; busiest processes:" >&2
    ps -eo pcpu,pid,etime,args --sort=-pcpu | head -n 4 | cut -c1-120 >&2
fi
make_workdir strata-ltr-bench

# A private copy of the server: another engineer's `make` must not swap the
# binary between the first start and the restart.
STRATA=$WORK/strata-server
cp "$STRATA_SRC" "$STRATA"
LOADGEN=$WORK/loadgen
cc -O2 -pthread -o "$LOADGEN" bench/loadgen.c -lm

py() { python3 -c "import sys
$1" "${@:2}"; }
now_ns() { date +%s%N; }
CMDS=$WORK/commands.txt  # every server and loadgen command line, for --record
: >"$CMDS"
logcmd() { printf '%q ' "$@" | sed -e "s|$WORK|<tmp>|g" -e 's/ $//' >>"$CMDS"; echo >>"$CMDS"; }

STRATA_LRU=(--bind 127.0.0.1 --maxmemory "${MAXMEM_MB}mb" --maxmemory-policy allkeys-lru)
STRATA_RAM=(--bind 127.0.0.1)
REDIS_LRU=(--bind 127.0.0.1 --maxmemory "${MAXMEM_MB}mb" --maxmemory-policy allkeys-lru --save "" --appendonly no)
REDIS_RAM=(--bind 127.0.0.1 --save "" --appendonly no --maxmemory 0)

# wait_ping PORT PID NAME: up to 60 s for PONG while PID lives.
wait_ping() {
    wait_pong "$1" "$2" 600 && return 0
    echo "server $3 on port $1 did not answer PING; log:" >&2
    tail -n 20 "$WORK/$3.log" >&2 || true
    exit 1
}

# timed_exec T0FILE CMD...: writes the exec time (ns) to T0FILE, execs CMD.
timed_exec() { now_ns >"$1"; shift; exec "$@"; }

# start KIND NAME PORT [args...] -> $STARTED = pid; dir $WORK/NAME, log
# $WORK/NAME.log.  The background subshell runs timed_exec, which writes the
# exec time to $WORK/NAME.t0 and execs the server, so $STARTED is the
# server's pid.  Does not wait.
start() {
    local kind=$1 name=$2 port=$3 bin
    shift 3
    mkdir -p "$WORK/$name"
    bin=$STRATA
    [ "$kind" = redis ] && bin=redis-server
    logcmd "$bin" --port PORT "$@" --dir "$WORK/$name" --logfile "$WORK/$name.log"
    spawn timed_exec "$WORK/$name.t0" "$bin" --port "$port" "$@" --dir "$WORK/$name" --logfile "$WORK/$name.log"
}

# stop PID -> $STOP_MS: SIGTERM, up to 300 s for a clean exit, then SIGKILL.
stop() {
    local pid=$1 t0 killed=0
    t0=$(now_ns)
    stop_server "$pid" 300 || killed=1
    STOP_MS=$(( ($(now_ns) - t0) / 1000000 ))
    if [ "$killed" = 1 ]; then
        echo "pid $pid did not exit 300 s after SIGTERM: SIGKILL" >&2
        echo "- pid $pid needed SIGKILL (no exit 300 s after SIGTERM)." >>"$NOTES"
    fi
}


# loadgen PORT BOUND_S ARGS... -> its result line in $LG; a failed or
# timed-out run leaves "failed" fields and a note.
loadgen() {
    local port=$1 bound=$2 rc=0
    shift 2
    logcmd loadgen -p PORT "$@"
    LG=$(timeout "$bound" "$LOADGEN" -p "$port" "$@" 2>"$WORK/loadgen.err") || rc=$?
    if [ "$rc" != 0 ] || [ -z "$LG" ]; then
        echo "loadgen $* on port $port: exit $rc: $(head -c 300 "$WORK/loadgen.err")" >&2
        echo "- loadgen \`$*\` exited $rc ($(head -n 1 "$WORK/loadgen.err"))." >>"$NOTES"
        [ -n "$LG" ] || LG="ops=failed seconds=failed rps=failed p50_us=- p99_us=- errors=- nil=- mismatch=-"
    fi
    echo "   $LG" >&2
}
lg() { printf '%s\n' "$LG" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# hit rate from two "hits misses" snapshots
hitrate() {
    py 'h0, m0, h1, m1 = map(int, sys.argv[1:5]); d = (h1 - h0) + (m1 - m0)
print(f"{100.0 * (h1 - h0) / d:.1f}%" if d > 0 else "n/a")' "$@"
}
hotset() { echo "$(field "$1" memory hotset_hits) $(field "$1" memory hotset_misses)"; }

RUNS=$WORK/runs.md
NOTES=$WORK/notes.txt
: >"$NOTES"
{
    echo "| run | server | ops | s | rps | MiB/s | p50 us | p99 us | errors | nil | mismatch | hot-set hits | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$RUNS"
mibs() { py 'try: print(f"{float(sys.argv[1]) * int(sys.argv[2]) / 1048576:.1f}")
except ValueError: print("n/a")' "$1" "$VALUE_BYTES"; }
# row RUN SERVER HITRATE RSS_MB  (from $LG)
row() {
    local mibs
    mibs=$(py 'print(f"{float(sys.argv[1]) * int(sys.argv[2]) / 1048576:.1f}" if sys.argv[3] == "set" else "")' \
        "$(lg rps | sed 's/failed/0/')" "$VALUE_BYTES" "${5:-}")
    echo "| $1 | $2 | $(lg ops) | $(lg seconds) | $(lg rps) | $mibs | $(lg p50_us) | $(lg p99_us) | $(lg errors) | $(lg nil) | $(lg mismatch) | $3 | $4 |" >>"$RUNS"
}

LOAD_BOUND=3600
GET_BOUND=$((SECONDS_PER_RUN + 120))
LOAD_ARGS=(--op set --dist seq -c 8 -P 16 -d "$VALUE_BYTES")
GET_ARGS=(--op get -c 8 -P 16 -d "$VALUE_BYTES" --verify)

# restart_probe PORT NAME KEYINDEX -> "ping_ms get_ms loading" measured from
# the time in $WORK/NAME.t0.  A background python poller (started before
# the server, so its own start-up is not timed) loops on connect + PING until
# +PONG, then GET until the value loadgen wrote, then reads INFO persistence.
PROBE_PY='
import socket, sys, time, os
port, t0file, key, idx, size, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
def value(idx):  # = makeValue() in bench/loadgen.c
    out, x, M = bytearray(b"%d:" % idx), idx, (1 << 64) - 1
    while len(out) < size:
        x = (x + 0x9E3779B97F4A7C15) & M
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        out += (z ^ (z >> 31)).to_bytes(8, "little")
    return bytes(out[:size])
expect = value(idx)
end = time.time() + limit
def call(f, s, *args):
    s.sendall(b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]))
    line = f.readline()
    if not line: raise OSError("closed")
    if line[:1] == b"$":
        n = int(line[1:])
        return None if n < 0 else f.read(n + 2)[:-2]
    return line.rstrip(b"\r\n")
t_ping = t_get = None
s = f = None
while time.time() < end:
    try:
        if s is None:
            s = socket.create_connection(("127.0.0.1", port), timeout=5); f = s.makefile("rb")
        if t_ping is None:
            if call(f, s, b"PING") == b"+PONG": t_ping = time.time()
            else: time.sleep(0.001)
            continue
        if call(f, s, b"GET", key.encode()) == expect:
            t_get = time.time()
            info = call(f, s, b"INFO", b"persistence").decode()
            loading = [l.split(":")[1] for l in info.split("\r\n") if l.startswith("loading:")]
            break
        time.sleep(0.001)
    except OSError:
        if s is not None: s.close()
        s = f = None; time.sleep(0.001)
for _ in range(1000):
    if os.path.exists(t0file) and os.path.getsize(t0file) > 0: break
    time.sleep(0.01)
t0 = int(open(t0file).read()) / 1e9
ms = lambda t: "timeout" if t is None else f"{(t - t0) * 1000:.0f}"
print(ms(t_ping), ms(t_get), loading[0] if t_get else "?")
'
probe_start() { # PORT NAME KEY IDX -> $POLLER
    python3 -c "$PROBE_PY" "$1" "$WORK/$2.t0" "$3" "$4" "$VALUE_BYTES" 600 >"$WORK/$2.probe" &
    POLLER=$!
    sleep 1  # let python start; the server is exec'd after this
}
probe_wait() { # NAME -> $PROBE = "ping_ms get_ms loading"
    wait "$POLLER" || true
    POLLER=""
    PROBE=$(cat "$WORK/$1.probe")
}

MAXMEM_BUDGET_MB=$(py 'print(f"{int(sys.argv[1]) * 1.15 + 32:.1f}")' "$MAXMEM_MB")
KEY0=key:0

# ---------------------------------------------------------------- Strata
echo "== a. strata --maxmemory ${MAXMEM_MB}mb allkeys-lru: load $KEYS x $VALUE_BYTES B" >&2
SP=$(free_port)
start strata strata-big "$SP" "${STRATA_LRU[@]}"
SPID=$STARTED
wait_ping "$SP" "$SPID" strata-big
sampler_start "$SPID" "$WORK/rss.load"
loadgen "$SP" "$LOAD_BOUND" "${LOAD_ARGS[@]}" -n "$KEYS" -r "$KEYS"
sampler_stop "$WORK/rss.load"; S_PEAK_LOAD=$RSS_MB
row "load (SET seq)" "strata lru ${MAXMEM_MB}mb" "" "$S_PEAK_LOAD" set
S_LOAD_RPS=$(lg rps)
S_DBSIZE=$(timeout 600 redis-cli -p "$SP" dbsize || echo failed)
echo "   DBSIZE $S_DBSIZE, peak RSS $S_PEAK_LOAD MB" >&2

echo "== b. strata GET uniform / zipf, ${SECONDS_PER_RUN} s each" >&2
read -r h0 m0 <<<"$(hotset "$SP")"
sampler_start "$SPID" "$WORK/rss.uniform"
loadgen "$SP" "$GET_BOUND" "${GET_ARGS[@]}" --dist uniform -r "$KEYS" -t "$SECONDS_PER_RUN"
sampler_stop "$WORK/rss.uniform"; S_PEAK_UNI=$RSS_MB
read -r h1 m1 <<<"$(hotset "$SP")"
row "GET uniform" "strata lru ${MAXMEM_MB}mb" "$(hitrate "$h0" "$m0" "$h1" "$m1")" "$S_PEAK_UNI"
S_UNI_NIL=$(lg nil); S_UNI_MIS=$(lg mismatch)

sampler_start "$SPID" "$WORK/rss.zipf"
if [ "$WARMUP" != 0 ]; then
    loadgen "$SP" "$GET_BOUND" "${GET_ARGS[@]}" --dist zipf -s 0.99 -r "$KEYS" -t "$WARMUP"
fi
read -r h0 m0 <<<"$(hotset "$SP")"
loadgen "$SP" "$GET_BOUND" "${GET_ARGS[@]}" --dist zipf -s 0.99 -r "$KEYS" -t "$SECONDS_PER_RUN"
read -r h1 m1 <<<"$(hotset "$SP")"
sampler_stop "$WORK/rss.zipf"; S_PEAK_ZIPF=$RSS_MB
row "GET zipf 0.99" "strata lru ${MAXMEM_MB}mb" "$(hitrate "$h0" "$m0" "$h1" "$m1")" "$S_PEAK_ZIPF"
S_ZIPF_RPS=$(lg rps); S_ZIPF_NIL=$(lg nil); S_ZIPF_MIS=$(lg mismatch)
S_DISK=$(field "$SP" memory storage_disk_bytes)
S_STALLS=$(rocksdb_stalls "$WORK/strata-big")

echo "== d. strata restart on the same dir" >&2
stop "$SPID"
S_STOP_MS=$STOP_MS
probe_start "$SP" strata-big "$KEY0" 0
start strata strata-big "$SP" "${STRATA_LRU[@]}"
SPID=$STARTED
probe_wait strata-big
read -r S_PING_MS S_GET_MS S_LOADING <<<"$PROBE"
echo "   SIGTERM->exit $S_STOP_MS ms; exec->PONG $S_PING_MS ms, exec->GET $KEY0 $S_GET_MS ms, loading:$S_LOADING" >&2
wait_ping "$SP" "$SPID" strata-big
echo "   GET --verify of all $KEYS keys after the restart" >&2
read -r h0 m0 <<<"$(hotset "$SP")"
sampler_start "$SPID" "$WORK/rss.verify"
loadgen "$SP" "$LOAD_BOUND" "${GET_ARGS[@]}" --dist seq -n "$KEYS" -r "$KEYS"
sampler_stop "$WORK/rss.verify"; S_PEAK_VERIFY=$RSS_MB
read -r h1 m1 <<<"$(hotset "$SP")"
row "GET every key, after restart" "strata lru ${MAXMEM_MB}mb" "$(hitrate "$h0" "$m0" "$h1" "$m1")" "$S_PEAK_VERIFY"
S_LOST=$(lg nil); S_VERIFY_MIS=$(lg mismatch)
stop "$SPID"
rm -rf "$WORK/strata-big"

echo "== c. strata all in RAM: $SMALL_KEYS keys, no maxmemory" >&2
SP=$(free_port)
start strata strata-small "$SP" "${STRATA_RAM[@]}"
SPID=$STARTED
wait_ping "$SP" "$SPID" strata-small
sampler_start "$SPID" "$WORK/rss.small"
loadgen "$SP" "$LOAD_BOUND" "${LOAD_ARGS[@]}" -n "$SMALL_KEYS" -r "$SMALL_KEYS"
sampler_stop "$WORK/rss.small"
row "load (SET seq)" "strata, $SMALL_KEYS keys" "" "$RSS_MB" set
sampler_start "$SPID" "$WORK/rss.smallzipf"
if [ "$WARMUP" != 0 ]; then
    loadgen "$SP" "$GET_BOUND" "${GET_ARGS[@]}" --dist zipf -s 0.99 -r "$SMALL_KEYS" -t "$WARMUP"
fi
read -r h0 m0 <<<"$(hotset "$SP")"
loadgen "$SP" "$GET_BOUND" "${GET_ARGS[@]}" --dist zipf -s 0.99 -r "$SMALL_KEYS" -t "$SECONDS_PER_RUN"
read -r h1 m1 <<<"$(hotset "$SP")"
sampler_stop "$WORK/rss.smallzipf"
row "GET zipf 0.99 (all in RAM)" "strata, $SMALL_KEYS keys" "$(hitrate "$h0" "$m0" "$h1" "$m1")" "$RSS_MB"
S_RAM_RPS=$(lg rps)
stop "$SPID"
rm -rf "$WORK/strata-small"

# ----------------------------------------------------------------- Redis
echo "== e. redis-server --maxmemory ${MAXMEM_MB}mb allkeys-lru: same load" >&2
RP=$(free_port)
start redis redis-lru "$RP" "${REDIS_LRU[@]}"
RPID=$STARTED
wait_ping "$RP" "$RPID" redis-lru
sampler_start "$RPID" "$WORK/rss.rload"
loadgen "$RP" "$LOAD_BOUND" "${LOAD_ARGS[@]}" -n "$KEYS" -r "$KEYS"
sampler_stop "$WORK/rss.rload"; R_PEAK_LOAD=$RSS_MB
row "load (SET seq)" "redis lru ${MAXMEM_MB}mb" "" "$R_PEAK_LOAD" set
R_LOAD_RPS=$(lg rps)
R_DBSIZE=$(redis-cli -p "$RP" dbsize)
sampler_start "$RPID" "$WORK/rss.rverify"
loadgen "$RP" "$LOAD_BOUND" "${GET_ARGS[@]}" --dist seq -n "$KEYS" -r "$KEYS"
sampler_stop "$WORK/rss.rverify"
row "GET every key" "redis lru ${MAXMEM_MB}mb" "" "$RSS_MB"
R_LOST=$(lg nil)
stop "$RPID"
rm -rf "$WORK/redis-lru"

echo "== e. redis-server without maxmemory: same load, SAVE, restart" >&2
RP=$(free_port)
start redis redis-ram "$RP" "${REDIS_RAM[@]}"
RPID=$STARTED
wait_ping "$RP" "$RPID" redis-ram
sampler_start "$RPID" "$WORK/rss.rram"
loadgen "$RP" "$LOAD_BOUND" "${LOAD_ARGS[@]}" -n "$KEYS" -r "$KEYS"
sampler_stop "$WORK/rss.rram"; R_PEAK_RAM=$RSS_MB
row "load (SET seq)" "redis, no maxmemory" "" "$R_PEAK_RAM" set
logcmd redis-cli -p PORT save
t0=$(now_ns)
R_SAVE=$(timeout 900 redis-cli -p "$RP" save 2>&1 || echo failed)
R_SAVE_MS=$(( ($(now_ns) - t0) / 1000000 ))
R_RDB_MB=$(du -m "$WORK/redis-ram/dump.rdb" 2>/dev/null | cut -f1 || echo "?")
echo "   SAVE: $R_SAVE in $R_SAVE_MS ms, dump.rdb $R_RDB_MB MB" >&2
stop "$RPID"
R_STOP_MS=$STOP_MS
probe_start "$RP" redis-ram "$KEY0" 0
# --save "" keeps the restarted server from rewriting the RDB; it still loads it.
start redis redis-ram "$RP" "${REDIS_RAM[@]}"
RPID=$STARTED
probe_wait redis-ram
read -r R_PING_MS R_GET_MS R_LOADING <<<"$PROBE"
echo "   SIGTERM->exit $R_STOP_MS ms; exec->PONG $R_PING_MS ms, exec->GET $KEY0 $R_GET_MS ms, loading:$R_LOADING" >&2
R_DBSIZE_RESTART=$(redis-cli -p "$RP" dbsize)
stop "$RPID"
rm -rf "$WORK/redis-ram"

# --------------------------------------------------------------- summary
S_PEAK=$(printf '%s\n' "$S_PEAK_LOAD" "$S_PEAK_UNI" "$S_PEAK_ZIPF" | sort -n | tail -n 1)
RATIO=$(ratio "$S_ZIPF_RPS" "$S_RAM_RPS")
yesno() { py 'try: print("yes" if eval(sys.argv[1]) else "**no**")
except Exception: print("n/a")' "$1"; }
S_NILS=$(( ${S_UNI_NIL/-/0} + ${S_ZIPF_NIL/-/0} + ${S_LOST/-/0} ))
S_MIS=$(( ${S_UNI_MIS/-/0} + ${S_ZIPF_MIS/-/0} + ${S_VERIFY_MIS/-/0} ))
SUM=$WORK/summary.md
{
    echo "| check | Strata | redis-server | target | met |"
    echo "|---|---|---|---|---|"
    echo "| load rate, keys/s (MiB/s) | $S_LOAD_RPS ($(mibs "$S_LOAD_RPS")) | $R_LOAD_RPS ($(mibs "$R_LOAD_RPS"), maxmemory ${MAXMEM_MB}mb) | — | — |"
    echo "| zipf GET rps, larger than RAM / all in RAM | $S_ZIPF_RPS / $S_RAM_RPS = $RATIO | — | >= 0.5 | $(yesno "$RATIO >= 0.5") |"
    echo "| peak RSS MB (load and GET runs, maxmemory ${MAXMEM_MB}mb) | $S_PEAK | $R_PEAK_LOAD | <= $MAXMEM_BUDGET_MB | $(yesno "$S_PEAK <= $MAXMEM_BUDGET_MB") |"
    echo "| keys kept after the load (DBSIZE) | $S_DBSIZE | $R_DBSIZE | $KEYS | $(yesno "'$S_DBSIZE' == '$KEYS'") |"
    echo "| loaded keys lost (GET nil, all $KEYS keys) | $S_LOST | $R_LOST | 0 | $(yesno "'$S_LOST' == '0'") |"
    echo "| nil + mismatching GETs in all runs | $S_NILS nil, $S_MIS mismatch | — | 0 | $(yesno "$S_NILS + $S_MIS == 0") |"
    echo "| restart: exec to first PONG, ms | $S_PING_MS | $R_PING_MS (RDB $R_RDB_MB MB) | < 1000 | $(yesno "$S_PING_MS < 1000") |"
    echo "| restart: exec to first GET $KEY0, ms | $S_GET_MS | $R_GET_MS | < 1000 | $(yesno "$S_GET_MS < 1000") |"
    echo "| INFO persistence loading at that GET | $S_LOADING | $R_LOADING | 0 | $(yesno "'$S_LOADING' == '0'") |"
    echo "| SIGTERM to exit, ms | $S_STOP_MS | $R_STOP_MS (after SAVE: $R_SAVE_MS ms) | — | — |"
} >"$SUM"
{
    echo "- Load average (1, 5, 15 min) before the run: $LOADAVG_START; after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)."
    echo "- Strata data on disk after the GET runs (INFO storage_disk_bytes): $(py 'print(f"{int(sys.argv[1]) / 1048576:.0f} MiB")' "${S_DISK:-0}" 2>/dev/null || echo "?")."
    echo "- redis-server without maxmemory: DBSIZE $R_DBSIZE_RESTART after the restart; SAVE replied $R_SAVE; its log: $(grep -h 'DB loaded from disk' "$WORK/redis-ram.log" | tail -n 1 | cut -d' ' -f5- || true)"
    echo "- Strata's log at the restart: $(grep -h 'Storage opened' "$WORK/strata-big.log" | tail -n 1 | cut -d' ' -f5- || true)"
    [ "${S_STALLS:-0}" -gt 0 ] && echo "- RocksDB LOG of the big Strata server: $S_STALLS write stall/stop lines."
    if grep -qiE 'error|assert|panic' "$WORK"/strata-*.log 2>/dev/null; then
        echo "- Strata logs contain error lines:"
        grep -hiE 'error|assert|panic' "$WORK"/strata-*.log | head -n 5 | sed 's/^/  /'
    fi
} >>"$NOTES"
ELAPSED=$(( $(date +%s) - T_START ))
echo
cat "$RUNS"
echo
cat "$SUM"
echo
cat "$NOTES"
echo "(script runtime ${ELAPSED} s)"
if [ "$RECORD" = 1 ]; then
    rev=$(git_rev_state)
    {
        echo
        echo "## Larger than RAM ($(date -u '+%Y-%m-%d %H:%M UTC')) — $rev"
        echo
        machine_line model
        echo
        echo "\`bench/larger-than-ram.sh --keys $KEYS --small-keys $SMALL_KEYS --seconds $SECONDS_PER_RUN --warmup $WARMUP\` ($ELAPSED s)."
        echo "$KEYS keys x $VALUE_BYTES B (incompressible: \"<index>:\" + splitmix64 bytes); loadgen (bench/loadgen.c, \`cc -O2 -pthread\`) 8 connections, pipeline 16, every GET value verified."
        echo "Zipf runs follow an unmeasured ${WARMUP}-s zipf warm-up; hot-set hits = hotset_hits / (hits + misses) over the run."
        echo "Peak RSS is VmRSS sampled every 0.2 s. Restart times run from the exec of the server to the first reply"
        echo "(a python poller already looping on connect); $KEY0 was written first, long evicted from the hot set."
        echo "Targets (issue 4): zipf GET >= 0.5x all in RAM; peak RSS <= maxmemory + 15% + 32 MB; restart to ready < 1 s."
        echo
        echo "Command lines, in order:"
        echo
        sed 's/^/    /' "$CMDS"
        echo
        cat "$RUNS"
        echo
        cat "$SUM"
        echo
        cat "$NOTES"
    } >>bench/RESULTS.md
    echo "recorded in bench/RESULTS.md"
fi
