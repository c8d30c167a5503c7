#!/usr/bin/env bash
# bench/proxy.sh - compare the drawbridge gateway against nginx, haproxy and a
# stock net/http/httputil.ReverseProxy, all proxying to the same two
# `drawbridge backend` processes on loopback, measured with wrk.
#
# Usage: bash bench/proxy.sh [--quick] [--help]     (works from any cwd)
# Knobs (environment): see usage() below and bench/README.md.
#
# CPU pinning (PIN=1, the default, needs >= 2 CPUs and taskset):
#   CPU 0: the proxy under test, alone. Every proxy gets exactly one core
#          (nginx: worker_processes 1; haproxy: nbthread 1; Go proxies:
#          GOMAXPROCS=1), so the comparison is "requests per core", which is
#          what the gateway's design targets are stated in.
#   CPU 1: wrk (-t1) and both backends (GOMAXPROCS=1 each). They are the same
#          for every target, so whatever they cost is a constant; keeping them
#          off CPU 0 stops the load generator and the backends from stealing
#          cycles from the proxy being measured (and vice versa).
#   Caveat: if CPU 1 saturates before CPU 0 does, every target is capped by
#   the client side and the ratios compress toward 1.00; the README explains
#   how to spot that. PIN=0 disables pinning (everything floats on all CPUs).
set -Eeuo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
bench_name=proxy.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$script_dir/lib.sh"

usage() {
	cat <<'EOF'
Usage: bash bench/proxy.sh [--quick] [--help]

Benchmarks reverse proxies on loopback with wrk: nginx, haproxy, the drawbridge
gateway (`drawbridge gateway proxy`) and, optionally, a stock Go
httputil.ReverseProxy, all in front of the same two `drawbridge backend`s.

Options:
  --quick        smoke test: 1 round of 3s, 1s warm-up (same as QUICK=1)
  -h, --help     this text

Environment (defaults in brackets):
  DURATION=10s       wrk duration of each measured run
  WARMUP=2s          wrk warm-up before each measured run ("0" disables)
  ROUNDS=3           interleaved rounds; the report shows the median of each
  CONNECTIONS=64     wrk -c (wrk always runs with -t1)
  TARGETS="nginx haproxy gateway stock"   which targets, in this order
  STOCK=1            include the stock httputil.ReverseProxy target
  PIN=1              pin proxy to CPU 0, wrk and backends to CPU 1
  PROXY_CPU=0 CLIENT_CPU=1                 the CPUs used when pinning
  BACKEND_LATENCY=   passed as --latency to both backends when set (e.g. 1ms)
  BACKENDS=drawbridge  "nginx": serve both backends from one static nginx
                     worker instead (cheaper, leaves more client CPU; see README)
  GATEWAY_STRATEGY=round_robin             --strategy of the gateway
  OUT=bench/results/proxy-latest.json      JSON report (relative to repo root)
  DRAWBRIDGE_BIN=    use this drawbridge binary instead of building one
  BASELINE_BIN=      also measure this (older) drawbridge binary as target
                     "baseline", with the gateway's flags, in the same rounds:
                     the honest before/after of a change's hop cost
  BACKEND1_PORT BACKEND2_PORT NGINX_PORT HAPROXY_PORT GATEWAY_PORT
  GATEWAY_ADMIN_PORT STOCK_PORT
                     fixed ports (default: random free high ports)
  READY_TIMEOUT=5    seconds to wait for each listener to come up
  NO_INSTALL=1       never apt-get install missing tools, fail instead
EOF
}

parse_bench_args "$@"

round_defaults 3 # bench/lib.sh
CONNECTIONS="${CONNECTIONS:-64}"
STOCK="${STOCK:-1}"
PIN="${PIN:-1}"
PROXY_CPU="${PROXY_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
BACKEND_LATENCY="${BACKEND_LATENCY:-}"
GATEWAY_STRATEGY="${GATEWAY_STRATEGY:-round_robin}"
BACKENDS="${BACKENDS:-drawbridge}"
READY_TIMEOUT="${READY_TIMEOUT:-5}"
OUT="${OUT:-bench/results/proxy-latest.json}"
if [[ -n "${TARGETS:-}" ]]; then
	read -r -a targets <<<"$TARGETS"
else
	targets=(nginx haproxy gateway)
	if [[ -n "${BASELINE_BIN:-}" ]]; then targets+=(baseline); fi
	if [[ "$STOCK" == 1 ]]; then targets+=(stock); fi
fi
[[ "$OUT" == /* ]] || OUT="$repo_root/$OUT"

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, got '$CONNECTIONS'"
if [[ "$BACKENDS" == nginx && -n "$BACKEND_LATENCY" ]]; then
	die "BACKEND_LATENCY needs BACKENDS=drawbridge (the nginx backends cannot delay answers)"
fi
[[ "$READY_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "READY_TIMEOUT must be a positive integer (seconds), got '$READY_TIMEOUT'"
for t in "${targets[@]}"; do
	case "$t" in
	nginx | haproxy | gateway | stock) ;;
	baseline) [[ -x "${BASELINE_BIN:-}" ]] || die "target baseline needs BASELINE_BIN=/path/to/an/older/drawbridge (got '${BASELINE_BIN:-}')" ;;
	*) die "unknown target '$t' in TARGETS (known: nginx haproxy gateway baseline stock)" ;;
	esac
done
((${#targets[@]} > 0)) || die "TARGETS is empty"

# ---------------------------------------------------------------- tools -----

ensure_tools wrk nginx haproxy curl taskset
setup_host

# ------------------------------------------------------ process tracking ---

# Temp dir, cleanup traps, pick_port, start, wait_ready: bench/lib.sh.
bench_init

# ----------------------------------------------------------------- build ---

build_drawbridge
if [[ " ${targets[*]} " == *" stock "* ]]; then
	log "building stock proxy (go build ./bench/stockproxy)"
	if ! (cd "$repo_root" && go build -o "$tmp/stockproxy" ./bench/stockproxy) >"$tmp/build-stock.log" 2>&1; then
		die "go build ./bench/stockproxy failed:
$(cat "$tmp/build-stock.log")"
	fi
fi

# -------------------------------------------------------------- backends ---

latency_args=()
if [[ -n "$BACKEND_LATENCY" ]]; then latency_args=(--latency "$BACKEND_LATENCY"); fi
start_two_backends "${latency_args[@]}" # bench/lib.sh
backends="127.0.0.1:$BACKEND1_PORT,127.0.0.1:$BACKEND2_PORT"

# --------------------------------------------------------------- proxies ---

start_nginx() {
	local dir="$tmp/nginx"
	mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
	pick_port NGINX_PORT
	# keepalive_requests/timeout are raised so nginx, like haproxy and the Go
	# proxies, never closes wrk's or its upstream keep-alive connections
	# mid-run (nginx's default closes them every 1000 requests).
	{ nginx_preamble "$dir"; cat <<EOF
    upstream drawbridge_backends {
        server 127.0.0.1:$BACKEND1_PORT;
        server 127.0.0.1:$BACKEND2_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://drawbridge_backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
	} >"$dir/nginx.conf"
	run_nginx nginx "$dir" "${proxy_pin[@]}"
	set_target nginx "$NGINX_PORT" "$dir/error.log"
}

start_haproxy() {
	local cfg="$tmp/haproxy.cfg"
	pick_port HAPROXY_PORT
	cat >"$cfg" <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 75s

frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend drawbridge_backends

backend drawbridge_backends
    balance roundrobin
    server b1 127.0.0.1:$BACKEND1_PORT
    server b2 127.0.0.1:$BACKEND2_PORT
EOF
	run_haproxy haproxy "$cfg" "$tmp/haproxy.log"
	set_target haproxy "$HAPROXY_PORT" "$tmp/haproxy.log"
}

# start_drawbridge_proxy NAME BINARY: `gateway proxy` of BINARY as target NAME.
start_drawbridge_proxy() {
	local name="$1" bin="$2"
	# GATEWAY_PORT/GATEWAY_ADMIN_PORT, BASELINE_PORT/BASELINE_ADMIN_PORT
	local port_var="${name^^}_PORT" admin_var="${name^^}_ADMIN_PORT"
	pick_port "$port_var"
	# The admin listener gets its own free port: another gateway on this
	# machine may hold the default one.
	pick_port "$admin_var"
	start "$name" "$tmp/$name.log" env GOMAXPROCS=1 "${proxy_pin[@]}" \
		"$bin" gateway proxy --listen "127.0.0.1:${!port_var}" \
		--to "$backends" --strategy "$GATEWAY_STRATEGY" --admin "127.0.0.1:${!admin_var}"
	set_target "$name" "${!port_var}" "$tmp/$name.log"
}

start_gateway() { start_drawbridge_proxy gateway "$drawbridge"; }
start_baseline() { start_drawbridge_proxy baseline "$BASELINE_BIN"; }

start_stock() {
	pick_port STOCK_PORT
	start stock "$tmp/stock.log" env GOMAXPROCS=1 "${proxy_pin[@]}" \
		"$tmp/stockproxy" --listen "127.0.0.1:$STOCK_PORT" --to "$backends"
	set_target stock "$STOCK_PORT" "$tmp/stock.log"
}

for t in "${targets[@]}"; do
	"start_$t"
	wait_ready "$t" "${target_pid[$t]}" "http://127.0.0.1:${target_port[$t]}/" "${target_log[$t]}"
	check_spread "$t" "http://127.0.0.1:${target_port[$t]}/" b1 b2
	log "$t ready on 127.0.0.1:${target_port[$t]}"
done

# ------------------------------------------------------------------- wrk ---

# Samples, one line per measured run:
#   target rps p99_ms errors requests proxy_cpu_pct client_cpu_busy_pct
#   rps_per_proxy_core          (-1: not available)
samples="$tmp/samples"
: >"$samples"
n_targets=${#targets[@]}

for ((round = 1; round <= ROUNDS; round++)); do
	# Rotate the order every round so no target always runs first/last.
	for ((k = 0; k < n_targets; k++)); do
		t="${targets[$(((k + round - 1) % n_targets))]}"
		measure_run "$t" "$round" # bench/lib.sh
	done
done

# ---------------------------------------------------------------- report ---


summarize_samples "${targets[@]}"

pin_desc="none"
[[ "$PIN" == 1 ]] && pin_desc="proxy on CPU $PROXY_CPU; wrk + backends on CPU $CLIENT_CPU"
{
	printf '\nProxy benchmark: wrk -t1 -c%s -d%s, %s round(s), median shown; pinning: %s\n' \
		"$CONNECTIONS" "$DURATION" "$ROUNDS" "$pin_desc"
	printf 'backends: 2x %s%s\n' "$BACKENDS" "${BACKEND_LATENCY:+ (latency $BACKEND_LATENCY)}"
	samples_table "${targets[@]}"
	echo
} | tee "$tmp/table.txt"

ratio_json=()
if [[ -n "${med_rps[nginx]:-}" ]]; then
	for t in gateway baseline haproxy stock; do
		[[ -n "${med_rps[$t]:-}" ]] || continue
		r_rps="$(ratio "${med_rps[$t]}" "${med_rps[nginx]}")"
		r_p99="$(ratio "${med_p99[$t]}" "${med_p99[nginx]}")"
		r_eff="$(eff_ratio "$t" nginx)"
		printf '%s/nginx req/s ratio: %s\n' "$t" "$r_rps"
		printf '%s/nginx p99 ratio: %s\n' "$t" "$r_p99"
		printf '%s/nginx req/cpu-sec ratio: %s\n' "$t" "$r_eff"
		ratio_json+=("\"${t}_nginx_rps\": $r_rps" "\"${t}_nginx_p99\": $r_p99" "\"${t}_nginx_rps_per_cpu\": $r_eff")
	done
else
	echo "(no nginx target: ratios skipped)"
fi
# A proxy that used well under its core was not what limited its req/s.
capped=()
for t in "${targets[@]}"; do
	if awk -v p="${med_cpu[$t]}" 'BEGIN { exit !(p < 80) }'; then
		capped+=("$t ($(printf '%.0f' "${med_cpu[$t]}")%)")
	fi
done
if ((${#capped[@]} > 0)); then
	hint="a quieter machine"
	[[ "$BACKENDS" == nginx ]] || hint="BACKENDS=nginx (cheaper backends) or $hint"
	warn "not proxy-bound: ${capped[*]} used < 80% of a core, so req/s was limited by the client side (wrk + backends, see 'client cpu') or by neighbours, not by the proxy; compare the req/cpu-sec column, or use $hint"
fi
total_errors=0
for t in "${targets[@]}"; do total_errors=$((total_errors + tot_err[$t])); done
((total_errors == 0)) || warn "some runs had errors (see the errors column); treat those numbers with care"

# JSON report.
target_json=()
for t in "${targets[@]}"; do
	target_json+=("$(sample_target_json "$t" "\"port\": ${target_port[$t]}, ")")
done

{
	printf '{\n'
	printf '  "benchmark": "bench/proxy.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": %s,\n' "$(host_json)"
	printf '  "config": {"duration": %s, "warmup": %s, "rounds": %s, "threads": 1, "connections": %s, "pinned": %s, "proxy_cpu": %s, "client_cpu": %s, "backends": %s, "backend_latency": %s, "gateway_strategy": %s},\n' \
		"$(json_str "$DURATION")" "$(json_str "$WARMUP")" "$ROUNDS" "$CONNECTIONS" \
		"$([[ "$PIN" == 1 ]] && echo true || echo false)" "$PROXY_CPU" "$CLIENT_CPU" \
		"$(json_str "$BACKENDS")" "$(json_str "$BACKEND_LATENCY")" "$(json_str "$GATEWAY_STRATEGY")"
	printf '  "versions": %s,\n' "$(tool_versions_json)"
	printf '  "targets": [\n%s\n  ],\n' "$(join_by $',\n' "${target_json[@]}")"
	printf '  "ratios": {%s}\n' "$(join_by ', ' "${ratio_json[@]}")"
	printf '}\n'
} | write_json_report
