#!/bin/bash
# Side-by-side benchmark: strata-server vs Debian's redis-server on this
# machine, same settings (1 thread each; Redis without persistence, Strata with
# appendfsync everysec), redis-benchmark for SET GET INCR MSET at -d 100 and
# -d 8192, without and with -P 16.  Prints a markdown table with rps, p50, p99
# and the strata/redis rps ratio; with --record, appends it to bench/RESULTS.md.
#
# With --collections: redis-benchmark's collection tests (LPUSH LPOP RPOP SADD
# SPOP HSET ZADD ZPOPMIN LRANGE_100, -d 100) and a ZRANGEBYSCORE workload on
# a 1,000,000-member sorted set (LIMIT 0 10 from a random score).
#
# With --rounds N the whole sequence of tests runs N times (FLUSHALL between
# rounds, so every round starts from the same state) and each cell is the
# median of the N runs: on two shared cores one run's ratio moves by +-0.1.
#
# Usage: bench/compare.sh [--record] [--requests N] [--tests "set get incr mset"]
#                         [--sizes "100 8192"] [--collections] [--rounds N]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
RECORD=0
COLLECTIONS=0
ZSET_MEMBERS=1000000
N=100000
TESTS="set get incr mset"
SIZES="100 8192"
PIPES="1 16"
CLIENTS=50
KEYSPACE=100000
ROUNDS=1
while [ $# -gt 0 ]; do
    case "$1" in
    --record) RECORD=1 ;;
    --requests) N="$2"; shift ;;
    --tests) TESTS="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --sizes) SIZES="$2"; shift ;;
    --collections)
        TESTS="lpush lpop rpop sadd spop hset zadd zpopmin lrange_100"
        SIZES=100
        COLLECTIONS=1 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
STRATA=$(strata_bin)
need redis-server

make_workdir strata-bench
SP=$(free_port); RP=$(free_port)
mkdir -p "$WORK/strata" "$WORK/redis"
spawn "$STRATA" --port "$SP" --bind 127.0.0.1 --dir "$WORK/strata" --appendfsync everysec \
    --server-threads 1 --logfile "$WORK/strata.log"
SPID=$STARTED
spawn redis-server --port "$RP" --bind 127.0.0.1 --dir "$WORK/redis" --save "" --appendonly no \
    --logfile "$WORK/redis.log"
RPID=$STARTED
wait_pong "$SP" "$SPID" 100 || true
wait_pong "$RP" "$RPID" 100 || true

# run PORT TEST SIZE PIPE -> "rps p50 p99"
run() {
    local n=$N
    [ "$4" -gt 1 ] && n=$((N * 5))
    [ "$3" -gt 1000 ] && n=$((n / 2))
    redis-benchmark -p "$1" -t "$2" -n "$n" -d "$3" -P "$4" -c "$CLIENTS" -r "$KEYSPACE" --csv 2>/dev/null |
        awk -F, 'NR==2 { gsub(/"/, ""); print $2, $5, $7 }'
}

OUT="$WORK/table.md"
{
    echo "| test | -d | -P | strata rps | strata p50 ms | strata p99 ms | redis rps | redis p50 ms | redis p99 ms | ratio |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT"
# Sizes outermost, FLUSHALL between them: GET must read values of its own
# size (redis-benchmark's GET reads what SET wrote to the same key names).
# Each run appends "strata_rps sp50 sp99 redis_rps rp50 rp99" to a file per
# cell; the table takes the medians.
CELLS="$WORK/cells"
mkdir -p "$CELLS"
for round in $(seq "$ROUNDS"); do
    for d in $SIZES; do
        redis-cli -p "$SP" flushall >/dev/null
        redis-cli -p "$RP" flushall >/dev/null
        for t in $TESTS; do
            for p in $PIPES; do
                read -r srps sp50 sp99 < <(run "$SP" "$t" "$d" "$p")
                read -r rrps rp50 rp99 < <(run "$RP" "$t" "$d" "$p")
                echo "$srps $sp50 $sp99 $rrps $rp50 $rp99" >>"$CELLS/$t,$d,$p"
                echo "round $round: $t -d $d -P $p: strata $srps redis $rrps" >&2
            done
        done
    done
done
# median CELLFILE -> "srps sp50 sp99 rrps rp50 rp99 ratio" (medians per column)
median() {
    python3 - "$1" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
cols = [statistics.median(c) for c in zip(*rows)]
ratio = statistics.median(r[0] / r[3] for r in rows)
print(" ".join(f"{v:.3f}" if i % 3 else f"{v:.2f}" for i, v in enumerate(cols)), f"{ratio:.2f}")
PY
}
for d in $SIZES; do
    for t in $TESTS; do
        for p in $PIPES; do
            read -r srps sp50 sp99 rrps rp50 rp99 ratio < <(median "$CELLS/$t,$d,$p")
            echo "| $t | $d | $p | $srps | $sp50 | $sp99 | $rrps | $rp50 | $rp99 | $ratio |" >>"$OUT"
            tail -n 1 "$OUT"
        done
    done
done
# ZRANGEBYSCORE on one big sorted set: member i has score i.
zset_load() {
    /usr/bin/python3 - "$1" "$ZSET_MEMBERS" <<'PY'
import sys
import redis
r = redis.Redis(port=int(sys.argv[1]))
n, per = int(sys.argv[2]), 1000
p = r.pipeline(transaction=False)
for base in range(0, n, per):
    p.zadd("bigz", {f"member:{i}": i for i in range(base, min(n, base + per))})
    if len(p) >= 50:
        p.execute()
p.execute()
assert r.zcard("bigz") == n
PY
}
zrange_run() {
    redis-benchmark -p "$1" -n "$N" -c "$CLIENTS" -r "$ZSET_MEMBERS" --csv \
        zrangebyscore bigz __rand_int__ +inf LIMIT 0 10 2>/dev/null |
        awk -F, 'NR==2 { gsub(/"/, ""); print $2, $5, $7 }'
}
if [ "$COLLECTIONS" = 1 ]; then
    zset_load "$SP"
    zset_load "$RP"
    for round in $(seq "$ROUNDS"); do
        read -r srps sp50 sp99 < <(zrange_run "$SP")
        read -r rrps rp50 rp99 < <(zrange_run "$RP")
        echo "$srps $sp50 $sp99 $rrps $rp50 $rp99" >>"$CELLS/zrangebyscore"
    done
    read -r srps sp50 sp99 rrps rp50 rp99 ratio < <(median "$CELLS/zrangebyscore")
    echo "| zrangebyscore 1M LIMIT 0 10 | - | 1 | $srps | $sp50 | $sp99 | $rrps | $rp50 | $rp99 | $ratio |" >>"$OUT"
fi
echo
cat "$OUT"
if [ "$RECORD" = 1 ]; then
    {
        echo
        echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — $(git_rev)"
        echo
        machine_line short
        echo
        echo "Command lines: \`strata-server --appendfsync everysec --server-threads 1\`;"
        echo "\`redis-server --save '' --appendonly no\`;"
        echo "\`redis-benchmark -t TEST -n $N (x5 pipelined, /2 at 8 KB) -d SIZE -P PIPE -c $CLIENTS -r $KEYSPACE --csv\`."
        [ "$COLLECTIONS" = 1 ] && echo "ZRANGEBYSCORE: $ZSET_MEMBERS members (score i), \`redis-benchmark -n $N -c $CLIENTS -r $ZSET_MEMBERS zrangebyscore bigz __rand_int__ +inf LIMIT 0 10\`."
        echo "Strata and Redis ran alternately, each test on one server then the other;"
        echo "$ROUNDS round(s) of the whole sequence (FLUSHALL between rounds), each cell the median of the rounds (ratio: median of the per-round ratios)."
        echo
        cat "$OUT"
    } >>bench/RESULTS.md
    echo "recorded in bench/RESULTS.md"
fi
