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

quick="${QUICK:-0}"
for arg in "$@"; do
	case "$arg" in
	--quick) quick=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "proxy.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

if [[ "$quick" == 1 ]]; then
	DURATION="${DURATION:-3s}"
	WARMUP="${WARMUP:-1s}"
	ROUNDS="${ROUNDS:-1}"
fi
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
ROUNDS="${ROUNDS:-3}"
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

# check_balance NAME URL: a few requests must reach both backends.
check_balance() {
	local name="$1" url="$2" i ids=() id
	for ((i = 0; i < 6; i++)); do
		id="$(curl -fsS -o /dev/null -D - --max-time 2 "$url" 2>/dev/null |
			tr -d '\r' | awk -F': *' 'tolower($1)=="x-backend-id"{print $2}')" ||
			die "$name: request to $url failed"
		ids+=("${id:-<none>}")
	done
	local uniq
	uniq="$(printf '%s\n' "${ids[@]}" | sort -u | tr '\n' ' ')"
	if [[ "$uniq" != *b1* || "$uniq" != *b2* ]]; then
		warn "$name: 6 requests reached backends [ ${uniq}] - expected both b1 and b2 (round robin)"
	fi
}

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

pick_port BACKEND1_PORT
pick_port BACKEND2_PORT
backends="127.0.0.1:$BACKEND1_PORT,127.0.0.1:$BACKEND2_PORT"
latency_args=()
if [[ -n "$BACKEND_LATENCY" ]]; then latency_args=(--latency "$BACKEND_LATENCY"); fi

case "$BACKENDS" in
drawbridge)
	for n in 1 2; do
		port_var="BACKEND${n}_PORT"
		start "backend b$n" "$tmp/backend$n.log" \
			env GOMAXPROCS=1 "${client_pin[@]}" "$drawbridge" backend \
			--listen "127.0.0.1:${!port_var}" --id "b$n" "${latency_args[@]}"
		wait_ready "drawbridge backend b$n" "$(last_pid)" "http://127.0.0.1:${!port_var}/healthz" "$tmp/backend$n.log"
	done
	;;
nginx) start_nginx_backends "$BACKEND1_PORT" "$BACKEND2_PORT" ;; # bench/lib.sh
*) die "BACKENDS must be 'drawbridge' or 'nginx', got '$BACKENDS'" ;;
esac
log "$BACKENDS backends b1=127.0.0.1:$BACKEND1_PORT b2=127.0.0.1:$BACKEND2_PORT"

# --------------------------------------------------------------- proxies ---

declare -A target_port target_pid target_log

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
	target_port[nginx]="$NGINX_PORT"
	target_pid[nginx]="$(last_pid)"
	target_log[nginx]="$dir/error.log"
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
	haproxy -c -q -f "$cfg" >"$tmp/haproxy-check.log" 2>&1 ||
		die "haproxy rejected its config ($cfg):
$(cat "$tmp/haproxy-check.log")"
	start haproxy "$tmp/haproxy.log" "${proxy_pin[@]}" haproxy -db -f "$cfg"
	target_port[haproxy]="$HAPROXY_PORT"
	target_pid[haproxy]="$(last_pid)"
	target_log[haproxy]="$tmp/haproxy.log"
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
	target_port[$name]="${!port_var}"
	target_pid[$name]="$(last_pid)"
	target_log[$name]="$tmp/$name.log"
}

start_gateway() { start_drawbridge_proxy gateway "$drawbridge"; }
start_baseline() { start_drawbridge_proxy baseline "$BASELINE_BIN"; }

start_stock() {
	pick_port STOCK_PORT
	start stock "$tmp/stock.log" env GOMAXPROCS=1 "${proxy_pin[@]}" \
		"$tmp/stockproxy" --listen "127.0.0.1:$STOCK_PORT" --to "$backends"
	target_port[stock]="$STOCK_PORT"
	target_pid[stock]="$(last_pid)"
	target_log[stock]="$tmp/stock.log"
}

for t in "${targets[@]}"; do
	"start_$t"
	wait_ready "$t" "${target_pid[$t]}" "http://127.0.0.1:${target_port[$t]}/" "${target_log[$t]}"
	check_balance "$t" "http://127.0.0.1:${target_port[$t]}/"
	log "$t ready on 127.0.0.1:${target_port[$t]}"
done

# ------------------------------------------------------------------- wrk ---

# run_wrk NAME DURATION OUTFILE: wrk against target NAME; fails loudly if wrk
# fails or the target died. wrk runs in the background so that a signal to
# this script is handled at once (the cleanup trap stops wrk too).
run_wrk() {
	local name="$1" dur="$2" outf="$3" rc=0
	"${client_pin[@]}" wrk -t1 "-c$CONNECTIONS" "-d$dur" --latency \
		"http://127.0.0.1:${target_port[$name]}/" >"$outf" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || rc=$?
	wrk_pid=""
	if ! kill -0 "${target_pid[$name]}" 2>/dev/null; then
		die "$name (pid ${target_pid[$name]}) died under load; its log (${target_log[$name]}):
$(tail -n 30 "${target_log[$name]}" 2>/dev/null)
wrk output:
$(cat "$outf")"
	fi
	((rc == 0)) || die "wrk against $name exited with status $rc:
$(cat "$outf")"
}

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
		if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
			run_wrk "$t" "$WARMUP" "$tmp/wrk-$t-warmup.txt"
		fi
		outf="$tmp/wrk-$t-$round.txt"
		ticks0="$(cpu_ticks "${target_pid[$t]}")"
		client0="$(cpu_stat "$CLIENT_CPU")"
		t0="$EPOCHREALTIME"
		run_wrk "$t" "$DURATION" "$outf"
		t1="$EPOCHREALTIME"
		client1="$(cpu_stat "$CLIENT_CPU")"
		ticks1="$(cpu_ticks "${target_pid[$t]}")"
		# Share of one core the proxy actually got while wrk ran: well
		# below 100 means it was starved (noisy neighbour on its CPU) or
		# the client side could not push it harder.
		cpu="$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$clk_tck" -v s="$t0" -v e="$t1" \
			'BEGIN { w = e - s; printf "%.1f", (w > 0) ? 100 * (b - a) / hz / w : 0 }')"
		# How busy the client CPU (wrk + backends + anyone else) was: near
		# 100 means the client side, not the proxy, set the pace.
		client="-1"
		if [[ "$PIN" == 1 && -n "$client0" && -n "$client1" ]]; then
			client="$(busy_pct "$client0" "$client1")"
		fi
		rps="$(awk '/^Requests\/sec:/ {print $2}' "$outf")"
		p99_raw="$(awk '$1 == "99%" {print $2}' "$outf")"
		[[ -n "$rps" && -n "$p99_raw" ]] || die "could not parse wrk output for $t:
$(cat "$outf")"
		p99="$(to_ms "$p99_raw")" || die "unknown latency unit in wrk output for $t: '$p99_raw'"
		reqs="$(awk '/ requests in / {print $1}' "$outf")"
		sockerr="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$outf")"
		non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$outf")"
		errors=$((${sockerr:-0} + ${non2xx:-0}))
		# Requests per second of proxy CPU time: how much work one fully
		# used core does. Robust to a neighbour stealing part of the
		# proxy's core (req/s drops, this does not); skipped (-1) when the
		# proxy got almost no CPU.
		eff="$(awk -v r="$rps" -v c="$cpu" 'BEGIN { if (c < 5) print -1; else printf "%.0f", r * 100 / c }')"
		printf '%s %s %s %s %s %s %s %s\n' "$t" "$rps" "$p99" "$errors" "${reqs:-0}" "$cpu" "$client" "$eff" >>"$samples"
		client_txt="n/a"
		[[ "$client" == -* ]] || client_txt="$client%"
		log "round $round/$ROUNDS $(printf '%-8s %10.0f req/s  p99 %8.3f ms  proxy cpu %5.1f%%  client cpu %6s  errors %s' \
			"$t" "$rps" "$p99" "$cpu" "$client_txt" "$errors")"
		if ((errors > 0)); then
			warn "$t: $errors errors in round $round (socket errors: ${sockerr:-0}, non-2xx/3xx: ${non2xx:-0}); wrk said:
$(grep -E 'Socket errors|Non-2xx' "$outf")"
		fi
	done
done

# ---------------------------------------------------------------- report ---


declare -A med_rps med_p99 med_cpu med_client med_eff tot_err
for t in "${targets[@]}"; do
	med_rps[$t]="$(median "$samples" 2 "$t")"
	med_p99[$t]="$(median "$samples" 3 "$t")"
	med_cpu[$t]="$(median "$samples" 6 "$t")"
	med_client[$t]="$(median "$samples" 7 "$t")"
	med_eff[$t]="$(median "$samples" 8 "$t")"
	tot_err[$t]="$(awk -v t="$t" '$1 == t {s += $4} END {print s + 0}' "$samples")"
done

pin_desc="none"
[[ "$PIN" == 1 ]] && pin_desc="proxy on CPU $PROXY_CPU; wrk + backends on CPU $CLIENT_CPU"
{
	printf '\nProxy benchmark: wrk -t1 -c%s -d%s, %s round(s), median shown; pinning: %s\n' \
		"$CONNECTIONS" "$DURATION" "$ROUNDS" "$pin_desc"
	printf 'backends: 2x %s%s\n' "$BACKENDS" "${BACKEND_LATENCY:+ (latency $BACKEND_LATENCY)}"
	printf '\n%-10s %12s %10s %10s %11s %14s %8s\n' target 'req/s' 'p99 (ms)' 'proxy cpu' 'client cpu' 'req/cpu-sec' errors
	printf '%-10s %12s %10s %10s %11s %14s %8s\n' ---------- ------------ ---------- ---------- ----------- -------------- --------
	for t in "${targets[@]}"; do
		if [[ "${med_client[$t]}" == -* ]]; then client="n/a"; else client="$(printf '%.1f%%' "${med_client[$t]}")"; fi
		if [[ "${med_eff[$t]}" == -* ]]; then eff="n/a"; else eff="$(printf '%.0f' "${med_eff[$t]}")"; fi
		printf '%-10s %12.0f %10.3f %9.1f%% %11s %14s %8s\n' "$t" "${med_rps[$t]}" "${med_p99[$t]}" \
			"${med_cpu[$t]}" "$client" "$eff" "${tot_err[$t]}"
	done
	echo
} | tee "$tmp/table.txt"

ratio_json=()
if [[ -n "${med_rps[nginx]:-}" ]]; then
	for t in gateway baseline haproxy stock; do
		[[ -n "${med_rps[$t]:-}" ]] || continue
		r_rps="$(ratio "${med_rps[$t]}" "${med_rps[nginx]}")"
		r_p99="$(ratio "${med_p99[$t]}" "${med_p99[nginx]}")"
		r_eff=null
		if [[ "${med_eff[$t]}" != -* && "${med_eff[nginx]}" != -* ]]; then
			r_eff="$(ratio "${med_eff[$t]}" "${med_eff[nginx]}")"
		fi
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
# (awk reads all input: an early-exiting `head` would SIGPIPE the writer,
# which pipefail turns into a failure.)
ver_nginx="$(nginx -v 2>&1 | awk 'NR == 1 {sub(/^nginx version: /, ""); print}' || true)"
ver_haproxy="$(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}' || true)"
ver_go="$(go version 2>/dev/null | awk '{print $3}' || true)"
ver_wrk="$(wrk -v 2>&1 | awk 'NR == 1 {print $2}' || true)"

target_json=()
for t in "${targets[@]}"; do
	mc="${med_client[$t]}"
	[[ "$mc" == -* ]] && mc=null
	me="${med_eff[$t]}"
	[[ "$me" == -* ]] && me=null
	runs=()
	while read -r _ rps p99 errs reqs cpu client eff; do
		[[ "$client" == -* ]] && client=null
		[[ "$eff" == -* ]] && eff=null
		runs+=("{\"rps\": $rps, \"p99_ms\": $p99, \"proxy_cpu_pct\": $cpu, \"client_cpu_busy_pct\": $client, \"rps_per_proxy_cpu\": $eff, \"errors\": $errs, \"requests\": $reqs}")
	done < <(awk -v t="$t" '$1 == t' "$samples")
	target_json+=("    {\"name\": \"$t\", \"port\": ${target_port[$t]}, \"rps\": ${med_rps[$t]}, \"p99_ms\": ${med_p99[$t]}, \"proxy_cpu_pct\": ${med_cpu[$t]}, \"client_cpu_busy_pct\": ${mc}, \"rps_per_proxy_cpu\": ${me}, \"errors\": ${tot_err[$t]},
     \"runs\": [$(join_by ', ' "${runs[@]}")]}")
done

mkdir -p "$(dirname -- "$OUT")"
{
	printf '{\n'
	printf '  "benchmark": "bench/proxy.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": {"cpus": %s, "kernel": %s, "loadavg_at_start": %s, "loadavg_at_end": %s},\n' "$ncpu" \
		"$(json_str "$(uname -sr)")" "$(json_str "$load_start")" "$(json_str "$(loadavg)")"
	printf '  "config": {"duration": %s, "warmup": %s, "rounds": %s, "threads": 1, "connections": %s, "pinned": %s, "proxy_cpu": %s, "client_cpu": %s, "backends": %s, "backend_latency": %s, "gateway_strategy": %s},\n' \
		"$(json_str "$DURATION")" "$(json_str "$WARMUP")" "$ROUNDS" "$CONNECTIONS" \
		"$([[ "$PIN" == 1 ]] && echo true || echo false)" "$PROXY_CPU" "$CLIENT_CPU" \
		"$(json_str "$BACKENDS")" "$(json_str "$BACKEND_LATENCY")" "$(json_str "$GATEWAY_STRATEGY")"
	printf '  "versions": {"nginx": %s, "haproxy": %s, "go": %s, "wrk": %s},\n' \
		"$(json_str "$ver_nginx")" "$(json_str "$ver_haproxy")" "$(json_str "$ver_go")" "$(json_str "$ver_wrk")"
	printf '  "targets": [\n%s\n  ],\n' "$(join_by $',\n' "${target_json[@]}")"
	printf '  "ratios": {%s}\n' "$(join_by ', ' "${ratio_json[@]}")"
	printf '}\n'
} >"$OUT.tmp"
mv -f -- "$OUT.tmp" "$OUT"
log "wrote $OUT"
