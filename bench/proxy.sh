#!/usr/bin/env bash
# bench/proxy.sh - compare the drawbridge gateway against nginx, haproxy,
# Caddy and a stock net/http/httputil.ReverseProxy, all proxying to the same
# two backends on loopback (static nginx by default, so the proxy is the
# bottleneck): throughput per proxy CPU-second for several response sizes and
# without keep-alive, open-loop tail latency at 80% of each proxy's peak,
# syscalls per request, and the same on two cores.
#
# Usage: bash bench/proxy.sh [--quick] [--help]     (works from any cwd)
# Knobs (environment): see usage() below and bench/README.md.
#
# CPU pinning (PIN=1, the default, needs >= 2 CPUs and taskset):
#   CPU 0: the proxy under test, alone. Every proxy gets exactly one core
#          (nginx: worker_processes 1; haproxy: nbthread 1; Go proxies:
#          GOMAXPROCS=1), so the comparison is "requests per core", which is
#          what the gateway's design targets are stated in.
#   CPU 1: wrk (-t1) and the backends (one static nginx worker). They are the same
#          for every target, so whatever they cost is a constant; keeping them
#          off CPU 0 stops the load generator and the backends from stealing
#          cycles from the proxy being measured (and vice versa).
#   Caveat: if CPU 1 saturates before CPU 0 does, every target is capped by
#   the client side and the ratios compress toward 1.00; the README explains
#   how to spot that. PIN=0 disables pinning (everything floats on all CPUs).
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: bash bench/proxy.sh [--quick] [--help]

Benchmarks reverse proxies on loopback: nginx, haproxy, Caddy, the drawbridge
gateway (`drawbridge gateway proxy`) and a stock Go httputil.ReverseProxy, all
in front of the same two backends. Phases (PHASES):
  throughput  wrk, proxy alone on one core: req/s, p99 and requests per proxy
              CPU-second, for each response size (SIZES) and, for the small
              one, with Connection: close (CLOSE=1)
  latency     open-loop constant rate at LOAD_FRACTION of each proxy's
              measured small keep-alive peak: p50/p99/p99.9 from the intended
              send time (bench/openloop)
  syscalls    strace -c -f on each proxy during a short wrk run: syscalls per
              request (strace slows the proxy; not mixed with throughput)
  multicore   every proxy on MULTI_CORES cores (workers/threads/GOMAXPROCS),
              wrk -t2, nothing pinned: req/s and its ratio to MULTI_CORES x the
              one-core req/s (the load generator shares the cores: see README)

Options:
  --quick        smoke test: 1 round of 3s, 1s warm-up (same as QUICK=1)
  -h, --help     this text

Environment (defaults in brackets):
  DURATION=10s       duration of each measured run
  WARMUP=2s          warm-up before each measured run ("0" disables)
  ROUNDS=3           interleaved rounds; the report shows the median of each
  CONNECTIONS=64     wrk -c and open-loop connections (wrk runs with -t1)
  TARGETS="nginx haproxy caddy gateway stock"   which targets, in this order
  STOCK=1            include the stock httputil.ReverseProxy target
  PHASES="throughput latency syscalls multicore"
  SIZES="small 4k 64k"  response bodies (small = ~15 bytes)
  CLOSE=1            also run small responses with Connection: close
  LOAD_FRACTION=0.8  open-loop rate as a share of each proxy's peak req/s
  STRACE_DURATION=3s wrk run under strace in the syscalls phase
  MULTI_CORES=2      cores per proxy in the multicore phase
  PIN=1              pin proxy to CPU 0, wrk and backends to CPU 1
  PROXY_CPU=0 CLIENT_CPU=1                 the CPUs used when pinning
  BACKENDS=nginx     "drawbridge": two `drawbridge backend`s instead of static
                     nginx (the old mode; the client CPU then often caps
                     nginx and haproxy; small responses only)
  BACKEND_LATENCY=   with BACKENDS=drawbridge: --latency of both backends
  GATEWAY_STRATEGY=round_robin             --strategy of the gateway
  GATEWAY_ENGINE=h1  BASELINE_ENGINE=       --engine of the gateway / the baseline (default: no flag, net/http)
  OUT=bench/results/proxy-latest.json      JSON report (relative to repo root)
  DRAWBRIDGE_BIN=    use this drawbridge binary instead of building one
  BASELINE_BIN=      also measure this (older) drawbridge binary as target
                     "baseline", with the gateway's flags, in the same rounds:
                     the honest before/after of a change's hop cost
  BACKEND1_PORT BACKEND2_PORT NGINX_PORT HAPROXY_PORT CADDY_PORT GATEWAY_PORT
  GATEWAY_ADMIN_PORT STOCK_PORT
                     fixed ports (default: random free high ports)
  READY_TIMEOUT=5    seconds to wait for each listener to come up
  KEEP_TMP=1         keep the temp dir (configs, logs, raw outputs)
  NO_INSTALL=1       never apt-get install missing tools, fail instead
EOF
}

parse_bench_args "$@"

round_defaults 3 # bench/lib.sh
CONNECTIONS="${CONNECTIONS:-64}"
STOCK="${STOCK:-1}"
BACKEND_LATENCY="${BACKEND_LATENCY:-}"
GATEWAY_STRATEGY="${GATEWAY_STRATEGY:-round_robin}"
BACKENDS="${BACKENDS:-nginx}"
READY_TIMEOUT="${READY_TIMEOUT:-5}"
OUT="${OUT:-bench/results/proxy-latest.json}"
PHASES="${PHASES-throughput latency syscalls multicore}"
CLOSE="${CLOSE:-1}"
LOAD_FRACTION="${LOAD_FRACTION:-0.8}"
MULTI_CORES="${MULTI_CORES:-2}"
if [[ "$quick" == 1 ]]; then STRACE_DURATION="${STRACE_DURATION:-2s}"; fi
STRACE_DURATION="${STRACE_DURATION:-3s}"
if [[ "$BACKENDS" == drawbridge ]]; then SIZES="${SIZES:-small}"; fi
SIZES="${SIZES:-small 4k 64k}"
read -r -a sizes <<<"$SIZES"
read -r -a phases <<<"$PHASES"
if [[ -n "${TARGETS:-}" ]]; then
	read -r -a targets <<<"$TARGETS"
else
	targets=(nginx haproxy caddy gateway)
	if [[ -n "${BASELINE_BIN:-}" ]]; then targets+=(baseline); fi
	if [[ "$STOCK" == 1 ]]; then targets+=(stock); fi
fi
[[ "$OUT" == /* ]] || OUT="$repo_root/$OUT"
has_phase() { [[ " ${phases[*]} " == *" $1 "* ]]; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, got '$CONNECTIONS'"
[[ "$MULTI_CORES" =~ ^[1-9][0-9]*$ ]] || die "MULTI_CORES must be a positive integer, got '$MULTI_CORES'"
if [[ "$BACKENDS" == nginx && -n "$BACKEND_LATENCY" ]]; then
	die "BACKEND_LATENCY needs BACKENDS=drawbridge (the nginx backends cannot delay answers)"
fi
if [[ "$BACKENDS" == drawbridge && "$SIZES" != small ]]; then
	die "SIZES other than 'small' need BACKENDS=nginx (drawbridge backends answer one size)"
fi
[[ "$READY_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "READY_TIMEOUT must be a positive integer (seconds), got '$READY_TIMEOUT'"
for sz in "${sizes[@]}"; do size_path "$sz" >/dev/null; done
for ph in "${phases[@]}"; do
	case "$ph" in throughput | latency | syscalls | multicore) ;; *) die "unknown phase '$ph' in PHASES" ;; esac
done
if has_phase latency && ! has_phase throughput; then
	die "PHASES: latency needs throughput (its rate is a share of the measured peak)"
fi
for t in "${targets[@]}"; do
	case "$t" in
	nginx | haproxy | caddy | gateway | stock) ;;
	baseline) [[ -x "${BASELINE_BIN:-}" ]] || die "target baseline needs BASELINE_BIN=/path/to/an/older/drawbridge (got '${BASELINE_BIN:-}')" ;;
	*) die "unknown target '$t' in TARGETS (known: nginx haproxy caddy gateway baseline stock)" ;;
	esac
done
((${#targets[@]} > 0)) || die "TARGETS is empty"

# ---------------------------------------------------------------- tools -----

tools=(wrk nginx haproxy curl taskset)
[[ " ${targets[*]} " != *" caddy "* ]] || tools+=(caddy)
! has_phase syscalls || tools+=(strace)
ensure_tools "${tools[@]}"
setup_host
pinned_json="$([[ "$PIN" == 1 ]] && echo true || echo false)"

# Temp dir, cleanup traps, pick_port, start, wait_ready: bench/lib.sh.
bench_init

build_drawbridge
[[ " ${targets[*]} " != *" stock "* ]] || build_go_tool stockproxy
! has_phase latency || build_go_tool openloop

latency_args=()
if [[ -n "$BACKEND_LATENCY" ]]; then latency_args=(--latency "$BACKEND_LATENCY"); fi
start_two_backends "${latency_args[@]}" # bench/lib.sh
backend_addrs="127.0.0.1:$BACKEND1_PORT,127.0.0.1:$BACKEND2_PORT"
start_targets "${targets[@]}" # bench/lib.sh

n_targets=${#targets[@]}
# rotated K ROUND: the K-th target of ROUND; the order rotates every round so
# no target always runs first or last.
rotated() { printf '%s' "${targets[$((($1 + $2 - 1) % n_targets))]}"; }
# ratio_list KEY_SUFFIX ARRAY: appends to rl the JSON members
# "T_nginx_KEY_SUFFIX": ARRAY[T] / ARRAY[nginx], for every other target with
# a value.
ratio_list() {
	local -n v="$2"
	local t
	[[ -n "${v[nginx]:-}" && "${v[nginx]}" != -* ]] || return 0
	for t in "${targets[@]}"; do
		[[ "$t" != nginx && -n "${v[$t]:-}" && "${v[$t]}" != -* ]] || continue
		rl+=("\"${t}_nginx_$1\": $(ratio "${v[$t]}" "${v[nginx]}")")
	done
}

report=() # JSON members of the report, one per scenario/phase
declare -A peak eff1 p50 p99 p999 sys_per_req multi_rps multi_scaling

# ------------------------------------------------------------ throughput ---

# throughput_scenario NAME PATH [WRK ARG...]: ROUNDS interleaved rounds of
# every target; prints the table and the ratios to nginx, adds the JSON.
throughput_scenario() {
	local scen="$1" t k round tj=()
	wrk_path="$2"
	shift 2
	samples="$tmp/samples-$scen"
	: >"$samples"
	log "throughput: $scen (GET $wrk_path${*:+ $*})"
	for ((round = 1; round <= ROUNDS; round++)); do
		for ((k = 0; k < n_targets; k++)); do
			t="$(rotated "$k" "$round")"
			measure_run "$t" "$round" "$@" # bench/lib.sh
		done
	done
	summarize_samples "${targets[@]}"
	{
		printf '\n== %s: wrk -t%s -c%s -d%s GET %s%s, %s round(s), median\n' "$scen" "${WRK_THREADS:-1}" \
			"$CONNECTIONS" "$DURATION" "$wrk_path" "${*:+ $*}" "$ROUNDS"
		samples_table "${targets[@]}"
		for t in "${targets[@]}"; do
			[[ "$t" != nginx && -n "${med_rps[nginx]:-}" ]] || continue
			printf '%s/nginx: req/s %s  p99 %s  req/cpu-sec %s\n' "$t" "$(ratio "${med_rps[$t]}" "${med_rps[nginx]}")" \
				"$(ratio "${med_p99[$t]}" "${med_p99[nginx]}")" "$(eff_ratio "$t" nginx)"
		done
	} | tee -a "$tmp/table.txt"
	for t in "${targets[@]}"; do tj+=("$(sample_target_json "$t" "\"port\": ${target_port[$t]}, ")"); done
	rl=()
	ratio_list rps med_rps
	ratio_list rps_per_cpu med_eff
	report+=("$(printf '"%s": {"path": %s, "wrk_args": %s, "targets": [\n%s\n  ],\n  "ratios": {%s}}' "$scen" \
		"$(json_str "$wrk_path")" "$(json_str "$*")" "$(join_by $',\n' "${tj[@]}")" \
		"$(join_by ', ' "${rl[@]}")")")
}

if has_phase throughput; then
	for sz in "${sizes[@]}"; do
		throughput_scenario "$sz" "$(size_path "$sz")"
		[[ "$sz" == small ]] || continue
		capped=()
		for t in "${targets[@]}"; do
			peak[$t]="${med_rps[$t]}"
			eff1[$t]="${med_eff[$t]}"
			if awk -v p="${med_cpu[$t]}" 'BEGIN { exit !(p < 80) }'; then
				capped+=("$t ($(printf '%.0f' "${med_cpu[$t]}")%)")
			fi
		done
		if ((${#capped[@]} > 0)); then
			warn "not proxy-bound: ${capped[*]} used < 80% of a core, so req/s was limited by the client side (wrk + backends, see 'client cpu') or by neighbours; compare req/cpu-sec"
		fi
	done
	if [[ "$CLOSE" == 1 ]]; then
		throughput_scenario small-close / -H 'Connection: close'
	fi
fi

# --------------------------------------------------------------- latency ---

if has_phase latency && [[ -n "${peak[nginx]:-}${peak[${targets[0]}]:-}" ]]; then
	lat="$tmp/latency"
	: >"$lat"
	log "latency: open loop at $LOAD_FRACTION x each proxy's small keep-alive peak, $CONNECTIONS connections"
	for ((round = 1; round <= ROUNDS; round++)); do
		for ((k = 0; k < n_targets; k++)); do
			t="$(rotated "$k" "$round")"
			rate="$(awk -v p="${peak[$t]}" -v f="$LOAD_FRACTION" 'BEGIN { printf "%.0f", p * f }')"
			f="$tmp/openloop-$t-$round.json"
			run_openloop "$t" "$rate" "$f" # bench/lib.sh
			errs=$(($(json_num "$f" errors) + $(json_num "$f" non_2xx)))
			printf '%s %s %s %s %s %s %s %s\n' "$t" "$(json_num "$f" p50_ms)" "$(json_num "$f" p99_ms)" \
				"$(json_num "$f" p999_ms)" "$(json_num "$f" achieved_rps)" "$rate" "$(json_num "$f" send_late_p99_ms)" \
				"$errs" >>"$lat"
			log "round $round/$ROUNDS $(printf '%-8s rate %7s/s achieved %7.0f/s  p50 %7.3f  p99 %7.3f  p99.9 %7.3f ms  errors %s' \
				"$t" "$rate" "$(json_num "$f" achieved_rps)" "$(json_num "$f" p50_ms)" "$(json_num "$f" p99_ms)" "$(json_num "$f" p999_ms)" "$errs")"
		done
	done
	lj=()
	printf '\n== latency: open loop at %s x peak, %s connections, %s, %s round(s), median\n\n%-10s %9s %10s %9s %9s %10s %12s %7s\n' \
		"$LOAD_FRACTION" "$CONNECTIONS" "$DURATION" "$ROUNDS" target rate achieved 'p50 ms' 'p99 ms' 'p99.9 ms' 'send late99' errors |
		tee -a "$tmp/table.txt"
	for t in "${targets[@]}"; do
		p50[$t]="$(median "$lat" 2 "$t")" p99[$t]="$(median "$lat" 3 "$t")" p999[$t]="$(median "$lat" 4 "$t")"
		achieved="$(median "$lat" 5 "$t")" rate="$(median "$lat" 6 "$t")" late="$(median "$lat" 7 "$t")"
		errs="$(awk -v t="$t" '$1 == t {s += $8} END {print s + 0}' "$lat")"
		printf '%-10s %9.0f %10.0f %9.3f %9.3f %10.3f %12.3f %7s\n' "$t" "$rate" "$achieved" \
			"${p50[$t]}" "${p99[$t]}" "${p999[$t]}" "$late" "$errs" | tee -a "$tmp/table.txt"
		lj+=("$(printf '{"name": "%s", "rate": %s, "achieved_rps": %s, "p50_ms": %s, "p99_ms": %s, "p999_ms": %s, "send_late_p99_ms": %s, "errors": %s}' \
			"$t" "$rate" "$achieved" "${p50[$t]}" "${p99[$t]}" "${p999[$t]}" "$late" "$errs")")
		if awk -v a="$achieved" -v r="$rate" 'BEGIN { exit !(a < 0.97 * r) }'; then
			warn "$t: open loop achieved $achieved/s of $rate/s: the proxy or the generator fell behind; its percentiles include the queueing"
		fi
	done
	for t in "${targets[@]}"; do
		[[ "$t" != nginx && -n "${p99[nginx]:-}" ]] || continue
		printf '%s/nginx: p50 %s  p99 %s  p99.9 %s\n' "$t" "$(ratio "${p50[$t]}" "${p50[nginx]}")" \
			"$(ratio "${p99[$t]}" "${p99[nginx]}")" "$(ratio "${p999[$t]}" "${p999[nginx]}")" | tee -a "$tmp/table.txt"
	done
	rl=()
	ratio_list p99 p99
	ratio_list p999 p999
	report+=("$(printf '"latency": {"load_fraction": %s, "connections": %s, "targets": [\n    %s\n  ],\n  "ratios": {%s}}' \
		"$LOAD_FRACTION" "$CONNECTIONS" "$(join_by $',\n    ' "${lj[@]}")" \
		"$(join_by ', ' "${rl[@]}")")")
fi

# -------------------------------------------------------------- syscalls ---

# strace_run TARGET: syscalls per request of TARGET over one wrk run under
# strace -c -f (all threads and worker processes); sets calls and reqs.
strace_run() {
	local t="$1" p args=() spid deadline
	for p in $(proc_family "${target_pid[$t]}"); do args+=(-p "$p"); done
	start "strace $t" "$tmp/strace-$t.err" strace -c -f -o "$tmp/strace-$t.txt" "${args[@]}"
	spid="$(last_pid)"
	deadline=$((SECONDS + READY_TIMEOUT))
	until grep -q 'attached' "$tmp/strace-$t.err" 2>/dev/null; do
		kill -0 "$spid" 2>/dev/null || die "strace could not attach to $t: $(cat "$tmp/strace-$t.err")"
		((SECONDS < deadline)) || die "strace did not attach to $t within ${READY_TIMEOUT}s"
		sleep 0.05
	done
	run_wrk "$t" "$STRACE_DURATION" "$tmp/wrk-strace-$t.txt"
	kill -INT "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	calls="$(awk '$NF == "total" {print $4}' "$tmp/strace-$t.txt")"
	reqs="$(awk '/ requests in / {print $1}' "$tmp/wrk-strace-$t.txt")"
	[[ -n "$calls" && -n "$reqs" && "$reqs" -gt 0 ]] || die "could not read strace/wrk output for $t: $(cat "$tmp/strace-$t.txt")"
}

if has_phase syscalls; then
	wrk_path=/
	sj=()
	log "syscalls: strace -c -f over a ${STRACE_DURATION} wrk run per target"
	printf '\n== syscalls per request (strace -c -f, small keep-alive, wrk -c%s, %s)\n\n%-10s %12s %10s %12s\n' \
		"$CONNECTIONS" "$STRACE_DURATION" target syscalls requests 'per request' | tee -a "$tmp/table.txt"
	for t in "${targets[@]}"; do
		strace_run "$t"
		sys_per_req[$t]="$(awk -v c="$calls" -v r="$reqs" 'BEGIN { printf "%.2f", c / r }')"
		printf '%-10s %12s %10s %12s\n' "$t" "$calls" "$reqs" "${sys_per_req[$t]}" | tee -a "$tmp/table.txt"
		# The syscalls strace lists first (most time), with their counts.
		top="$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" && n < 6 {printf "%s\"%s\": %s", (n++ ? ", " : ""), $NF, $4}' "$tmp/strace-$t.txt")"
		sj+=("$(printf '{"name": "%s", "syscalls": %s, "requests": %s, "per_request": %s, "top": {%s}}' "$t" "$calls" "$reqs" "${sys_per_req[$t]}" "$top")")
	done
	rl=()
	ratio_list per_request sys_per_req
	report+=("$(printf '"syscalls": {"duration": %s, "targets": [\n    %s\n  ],\n  "ratios": {%s}}' \
		"$(json_str "$STRACE_DURATION")" "$(join_by $',\n    ' "${sj[@]}")" "$(join_by ', ' "${rl[@]}")")")
fi

# ------------------------------------------------------------- multicore ---

if has_phase multicore; then
	log "multicore: restarting every proxy with $MULTI_CORES workers/threads/GOMAXPROCS, unpinned"
	stop_targets "${targets[@]}"
	proxy_cores="$MULTI_CORES"
	proxy_pin=()
	client_pin=()
	PIN=0 # no client CPU to watch: everything shares the cores
	WRK_THREADS=2
	start_targets "${targets[@]}"
	throughput_scenario multicore /
	sc=()
	for t in "${targets[@]}"; do
		multi_rps[$t]="${med_rps[$t]}"
		[[ -n "${peak[$t]:-}" ]] || continue
		multi_scaling[$t]="$(awk -v m="${med_rps[$t]}" -v p="${peak[$t]}" -v n="$MULTI_CORES" 'BEGIN { printf "%.2f", m / (n * p) }')"
		sc+=("\"$t\": ${multi_scaling[$t]}")
	done
	if ((${#sc[@]} > 0)); then
		printf '\nreq/s on %s cores over %s x the one-core req/s (1.00 = linear; wrk and the backends share these cores):\n' \
			"$MULTI_CORES" "$MULTI_CORES" | tee -a "$tmp/table.txt"
		for t in "${targets[@]}"; do printf '  %-10s %s\n' "$t" "${multi_scaling[$t]:-n/a}"; done | tee -a "$tmp/table.txt"
		report+=("$(printf '"multicore_scaling": {%s}' "$(join_by ', ' "${sc[@]}")")")
	fi
fi

# --------------------------------------------------------------- summary ---

# na VALUE FORMAT: VALUE in FORMAT, or n/a when missing/negative.
na() { if [[ -z "${1:-}" || "$1" == -* ]]; then printf 'n/a'; else printf "$2" "$1"; fi; }
{
	printf '\n== summary of this run (x nginx = ratio to nginx)\n\n'
	printf '%-10s %12s %8s %9s %10s %12s %9s %8s\n' target 'req/cpu-sec' 'x nginx' 'p99@load' 'p99.9@load' 'syscalls/req' '2c req/s' '2c/2x1c'
	for t in "${targets[@]}"; do
		x="n/a"
		[[ -z "${eff1[$t]:-}" || -z "${eff1[nginx]:-}" || "${eff1[$t]}" == -* || "${eff1[nginx]}" == -* ]] ||
			x="$(ratio "${eff1[$t]}" "${eff1[nginx]}")"
		printf '%-10s %12s %8s %9s %10s %12s %9s %8s\n' "$t" "$(na "${eff1[$t]:-}" '%.0f')" "$x" \
			"$(na "${p99[$t]:-}" '%.3f')" "$(na "${p999[$t]:-}" '%.3f')" "$(na "${sys_per_req[$t]:-}" '%s')" \
			"$(na "${multi_rps[$t]:-}" '%.0f')" "$(na "${multi_scaling[$t]:-}" '%s')"
	done
	printf '\n(req/cpu-sec: small keep-alive, one core; p99 columns: ms, open loop at %s x peak; 2c: %s cores shared with wrk and the backends)\n' \
		"$LOAD_FRACTION" "$MULTI_CORES"
} | tee -a "$tmp/table.txt"

{
	printf '{\n'
	printf '  "benchmark": "bench/proxy.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": %s,\n' "$(host_json)"
	printf '  "config": {"duration": %s, "warmup": %s, "rounds": %s, "connections": %s, "pinned": %s, "proxy_cpu": %s, "client_cpu": %s, "backends": %s, "backend_latency": %s, "gateway_strategy": %s, "phases": %s, "sizes": %s, "load_fraction": %s, "multi_cores": %s},\n' \
		"$(json_str "$DURATION")" "$(json_str "$WARMUP")" "$ROUNDS" "$CONNECTIONS" "$pinned_json" "$PROXY_CPU" "$CLIENT_CPU" \
		"$(json_str "$BACKENDS")" "$(json_str "$BACKEND_LATENCY")" "$(json_str "$GATEWAY_STRATEGY")" \
		"$(json_str "$PHASES")" "$(json_str "$SIZES")" "$LOAD_FRACTION" "$MULTI_CORES"
	printf '  "versions": %s,\n' "$(tool_versions_json)"
	printf '  %s\n' "$(join_by $',\n  ' "${report[@]}")"
	printf '}\n'
} | write_json_report
