#!/bin/bash
# Replication benchmark, the "seed scenario" of issue 3 scaled to this machine:
# a write load of 8 KB SETs (redis-benchmark -t set -d 8192 -r 100000000
# --threads 2) against six configurations, each on fresh servers and fresh
# directories, one after the other:
#   1. strata single   (--maxmemory 128mb --appendfsync everysec)
#   2. strata master + replica (replica --replicaof the master)
#   3. redis single    (--save "" --appendonly no --maxmemory 0)
#   4. redis master + replica
#   5. redis-aof single (redis-server with --appendonly yes --appendfsync
#      everysec: Strata's durability, a log written and synced every second)
#   6. redis-aof master + replica (both with that AOF)
# Reports rps, extra full syncs on the master (INFO stats sync_full beyond the
# initial one), catch-up time (end of the load until the replica has
# everything: Strata lag_seq=0 then DEBUG DIGEST equal; Redis offsets equal
# then DBSIZE equal) and the peak master RSS during load and catch-up.
# Prints a markdown table and the ratios; with --record, appends them to
# bench/RESULTS.md.
#
# With --rounds N the six configurations run N times over (each round on
# fresh servers) and the ratios reported are the medians of the rounds' ratios:
# on two shared cores one run's ratio moves by +-0.1.
#
# Usage: bench/replication.sh [--record] [--requests N] [--rounds N] [--keep]
#   --keep leaves the temp dir (data and logs) in place for inspection.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
RECORD=0
ROUNDS=1
KEEP=0
N=300000
BENCH_TIMEOUT=600  # redis-benchmark --threads busy-loops forever if the server dies
CATCHUP_TIMEOUT=300
while [ $# -gt 0 ]; do
    case "$1" in
    --record) RECORD=1 ;;
    --requests) N="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --keep) KEEP=1 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
STRATA=$(strata_bin)
need redis-server redis-cli redis-benchmark

make_workdir strata-repl-bench

STRATA_ARGS=(--bind 127.0.0.1 --maxmemory 128mb --appendfsync everysec)
REDIS_ARGS=(--bind 127.0.0.1 --save "" --appendonly no --maxmemory 0)
REDIS_AOF_ARGS=(--bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --maxmemory 0)
BENCH_ARGS=(-t set -d 8192 -r 100000000 -n "$N" --threads 2 -q)

# start KIND NAME PORT [extra args...] -> pid in $STARTED; dir $WORK/NAME,
# log $WORK/NAME.log
start() {
    local kind=$1 name=$2 port=$3
    shift 3
    mkdir -p "$WORK/$name"
    if [ "$kind" = strata ]; then
        spawn "$STRATA" --port "$port" "${STRATA_ARGS[@]}" --dir "$WORK/$name" \
            --logfile "$WORK/$name.log" "$@"
    elif [ "$kind" = redis-aof ]; then
        spawn redis-server --port "$port" "${REDIS_AOF_ARGS[@]}" --dir "$WORK/$name" \
            --logfile "$WORK/$name.log" "$@"
    else
        spawn redis-server --port "$port" "${REDIS_ARGS[@]}" --dir "$WORK/$name" \
            --logfile "$WORK/$name.log" "$@"
    fi
    wait_pong "$port" "$STARTED" 100 && return 0
    echo "$kind server $name on port $port did not start; log:" >&2
    tail -n 20 "$WORK/$name.log" >&2 || true
    exit 1
}

# stop PID: SIGTERM, up to 120 s for a clean shutdown, then SIGKILL.
stop() {
    stop_server "$1" 120 || echo "pid $1 did not exit after SIGTERM in 120 s: SIGKILL" >&2
}

wait_link_up() {
    local port=$1
    for _ in $(seq 1 600); do
        [ "$(field "$port" replication master_link_status)" = up ] && return 0
        sleep 0.1
    done
    echo "replica on port $port: master_link_status never became up" >&2
    return 1
}

# bench PORT -> rps (or "failed")
bench() {
    local out rps
    out=$(timeout "$BENCH_TIMEOUT" redis-benchmark -p "$1" "${BENCH_ARGS[@]}" 2>&1 | tr '\r' '\n' || true)
    rps=$(printf '%s\n' "$out" | grep 'requests per second' | tail -n 1 |
        sed -E 's/.*[: ]([0-9]+(\.[0-9]+)?) requests per second.*/\1/' || true)
    if [ -z "$rps" ]; then
        echo "redis-benchmark on port $1 failed or timed out; last output:" >&2
        printf '%s\n' "$out" | tail -n 5 >&2
        rps=failed
    fi
    echo "$rps"
}

# elapsed T0 -> seconds since T0 (date +%s.%N), one decimal
elapsed() {
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"
}

# past T0 LIMIT -> success once LIMIT seconds have passed since T0
past() {
    python3 -c "import sys,time; sys.exit(time.time() - float(sys.argv[1]) < float(sys.argv[2]))" "$1" "$2"
}

# catchup_strata MASTERPORT -> seconds until slave0 is online with lag_seq=0
catchup_strata() {
    local mp=$1 t0 line
    t0=$(date +%s.%N)
    while :; do
        line=$(field "$mp" replication slave0)
        if [[ "$line" == *state=online* && "$line" == *,lag_seq=0,* ]]; then
            elapsed "$t0"
            return 0
        fi
        if past "$t0" "$CATCHUP_TIMEOUT"; then
            echo "not caught up"
            return 0
        fi
        sleep 0.1
    done
}

# catchup_redis MASTERPORT REPLICAPORT -> seconds until the offsets are equal
catchup_redis() {
    local mp=$1 rp=$2 t0 mo ro
    t0=$(date +%s.%N)
    while :; do
        mo=$(field "$mp" replication master_repl_offset)
        ro=$(field "$rp" replication slave_repl_offset)
        if [ -n "$mo" ] && [ "$mo" = "$ro" ] &&
            [ "$(field "$rp" replication master_link_status)" = up ]; then
            elapsed "$t0"
            return 0
        fi
        if past "$t0" "$CATCHUP_TIMEOUT"; then
            echo "not caught up"
            return 0
        fi
        sleep 0.1
    done
}

# Print log lines about lost links and full syncs, and the tail of such logs.
show_logs() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        if grep -qiE 'lost|full sync|full resync' "$f"; then
            echo "--- $(basename "$f"): lines about lost links / full syncs:"
            grep -iE 'lost|full sync|full resync' "$f" | tail -n 20
            echo "--- $(basename "$f"): last 15 lines:"
            tail -n 15 "$f"
        fi
    done
}

OUT="$WORK/table.md"
NOTES="$WORK/notes.txt"
: >"$NOTES"
{
    echo "| round | configuration | rps | extra full syncs | catch-up s | peak master RSS MB |"
    echo "|---|---|---|---|---|---|"
} >"$OUT"
declare -A RPS

# run_config KIND REPLICATED ROUND
run_config() {
    local kind=$1 replicated=$2 round=$3 name mp rp mpid rpid rps extra="—" catch="—" check="" sf0 sf1
    local label="$kind single"
    [ "$replicated" = 1 ] && label="$kind master + replica"
    name=${kind}-$([ "$replicated" = 1 ] && echo repl || echo single)
    echo "== round $round, $label: $N SETs of 8 KB" >&2
    mp=$(free_port)
    start "$kind" "$name-master" "$mp"
    mpid=$STARTED
    if [ "$replicated" = 1 ]; then
        rp=$(free_port)
        start "$kind" "$name-replica" "$rp" --replicaof 127.0.0.1 "$mp"
        rpid=$STARTED
        wait_link_up "$rp"
        sf0=$(field "$mp" stats sync_full)
        echo "   replica link up; master sync_full=$sf0 before the load" >&2
    fi
    sampler_start "$mpid" "$WORK/$name.rss"
    rps=$(bench "$mp")
    echo "   rps $rps" >&2
    if [ "$replicated" = 1 ]; then
        if [ "$kind" = strata ]; then
            catch=$(catchup_strata "$mp")
        else
            catch=$(catchup_redis "$mp" "$rp")
        fi
    fi
    sampler_stop "$WORK/$name.rss"
    local rss_mb=$RSS_MB
    if [ "$replicated" = 1 ]; then
        echo "   catch-up: $catch" >&2
        sf1=$(field "$mp" stats sync_full)
        # The initial sync is counted 1 by both servers; anything beyond the
        # count seen before the load is an extra full sync.
        extra=$((sf1 - 1))
        local po pe
        po=$(field "$mp" stats sync_partial_ok)
        pe=$(field "$mp" stats sync_partial_err)
        local mdb rdb
        mdb=$(redis-cli -p "$mp" dbsize)
        rdb=$(redis-cli -p "$rp" dbsize)
        if [ "$kind" = strata ]; then
            local t0 md rd dt
            t0=$(date +%s.%N)
            md=$(redis-cli -p "$mp" debug digest)
            rd=$(redis-cli -p "$rp" debug digest)
            dt=$(elapsed "$t0")
            if [ "$md" = "$rd" ]; then check="DEBUG DIGEST equal (${dt} s for both)"; else check="DEBUG DIGEST DIFFERS (master $md, replica $rd)"; fi
        fi
        if [ "$mdb" = "$rdb" ]; then check="${check:+$check, }DBSIZE equal ($mdb)"; else check="${check:+$check, }DBSIZE DIFFERS (master $mdb, replica $rdb)"; fi
        echo "   master sync_full $sf0 -> $sf1, sync_partial_ok $po, sync_partial_err $pe; $check" >&2
        echo "- round $round, $label: master sync_full $sf1 (initial sync counted 1), sync_partial_ok $po, sync_partial_err $pe; after catch-up $check." >>"$NOTES"
    fi
    echo "| $round | $label | $rps | $extra | $catch | $rss_mb |" >>"$OUT"
    RPS[$name.$round]=$rps
    if [ "$kind" = strata ]; then
        local stalls
        stalls=$(rocksdb_stalls "$WORK/$name-master")
        [ "${stalls:-0}" -gt 0 ] && echo "- round $round, $label: RocksDB LOG on the master has $stalls write stall/stop lines." >>"$NOTES"
    fi
    show_logs "$WORK/$name-master.log" "$WORK/$name-replica.log" >&2
    [ "$replicated" = 1 ] && stop "$rpid"
    stop "$mpid"
    rm -rf "$WORK/$name-master" "$WORK/$name-replica"
}

S_RATIOS="" R_RATIOS="" A_RATIOS="" SR_RATIOS=""
for round in $(seq 1 "$ROUNDS"); do
    run_config strata 0 "$round"
    run_config strata 1 "$round"
    run_config redis 0 "$round"
    run_config redis 1 "$round"
    run_config redis-aof 0 "$round"
    run_config redis-aof 1 "$round"
    S_RATIOS="$S_RATIOS $(ratio "${RPS[strata-repl.$round]}" "${RPS[strata-single.$round]}")"
    R_RATIOS="$R_RATIOS $(ratio "${RPS[redis-repl.$round]}" "${RPS[redis-single.$round]}")"
    A_RATIOS="$A_RATIOS $(ratio "${RPS[redis-aof-repl.$round]}" "${RPS[redis-aof-single.$round]}")"
    SR_RATIOS="$SR_RATIOS $(ratio "${RPS[strata-repl.$round]}" "${RPS[redis-repl.$round]}")"
done

# median_of "R1 R2 ..." -> the median, "n/a" if any round failed
median_of() {
    # shellcheck disable=SC2086  # one argument per round
    python3 -c "import statistics, sys
try: print(f'{statistics.median(float(v) for v in sys.argv[1:]):.2f}')
except ValueError: print('n/a')" $1
}
rounds_note() { if [ "$ROUNDS" -gt 1 ]; then echo " (median of$1)"; fi; }
{
    echo
    echo "- strata replicated / strata single: $(median_of "$S_RATIOS")$(rounds_note "$S_RATIOS") (target >= 0.75 and above redis's ratio)"
    echo "- redis replicated / redis single: $(median_of "$R_RATIOS")$(rounds_note "$R_RATIOS")"
    echo "- redis-aof replicated / redis-aof single (both with appendonly everysec): $(median_of "$A_RATIOS")$(rounds_note "$A_RATIOS")"
    echo "- strata replicated / redis replicated: $(median_of "$SR_RATIOS")$(rounds_note "$SR_RATIOS")"
    cat "$NOTES"
} >>"$OUT"
echo
cat "$OUT"
if [ "$RECORD" = 1 ]; then
    rev=$(git_rev_state)
    {
        echo
        echo "## Replication: 8 KB SET seed scenario ($(date -u '+%Y-%m-%d %H:%M UTC')) — $rev"
        echo
        machine_line model
        echo
        echo "Command lines (each configuration on fresh servers and directories, one after the other; $ROUNDS round(s)):"
        echo "\`strata-server --port P ${STRATA_ARGS[*]} --dir D\` (replica adds \`--replicaof 127.0.0.1 MASTERPORT\`);"
        echo "\`redis-server --port P $(printf '%q ' "${REDIS_ARGS[@]}")--dir D\` (replica adds \`--replicaof 127.0.0.1 MASTERPORT\`);"
        echo "redis-aof: \`redis-server --port P $(printf '%q ' "${REDIS_AOF_ARGS[@]}")--dir D\` (likewise; master and replica each write an AOF);"
        echo "\`redis-benchmark -p P ${BENCH_ARGS[*]}\` against the master, after the replica's master_link_status:up."
        echo "Catch-up is timed from the end of redis-benchmark until the replica has everything (Strata: master's"
        echo "slave0 lag_seq=0, then DEBUG DIGEST compared; Redis: replica slave_repl_offset = master master_repl_offset,"
        echo "then DBSIZE compared), bounded at ${CATCHUP_TIMEOUT} s. Peak master RSS is VmRSS sampled every 0.2 s during load and catch-up."
        echo "Master, replica and redis-benchmark (--threads 2) share the $(nproc) cores, so the replica's work competes with the master's."
        echo "Targets (issue 3): Strata replicated >= 0.75x Strata single, above redis-server's ratio, zero extra full syncs."
        echo
        cat "$OUT"
    } >>bench/RESULTS.md
    echo "recorded in bench/RESULTS.md"
fi
