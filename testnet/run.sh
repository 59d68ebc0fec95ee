#!/usr/bin/env bash
# Run a local Synod network: build the binary, generate a fresh N-validator
# testnet, start every node in the background, wait until blocks commit,
# print each node's RPC URL, and stop them all on Ctrl-C.
#
#   testnet/run.sh [-n N] [-o DIR] [-p BASE_PORT] [-a ACCOUNTS] [--om-verify] [--prune-history] [--detach]
#
# With --detach the script returns once the network is ready and leaves the
# nodes running; stop them with `synod testnet stop DIR`.
set -euo pipefail

n=4
out=""
base_port=26600
accounts=8
om_flag=""
prune_flag=""
detach=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n) n="$2"; shift 2 ;;
	-o) out="$2"; shift 2 ;;
	-p) base_port="$2"; shift 2 ;;
	-a) accounts="$2"; shift 2 ;;
	--om-verify) om_flag="--om-verify"; shift ;;
	--prune-history) prune_flag="--prune-history"; shift ;;
	--detach) detach=1; shift ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${out:-$root/testnet/out}"
bin="$root/testnet/bin/synod"

echo "building synod..."
(cd "$root" && go build -o "$bin" ./cmd/synod)

if [ -d "$out" ]; then
	# Stop anything a previous run left behind, then start fresh; but
	# delete only a testnet (or what is left of one) or the tools' own
	# testnet/out: a DIR given by mistake, a home directory say, keeps
	# its files.
	if [ "$out" != "$root/testnet/out" ] && [ ! -f "$out/node0/config.toml" ]; then
		other="$(find "$out" -mindepth 1 -maxdepth 1 ! -name 'node[0-9]*' ! -name wallets ! -name password.txt -print -quit)"
		if [ -n "$other" ]; then
			echo "run.sh: $out is not a testnet (it holds $other); not deleting it, pick another -o DIR" >&2
			exit 1
		fi
	fi
	"$bin" testnet stop "$out" >/dev/null 2>&1 || true
	rm -rf "$out"
fi
"$bin" testnet --validators "$n" --out "$out" --base-port "$base_port" --accounts "$accounts" $om_flag $prune_flag

stop_all() {
	echo
	echo "stopping the testnet..."
	"$bin" testnet stop "$out" || true
}

# A signal stops the nodes and ends the script: bash runs a trap only
# once the command in the foreground returns, and a script that went on
# would report a network it has just stopped as ready. Set before the
# nodes start, so none is left behind; with --detach only until ready.
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

for ((i = 0; i < n; i++)); do
	home="$out/node$i"
	"$bin" start --home "$home" >"$home/node.log" 2>&1 &
	echo $! >"$home/node.pid"
done

if ! "$bin" testnet wait --height 2 --timeout 60s "$out"; then
	echo "the testnet did not come up (see above); logs are in $out/node*/node.log" >&2
	stop_all
	exit 1
fi
# testnet wait follows the nodes running when it starts (it also serves
# after a fault kill): a node that died before then is caught here, so
# "ready" means every node.
for ((i = 0; i < n; i++)); do
	if ! kill -0 "$(cat "$out/node$i/node.pid")" 2>/dev/null; then
		echo "node$i exited during start-up; see $out/node$i/node.log" >&2
		stop_all
		exit 1
	fi
done

for ((i = 0; i < n; i++)); do
	echo "node$i  rpc $("$bin" testnet url "$out" "$i")  log $out/node$i/node.log"
done
echo "wallets: $out/wallets (password in $out/wallets/password.txt)"
echo "status:  $bin testnet status $out"
echo "ready: $n validators committing blocks"

if [ "$detach" -eq 1 ]; then
	trap - INT TERM
	exit 0
fi
echo "press Ctrl-C to stop"
# Wait for the nodes; Ctrl-C runs stop_all through the trap.
while "$bin" testnet alive "$out" >/dev/null 2>&1; do
	sleep 1
done
echo "every node has exited"
