#!/usr/bin/env bash
# Benchmark Synod on this machine: for each network size, start a fresh
# local network (testnet/run.sh --detach), offer a sweep of rates with
# `synod bench`, and print the highest rate sustained (p99 submit→commit
# latency under 1 s, nothing lost, rejected, refused or unsent) and the latency at
# 1,000 tx/s. The networks are stopped (by PID, `synod testnet stop`) on
# exit, Ctrl-C included. Everything listens on 127.0.0.1 only.
#
#   testnet/bench.sh [-v "4 7"] [-r "500 1000 2000 4000 8000"] [-d 20s] [-w 3s]
#                    [-s 250] [-b 10] [-a 512] [-p 31600] [-o DIR] [--full-sweep]
#
#   -v  network sizes (validators)        -r  rates in tx/s, ascending
#   -d  measured window per rate          -w  warm-up per rate
#   -s  tx size in bytes                  -b  txs per request (JSON-RPC batch)
#   -a  funded accounts                   -p  base port of the first network
#   -o  output directory (default testnet/out/bench; wiped per network)
#   --full-sweep  keep going after the first rate that is not sustained
#
# Reports: DIR/nN/bench-RATE.{txt,json,progress}, and DIR/summary.txt.
set -euo pipefail

sizes="4 7"
rates="500 1000 2000 4000 8000"
duration=20s
warmup=3s
tx_size=250
batch=10
accounts=512
base_port=31600
out=""
full_sweep=0
grace=10s
while [ $# -gt 0 ]; do
	case "$1" in
	-v) sizes="$2"; shift 2 ;;
	-r) rates="$2"; shift 2 ;;
	-d) duration="$2"; shift 2 ;;
	-w) warmup="$2"; shift 2 ;;
	-s) tx_size="$2"; shift 2 ;;
	-b) batch="$2"; shift 2 ;;
	-a) accounts="$2"; shift 2 ;;
	-p) base_port="$2"; shift 2 ;;
	-o) out="$2"; shift 2 ;;
	--full-sweep) full_sweep=1; shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${out:-$root/testnet/out/bench}"
bin="$root/testnet/bin/synod"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"

# seconds turns a duration as synod bench takes it (20s, 1m30s, 500ms,
# 1h) into whole seconds, rounded up; a bare number is seconds.
seconds() {
	local d=$1 ms=0 n u
	if [[ $d =~ ^[0-9]+$ ]]; then
		echo "$d"
		return
	fi
	while [[ $d =~ ^([0-9]+)(ms|h|m|s)(.*)$ ]]; do
		n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
		case $u in
		h) ms=$((ms + n * 3600000)) ;;
		m) ms=$((ms + n * 60000)) ;;
		s) ms=$((ms + n * 1000)) ;;
		ms) ms=$((ms + n)) ;;
		esac
	done
	if [[ -n $d || $1 == "" ]]; then
		echo "bench.sh: cannot read the duration '$1' (write it as 90s, 1m30s or 500ms)" >&2
		return 1
	fi
	echo $(((ms + 999) / 1000))
}
for d in "$duration" "$warmup" "$grace"; do
	seconds "$d" >/dev/null || exit 2
done
# Hard bound on one bench run: schedule + grace + signing and setup.
run_limit=$(($(seconds "$duration") + $(seconds "$warmup") + $(seconds "$grace") + 120))

current=""
stop_current() {
	if [ -n "$current" ]; then
		"$bin" testnet stop "$current" >/dev/null 2>&1 || true
		current=""
	fi
}
trap stop_current EXIT
trap 'stop_current; exit 130' INT TERM

# field NAME LINE prints the value of NAME=value in a summary line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

say() { echo "$*" | tee -a "$summary"; }

say "bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(nproc) CPUs  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
say "bench: rates [$rates] tx/s, ${duration} each after ${warmup} warm-up, ${tx_size}-byte txs, batch ${batch}, ${accounts} accounts"

port=$base_port
for n in $sizes; do
	net="$out/n$n"
	say ""
	say "== $n validators (network in $net) =="
	# Current before it starts: a SIGTERM to this script alone runs the
	# trap only once run.sh returns, with the network up.
	current="$net"
	"$root/testnet/run.sh" -n "$n" -o "$net" -p "$port" -a "$accounts" --detach >"$out/run-n$n.log" 2>&1 || {
		say "could not start the $n-validator network; see $out/run-n$n.log"
		stop_current
		exit 1
	}
	urls=""
	for ((i = 0; i < n; i++)); do
		urls="${urls:+$urls,}$("$bin" testnet url "$net" "$i")"
	done
	best=0
	at1000=""
	printf '%8s %12s %9s %9s %9s %9s %6s %8s %8s %7s %10s\n' rate "commit tx/s" "p50 ms" "p90 ms" "p99 ms" "max ms" lost rejected resubmit unsent sustained | tee -a "$summary"
	for rate in $rates; do
		base="$net/bench-$rate"
		if ! timeout "$run_limit" "$bin" bench --rpc "$urls" --keystore "$net/wallets" --accounts "$accounts" \
			--rate "$rate" --duration "$duration" --warmup "$warmup" --grace "$grace" --tx-size "$tx_size" \
			--batch "$batch" --in-flight 256 --json "$base.json" >"$base.txt" 2>"$base.progress"; then
			say "rate $rate: bench failed; see $base.progress"
			break
		fi
		line="$(sed -n 's/^summary //p' "$base.txt")"
		sustained="$(field sustained "$line")"
		printf '%8s %12s %9s %9s %9s %9s %6s %8s %8s %7s %10s\n' "$rate" "$(field committed_tps "$line")" \
			"$(field p50_ms "$line")" "$(field p90_ms "$line")" "$(field p99_ms "$line")" "$(field max_ms "$line")" \
			"$(field lost "$line")" "$(field rejected "$line")" "$(field resubmitted "$line")" "$(field unsent "$line")" "$sustained" | tee -a "$summary"
		if [ "$rate" = 1000 ]; then
			at1000="p50 $(field p50_ms "$line") ms, p90 $(field p90_ms "$line") ms, p99 $(field p99_ms "$line") ms"
		fi
		if [ "$sustained" = yes ]; then
			best=$rate
		elif [ "$full_sweep" -eq 0 ] && [ "$rate" -ge 1000 ]; then
			break
		fi
	done
	say "$n validators: maximum sustainable rate ${best} tx/s (p99 < 1 s, nothing lost)"
	say "$n validators: latency at 1000 tx/s: ${at1000:-not measured}"
	stop_current
	port=$((port + 200))
done
say ""
say "summary in $summary"
