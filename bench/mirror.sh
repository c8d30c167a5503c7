#!/usr/bin/env bash
# bench/mirror.sh - does a traffic mirror add latency for the client? The
# goal: "a mirror adds no latency to the client's p99 beyond 5%". One
# gateway, two routes to the same pool: /plain, and /mirrored with
# `mirror: {pool: shadow, percent: 100}` to a shadow backend that answers
# after SHADOW_LATENCY (50ms). An open-loop load (bench/openloop, latency from
# the intended send time) alternates between the two routes in interleaved
# rounds; the report is the ratio of the mirrored route's p99 to the plain
# one's.
#
# Usage: bash bench/mirror.sh [--quick] [--help]     (works from any cwd)
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: bash bench/mirror.sh [--quick] [--help]

One drawbridge gateway (GOMAXPROCS=1, CPU 0) with two routes to the same two
static nginx backends: /plain, and /mirrored with a 100% mirror to a shadow
pool whose `drawbridge backend` answers after SHADOW_LATENCY. An open-loop
load at RATE req/s alternates between the routes; reports p50/p99/p99.9 of
each and the mirrored/plain p99 ratio (goal: <= MAX_RATIO).

Options:
  --quick        smoke test: 1 round of 3s, 1s warm-up (same as QUICK=1)
  -h, --help     this text

Environment (defaults in brackets):
  DURATION=10s WARMUP=2s ROUNDS=5   per measured run, interleaved rounds
  RATE=500           open-loop requests per second (copies in flight are
                     about RATE x SHADOW_LATENCY: keep it under MAX_IN_FLIGHT,
                     or copies are dropped, which would flatter the mirror)
  CONNECTIONS=64     open-loop connections
  SHADOW_LATENCY=50ms  delay of the shadow backend
  MAX_IN_FLIGHT=     mirror max_in_flight (unset: the gateway's default)
  MAX_RATIO=1.05     goal for the p99 ratio
  PIN=1 PROXY_CPU=0 CLIENT_CPU=1  gateway on CPU 0; load and backends on CPU 1
  OUT=bench/results/mirror-latest.json     JSON report
  DRAWBRIDGE_BIN= READY_TIMEOUT=5 KEEP_TMP=1 NO_INSTALL=1  as in proxy.sh
EOF
}

parse_bench_args "$@"
round_defaults 5 # bench/lib.sh
RATE="${RATE:-500}"
CONNECTIONS="${CONNECTIONS:-64}"
SHADOW_LATENCY="${SHADOW_LATENCY:-50ms}"
MAX_IN_FLIGHT="${MAX_IN_FLIGHT:-}"
MAX_RATIO="${MAX_RATIO:-1.05}"
READY_TIMEOUT="${READY_TIMEOUT:-5}"
OUT="${OUT:-bench/results/mirror-latest.json}"
[[ "$OUT" == /* ]] || OUT="$repo_root/$OUT"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive integer, got '$RATE'"

ensure_tools nginx curl taskset
setup_host
bench_init
build_drawbridge
build_go_tool openloop

BACKENDS=nginx
start_two_backends
pick_port SHADOW_PORT
start_drawbridge_backend 3 "$SHADOW_PORT" --latency "$SHADOW_LATENCY" # the shadow, b3

dir="$tmp/gateway"
mkdir -p "$dir"
pick_port GATEWAY_PORT
pick_port GATEWAY_ADMIN_PORT
{
	gateway_yaml_listen "$GATEWAY_PORT" "$GATEWAY_ADMIN_PORT"
	printf '  - name: plain\n    match: {path_prefix: /plain}\n    pool: p\n'
	printf '  - name: mirrored\n    match: {path_prefix: /mirrored}\n    pool: p\n'
	printf '    mirror: {pool: shadow, percent: 100%s}\n' "${MAX_IN_FLIGHT:+, max_in_flight: $MAX_IN_FLIGHT}"
	gateway_yaml_pools
	printf '  - name: shadow\n    backends:\n      - {address: "127.0.0.1:%s", id: b3}\n' "$SHADOW_PORT"
} >"$dir/gateway.yaml"
run_gateway gateway "$dir" "(config:)
$(cat "$dir/gateway.yaml")"
gw_pid="$(last_pid)"
for route in plain mirrored; do
	target_port[$route]="$GATEWAY_PORT"
	target_pid[$route]="$gw_pid"
	target_log[$route]="$dir/gateway.log"
	wait_ready "gateway /$route" "$gw_pid" "http://127.0.0.1:$GATEWAY_PORT/$route" "$dir/gateway.log"
done

# mirror_counts: the gateway's drawbridge_mirror_requests_total series, one
# "labels value" per line.
mirror_counts() {
	curl -fsS --max-time 2 "http://127.0.0.1:$GATEWAY_ADMIN_PORT/metrics" 2>/dev/null |
		awk '/^drawbridge_mirror_requests_total/ {print $1, $2}' || true
}

lat="$tmp/latency"
: >"$lat"
log "open loop at $RATE req/s, $CONNECTIONS connections; shadow answers after $SHADOW_LATENCY"
for ((round = 1; round <= ROUNDS; round++)); do
	order=(plain mirrored)
	((round % 2)) || order=(mirrored plain)
	for route in "${order[@]}"; do
		f="$tmp/openloop-$route-$round.json"
		run_openloop "$route" "$RATE" "$f" --path "/$route" # bench/lib.sh
		errs=$(($(json_num "$f" errors) + $(json_num "$f" non_2xx)))
		printf '%s %s %s %s %s %s\n' "$route" "$(json_num "$f" p50_ms)" "$(json_num "$f" p99_ms)" \
			"$(json_num "$f" p999_ms)" "$(json_num "$f" achieved_rps)" "$errs" >>"$lat"
		log "round $round/$ROUNDS $(printf '%-9s p50 %7.3f  p99 %7.3f  p99.9 %7.3f ms  achieved %6.0f/s  errors %s' "$route" \
			"$(json_num "$f" p50_ms)" "$(json_num "$f" p99_ms)" "$(json_num "$f" p999_ms)" "$(json_num "$f" achieved_rps)" "$errs")"
	done
done

counts="$(mirror_counts)"
declare -A p50 p99 p999
rj=()
printf '\nMirror cost: open loop %s req/s, %s connections, %s x %s rounds, median; shadow latency %s\n\n' \
	"$RATE" "$CONNECTIONS" "$DURATION" "$ROUNDS" "$SHADOW_LATENCY"
printf '%-9s %9s %9s %10s %10s %7s\n' route 'p50 ms' 'p99 ms' 'p99.9 ms' achieved errors
for route in plain mirrored; do
	p50[$route]="$(median "$lat" 2 "$route")" p99[$route]="$(median "$lat" 3 "$route")" p999[$route]="$(median "$lat" 4 "$route")"
	achieved="$(median "$lat" 5 "$route")"
	errs="$(awk -v t="$route" '$1 == t {s += $6} END {print s + 0}' "$lat")"
	printf '%-9s %9.3f %9.3f %10.3f %10.0f %7s\n' "$route" "${p50[$route]}" "${p99[$route]}" "${p999[$route]}" "$achieved" "$errs"
	rj+=("$(printf '{"route": "%s", "p50_ms": %s, "p99_ms": %s, "p999_ms": %s, "achieved_rps": %s, "errors": %s}' \
		"$route" "${p50[$route]}" "${p99[$route]}" "${p999[$route]}" "$achieved" "$errs")")
done
r99="$(ratio "${p99[mirrored]}" "${p99[plain]}")"
r999="$(ratio "${p999[mirrored]}" "${p999[plain]}")"
# The same ratio within each round (the two runs were back to back), then
# the median: steadier when the machine's load drifts between rounds.
pairs="$tmp/pairs"
awk '$1 == "plain" {p[++np] = $3} $1 == "mirrored" {m[++nm] = $3}
	END { for (i = 1; i <= np && i <= nm; i++) if (p[i] > 0) printf "r %.3f\n", m[i] / p[i] }' "$lat" >"$pairs"
r99_paired="$(median "$pairs" 2 r)"
pass="$(awk -v r="$r99" -v m="$MAX_RATIO" 'BEGIN { print (r != "null" && r + 0 <= m + 0) ? "true" : "false" }')"
printf '\nmirrored/plain p99 ratio: %s (p99.9: %s); median of the per-round p99 ratios: %.2f (rounds: %s)\n' \
	"$r99" "$r999" "$r99_paired" "$(awk '{printf "%s%s", (NR > 1 ? " " : ""), $2}' "$pairs")"
printf 'mirror copies (drawbridge_mirror_requests_total):\n%s\n' "${counts:-  (none reported)}"
printf 'goal mirrored/plain p99 <= %s: %s\n' "$MAX_RATIO" "$([[ "$pass" == true ]] && echo PASS || echo FAIL)"
if ! grep -q . <<<"$counts"; then warn "the gateway reported no mirror copies: is the mirror wired?"; fi
counts_json=()
while read -r series value; do
	[[ -n "$series" ]] && counts_json+=("$(json_str "$series"): $value")
done <<<"$counts"

{
	printf '{\n'
	printf '  "benchmark": "bench/mirror.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": %s,\n' "$(host_json)"
	printf '  "config": {"duration": %s, "warmup": %s, "rounds": %s, "rate": %s, "connections": %s, "shadow_latency": %s, "max_in_flight": %s, "pinned": %s},\n' \
		"$(json_str "$DURATION")" "$(json_str "$WARMUP")" "$ROUNDS" "$RATE" "$CONNECTIONS" "$(json_str "$SHADOW_LATENCY")" \
		"$(json_str "$MAX_IN_FLIGHT")" "$([[ "$PIN" == 1 ]] && echo true || echo false)"
	printf '  "gateway_config": %s,\n' "$(json_str "$(cat "$dir/gateway.yaml")")"
	printf '  "routes": [\n    %s\n  ],\n' "$(join_by $',\n    ' "${rj[@]}")"
	printf '  "mirror_requests_total": {%s},\n' "$(join_by ', ' "${counts_json[@]}")"
	printf '  "ratios": {"mirrored_plain_p99": %s, "mirrored_plain_p999": %s, "mirrored_plain_p99_per_round_median": %s},\n' "$r99" "$r999" "$r99_paired"
	printf '  "max_ratio": %s,\n  "pass": %s\n' "$MAX_RATIO" "$pass"
	printf '}\n'
} | write_json_report
