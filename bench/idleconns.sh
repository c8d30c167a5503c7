#!/usr/bin/env bash
# bench/idleconns.sh - memory per idle keep-alive client connection of nginx,
# haproxy, Caddy and the drawbridge gateway (one worker/thread/GOMAXPROCS
# each): the proxy's PSS before and after N clients each sent one request,
# got the answer and stayed connected, idle. Per connection = delta / N.
#
# Usage: bash bench/idleconns.sh [--quick] [--full] [--help]   (any cwd)
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: bash bench/idleconns.sh [--quick] [--full] [--help]

Memory per idle keep-alive client connection: for each proxy (one at a time,
one worker/thread/GOMAXPROCS, in front of static nginx backends), reads its
PSS (/proc/PID/smaps_rollup, master + workers), lets bench/idleconns open
CONNS connections that each send one GET, read the answer and then stay open
and idle, reads the PSS again, and reports (after - before) / CONNS in KiB.

Options:
  --quick        smoke test: 1,000 connections (same as QUICK=1)
  --full         100,000 connections (needs a hard open-file limit above
                 ~100,100: the script raises the soft one, and the hard one
                 when it may); spread over several source IPs 127.0.0.x
  -h, --help     this text

Environment (defaults in brackets):
  CONNS=10000        connections (overrides --quick/--full)
  TARGETS="nginx haproxy caddy gateway"   which proxies (stock also works; baseline
                     with BASELINE_BIN, as in proxy.sh)
  GATEWAY_ENGINE= BASELINE_ENGINE=         --engine of the gateway / baseline
                     (h1: the gateway's own HTTP/1.1 loop; default net/http)
  PIN=1              proxy on CPU 0, client and backends on CPU 1
  PROXY_CPU=0 CLIENT_CPU=1
  OPEN_TIMEOUT=120   seconds the client may take to open all connections
  SETTLE=0           seconds the connections stay idle before the second
                     reading (130: after the Go runtime's periodic collection
                     and scavenging; the same wait for every proxy)
  OUT=bench/results/idleconns-latest.json  JSON report
  DRAWBRIDGE_BIN=    use this drawbridge binary instead of building one
  READY_TIMEOUT=5 KEEP_TMP=1 NO_INSTALL=1  as in proxy.sh
EOF
}

full=0
bench_extra_arg() {
	[[ "$1" == --full ]] || return 1
	full=1
}
parse_bench_args "$@"

if [[ "$full" == 1 ]]; then
	CONNS="${CONNS:-100000}"
elif [[ "$quick" == 1 ]]; then
	CONNS="${CONNS:-1000}"
fi
CONNS="${CONNS:-10000}"
OPEN_TIMEOUT="${OPEN_TIMEOUT:-120}"
SETTLE="${SETTLE:-0}"
[[ "$SETTLE" =~ ^[0-9]+$ ]] || die "SETTLE must be a whole number of seconds, got '$SETTLE'"
READY_TIMEOUT="${READY_TIMEOUT:-5}"
OUT="${OUT:-bench/results/idleconns-latest.json}"
[[ "$OUT" == /* ]] || OUT="$repo_root/$OUT"
read -r -a targets <<<"${TARGETS:-nginx haproxy caddy gateway}"
[[ "$CONNS" =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, got '$CONNS'"
for t in "${targets[@]}"; do
	case "$t" in nginx | haproxy | caddy | gateway | baseline | stock) ;; *) die "unknown target '$t' (known: nginx haproxy caddy gateway baseline stock)" ;; esac
done

# Client and proxy each hold CONNS descriptors; every process started from
# here inherits the limit.
need=$((CONNS + 2000))
if (($(ulimit -Hn) < need)); then
	ulimit -Hn "$need" 2>/dev/null ||
		die "$CONNS connections need an open-file limit of $need; the hard limit is $(ulimit -Hn) and cannot be raised here (run as root, or raise it with ulimit -Hn / limits.conf)"
fi
(($(ulimit -n) >= need)) || ulimit -n "$need"
# Connections to one destination from one source IP are limited by the local
# port range; idleconns spreads over 127.0.0.x (one per 20,000).
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
if (((port_hi - port_lo) < 20000 && CONNS > port_hi - port_lo)); then
	warn "local port range $port_lo-$port_hi is small: pass more source IPs or widen net.ipv4.ip_local_port_range"
fi

tools=(nginx curl taskset)
for t in "${targets[@]}"; do [[ "$t" != haproxy && "$t" != caddy ]] || tools+=("$t"); done
ensure_tools "${tools[@]}"
setup_host
bench_init
[[ " ${targets[*]} " != *" gateway "* ]] || build_drawbridge
[[ " ${targets[*]} " != *" stock "* ]] || build_go_tool stockproxy
build_go_tool idleconns

BACKENDS=nginx
start_two_backends
backend_addrs="127.0.0.1:$BACKEND1_PORT,127.0.0.1:$BACKEND2_PORT"
proxy_maxconn=$((CONNS + 100))

results=()
declare -A per_conn
printf '\nIdle keep-alive connections: %s clients, one GET each, then idle; one worker per proxy; PSS of the proxy (master + workers)\n\n' "$CONNS"
printf '%-10s %12s %12s %10s %12s %12s %9s\n' target 'PSS before' 'PSS after' open 'KiB/conn' 'RSS KiB/conn' 'open (s)'
for t in "${targets[@]}"; do
	start_targets "$t"
	pid="${target_pid[$t]}"
	pss0="$(mem_kib "$pid")"
	rss0="$(mem_kib "$pid" Rss)"
	holder_out="$tmp/idleconns-$t.json"
	start "idleconns client ($t)" "$holder_out" env GOMAXPROCS=1 "${client_pin[@]}" "$tmp/idleconns" \
		--addr "127.0.0.1:${target_port[$t]}" -n "$CONNS"
	holder="$(last_pid)"
	deadline=$((SECONDS + OPEN_TIMEOUT))
	until grep -q '"open"' "$holder_out" 2>/dev/null; do
		kill -0 "$holder" 2>/dev/null || die "the idleconns client against $t exited: $(tail -n 5 "$holder_out")"
		kill -0 "$pid" 2>/dev/null || die "$t died while clients connected; its log: $(tail -n 20 "${target_log[$t]}")"
		((SECONDS < deadline)) || die "the idleconns client did not finish opening $CONNS connections to $t within ${OPEN_TIMEOUT}s"
		sleep 0.2
	done
	# SETTLE: measure after the connections were idle this long (a Go
	# process collects and returns freed memory on its own within about
	# two minutes of idleness; 0 measures the moment they are open).
	if ((SETTLE > 0)); then
		log "$t: connections open; measuring after ${SETTLE}s idle"
		sleep "$SETTLE"
	fi
	pss1="$(mem_kib "$pid")"
	rss1="$(mem_kib "$pid" Rss)"
	open="$(grep -o '"open": *[0-9]*' "$holder_out" | sed 's/.*: *//')"
	secs="$(grep -o '"open_s": *[0-9.]*' "$holder_out" | sed 's/.*: *//')"
	if ((open < CONNS)); then
		warn "$t: only $open of $CONNS connections succeeded ($(grep -o '"first_error": *"[^"]*"' "$holder_out" || true)); per-connection figures use $open"
	fi
	((open > 0)) || die "$t: no connection succeeded"
	per="$(awk -v a="$pss0" -v b="$pss1" -v n="$open" 'BEGIN { printf "%.2f", (b - a) / n }')"
	per_rss="$(awk -v a="$rss0" -v b="$rss1" -v n="$open" 'BEGIN { printf "%.2f", (b - a) / n }')"
	printf '%-10s %12s %12s %10s %12s %12s %9.1f\n' "$t" "$pss0" "$pss1" "$open" "$per" "$per_rss" "$secs"
	results+=("$(printf '{"name": "%s", "pss_before_kib": %s, "pss_after_kib": %s, "rss_before_kib": %s, "rss_after_kib": %s, "open": %s, "kib_per_conn": %s, "rss_kib_per_conn": %s, "open_seconds": %s}' \
		"$t" "$pss0" "$pss1" "$rss0" "$rss1" "$open" "$per" "$per_rss" "$secs")")

	per_conn[$t]="$per"
	stop_pids "$holder"
	stop_targets "$t"
done

rl=()
if [[ -n "${per_conn[nginx]:-}" ]]; then
	echo
	for t in "${targets[@]}"; do
		[[ "$t" != nginx ]] || continue
		r="$(ratio "${per_conn[$t]}" "${per_conn[nginx]}")"
		printf '%s/nginx KiB per connection: %s\n' "$t" "$r"
		rl+=("\"${t}_nginx_kib_per_conn\": $r")
	done
fi

{
	printf '{\n'
	printf '  "benchmark": "bench/idleconns.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": %s,\n' "$(host_json)"
	printf '  "config": {"conns": %s, "workers_per_proxy": 1, "pinned": %s, "metric": "PSS from /proc/PID/smaps_rollup, master + workers"},\n' \
		"$CONNS" "$([[ "$PIN" == 1 ]] && echo true || echo false)"
	printf '  "versions": %s,\n' "$(tool_versions_json)"
	printf '  "targets": [\n    %s\n  ],\n' "$(join_by $',\n    ' "${results[@]}")"
	printf '  "ratios": {%s}\n' "$(join_by ', ' "${rl[@]}")"
	printf '}\n'
} | write_json_report
