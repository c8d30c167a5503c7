#!/usr/bin/env bash
# bench/features.sh - what do the gateway's per-route features cost? Two
# `drawbridge gateway run` instances in front of the same two backends:
#   bare:     one route to the pool, access log off (metrics are always on)
#   features: the same + API-key auth + a rate limit too high to trigger
# loaded alternately by wrk (which sends the API key to both). Goal: features
# reaches >= 0.9x the bare hop's req/s.
#
# Usage: bash bench/features.sh [--quick] [--help]     (works from any cwd)
# Pinning as in proxy.sh: the gateway under test on CPU 0 (GOMAXPROCS=1),
# wrk and the backends on CPU 1.
set -Eeuo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
bench_name=features.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$script_dir/lib.sh"

usage() {
	cat <<'EOF'
Usage: bash bench/features.sh [--quick] [--help]

Compares two drawbridge gateways on the same two backends with wrk: "bare"
(route -> pool, access log off, metrics on) and "features" (the same plus
route-level auth.api_keys and rate_limit, limits set never to trigger).

Options:
  --quick        smoke test: 1 round of 3s, 1s warm-up (same as QUICK=1)
  -h, --help     this text

Environment (defaults in brackets):
  DURATION=10s       wrk duration of each measured run
  WARMUP=2s          wrk warm-up before each measured run ("0" disables)
  ROUNDS=5           interleaved rounds (order alternates); median reported
  CONNECTIONS=64     wrk -c (wrk always runs with -t1)
  FEATURES="auth rate_limit"   what the features gateway enables (a subset,
                     e.g. "rate_limit" while auth is not wired yet)
  RATE=1000000       rate_limit rate and burst (per client IP; never reached)
  API_KEY=drawbridge-bench-key-0001   the key wrk sends (X-API-Key) to both
  MIN_RATIO=0.90     the goal printed as PASS/FAIL
  PIN=1              pin the gateway to CPU 0, wrk and backends to CPU 1
  PROXY_CPU=0 CLIENT_CPU=1
  BACKENDS=drawbridge  "nginx": serve both backends from one static nginx
                     worker (cheaper, keeps the client CPU from capping)
  OUT=bench/results/features-latest.json   JSON report (relative to repo root)
  DRAWBRIDGE_BIN=    use this drawbridge binary instead of building one
  BACKEND1_PORT BACKEND2_PORT BARE_PORT BARE_ADMIN_PORT FEATURES_PORT
  FEATURES_ADMIN_PORT   fixed ports (default: random free ports)
  READY_TIMEOUT=5    seconds to wait for each listener
  KEEP_TMP=1         keep the temp dir (configs, logs, raw wrk output)
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
		echo "features.sh: unknown argument: $arg (try --help)" >&2
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
ROUNDS="${ROUNDS:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
FEATURES="${FEATURES-auth rate_limit}"
RATE="${RATE:-1000000}"
API_KEY="${API_KEY:-drawbridge-bench-key-0001}"
MIN_RATIO="${MIN_RATIO:-0.90}"
BACKENDS="${BACKENDS:-drawbridge}"
READY_TIMEOUT="${READY_TIMEOUT:-5}"
OUT="${OUT:-bench/results/features-latest.json}"
[[ "$OUT" == /* ]] || OUT="$repo_root/$OUT"
targets=(bare features)

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, got '$CONNECTIONS'"
[[ "$READY_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "READY_TIMEOUT must be a positive integer (seconds), got '$READY_TIMEOUT'"
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive integer, got '$RATE'"
[[ "$API_KEY" =~ ^[A-Za-z0-9._~-]+$ ]] || die "API_KEY must be letters, digits and ._~- only"
read -r -a features <<<"$FEATURES"
for f in "${features[@]}"; do
	case "$f" in
	auth | rate_limit) ;;
	*) die "unknown feature '$f' in FEATURES (known: auth rate_limit)" ;;
	esac
done
has_feature() { [[ " ${features[*]} " == *" $1 "* ]]; }
case "$BACKENDS" in drawbridge | nginx) ;; *) die "BACKENDS must be 'drawbridge' or 'nginx', got '$BACKENDS'" ;; esac

ensure_tools wrk curl taskset
if [[ "$BACKENDS" == nginx ]]; then ensure_tools nginx; fi
setup_host
bench_init
build_drawbridge

# -------------------------------------------------------------- backends ---

pick_port BACKEND1_PORT
pick_port BACKEND2_PORT
case "$BACKENDS" in
drawbridge)
	for n in 1 2; do
		port_var="BACKEND${n}_PORT"
		start "backend b$n" "$tmp/backend$n.log" \
			env GOMAXPROCS=1 "${client_pin[@]}" "$drawbridge" backend --listen "127.0.0.1:${!port_var}" --id "b$n"
		wait_ready "drawbridge backend b$n" "$(last_pid)" "http://127.0.0.1:${!port_var}/healthz" "$tmp/backend$n.log"
	done
	;;
nginx) start_nginx_backends "$BACKEND1_PORT" "$BACKEND2_PORT" ;;
esac
log "$BACKENDS backends b1=127.0.0.1:$BACKEND1_PORT b2=127.0.0.1:$BACKEND2_PORT"

# -------------------------------------------------------------- gateways ---

key_hash="$(printf '%s' "$API_KEY" | sha256sum | awk '{print $1}')"
declare -A target_port target_admin target_pid target_log

# write_config NAME PORT ADMIN_PORT WITH_FEATURES(0|1) FILE
write_config() {
	local name="$1" port="$2" admin="$3" with="$4" cfg="$5"
	{
		printf '# generated by bench/features.sh (%s)\n' "$name"
		printf 'listen: "127.0.0.1:%s"\n' "$port"
		printf 'admin: {enabled: true, listen: "127.0.0.1:%s"}\n' "$admin"
		printf 'access_log: {enabled: false}\n'
		printf 'shutdown_timeout: 1s\n'
		printf 'routes:\n  - name: all\n    pool: p\n'
		if [[ "$with" == 1 ]] && has_feature auth; then
			printf '    auth:\n      api_keys:\n        header: X-API-Key\n        keys: {bench: "%s"}\n' "$key_hash"
		fi
		if [[ "$with" == 1 ]] && has_feature rate_limit; then
			printf '    rate_limit: {rate: %s, burst: %s, key: ip}\n' "$RATE" "$RATE"
		fi
		printf 'pools:\n  - name: p\n    backends:\n'
		printf '      - {address: "127.0.0.1:%s", id: b1}\n' "$BACKEND1_PORT"
		printf '      - {address: "127.0.0.1:%s", id: b2}\n' "$BACKEND2_PORT"
	} >"$cfg"
}

start_gateway() {
	local name="$1" with="$2" port_var admin_var dir="$tmp/$1"
	port_var="$(tr '[:lower:]' '[:upper:]' <<<"$name")_PORT"
	admin_var="$(tr '[:lower:]' '[:upper:]' <<<"$name")_ADMIN_PORT"
	mkdir -p "$dir"
	pick_port "$port_var"
	pick_port "$admin_var"
	write_config "$name" "${!port_var}" "${!admin_var}" "$with" "$dir/gateway.yaml"
	"$drawbridge" gateway validate --config "$dir/gateway.yaml" >"$dir/validate.log" 2>&1 ||
		die "drawbridge gateway validate rejected the $name config ($dir/gateway.yaml):
$(cat "$dir/validate.log")
(config:)
$(cat "$dir/gateway.yaml")
(FEATURES=\"$FEATURES\"; set FEATURES to the subset this binary accepts, e.g. FEATURES=rate_limit or FEATURES=)"
	start "gateway $name" "$dir/gateway.log" env GOMAXPROCS=1 "${proxy_pin[@]}" "$drawbridge" gateway run --config "$dir/gateway.yaml"
	target_port[$name]="${!port_var}"
	target_admin[$name]="${!admin_var}"
	target_pid[$name]="$(last_pid)"
	target_log[$name]="$dir/gateway.log"
	wait_ready "gateway $name" "${target_pid[$name]}" "http://127.0.0.1:${!admin_var}/metrics" "$dir/gateway.log"
}

start_gateway bare 0
start_gateway features 1

# http_code URL [CURL ARGS...]: the status code of one GET ("000" on failure).
http_code() {
	local url="$1"
	shift
	curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null || true
}

# Sanity checks before measuring: both answer 200 with the key, both serve
# /metrics, and the features gateway really enforces the key.
auth_enforced=null
for t in "${targets[@]}"; do
	url="http://127.0.0.1:${target_port[$t]}/"
	deadline=$((SECONDS + READY_TIMEOUT))
	until [[ "$(http_code "$url" -H "X-API-Key: $API_KEY")" == 200 ]]; do
		((SECONDS < deadline)) || die "gateway $t: GET $url with the API key did not answer 200 within ${READY_TIMEOUT}s (last: $(http_code "$url" -H "X-API-Key: $API_KEY")); its log (${target_log[$t]}):
$(tail -n 30 "${target_log[$t]}" 2>/dev/null)"
		sleep 0.1
	done
	code="$(http_code "http://127.0.0.1:${target_admin[$t]}/metrics")"
	[[ "$code" == 200 ]] || die "gateway $t: admin /metrics answered $code, want 200"
	log "gateway $t ready on 127.0.0.1:${target_port[$t]} (admin 127.0.0.1:${target_admin[$t]})"
done
if has_feature auth; then
	url="http://127.0.0.1:${target_port[features]}/"
	no_key="$(http_code "$url")"
	bad_key="$(http_code "$url" -H "X-API-Key: not-$API_KEY")"
	if [[ "$no_key" == 401 && "$bad_key" == 401 ]]; then
		auth_enforced=true
		log "features gateway enforces the API key (no key: 401, wrong key: 401, right key: 200)"
	else
		auth_enforced=false
		warn "the features gateway accepted the auth config but does NOT enforce it: no key -> HTTP $no_key, wrong key -> HTTP $bad_key (want 401); the numbers below do not include auth"
	fi
fi

# ------------------------------------------------------------------- wrk ---

# run_wrk NAME DURATION OUTFILE: wrk (sending the API key) against gateway
# NAME; fails loudly if wrk fails or the gateway died.
run_wrk() {
	local name="$1" dur="$2" outf="$3" rc=0
	"${client_pin[@]}" wrk -t1 "-c$CONNECTIONS" "-d$dur" --latency -H "X-API-Key: $API_KEY" \
		"http://127.0.0.1:${target_port[$name]}/" >"$outf" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || rc=$?
	wrk_pid=""
	if ! kill -0 "${target_pid[$name]}" 2>/dev/null; then
		die "gateway $name (pid ${target_pid[$name]}) died under load; its log (${target_log[$name]}):
$(tail -n 30 "${target_log[$name]}" 2>/dev/null)
wrk output:
$(cat "$outf")"
	fi
	((rc == 0)) || die "wrk against gateway $name exited with status $rc:
$(cat "$outf")"
}

# Samples, one line per measured run:
#   target rps p99_ms errors requests proxy_cpu_pct client_cpu_busy_pct rps_per_proxy_core
samples="$tmp/samples"
: >"$samples"
for ((round = 1; round <= ROUNDS; round++)); do
	order=(bare features)
	((round % 2 == 0)) && order=(features bare)
	for t in "${order[@]}"; do
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
		cpu="$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$clk_tck" -v s="$t0" -v e="$t1" \
			'BEGIN { w = e - s; printf "%.1f", (w > 0) ? 100 * (b - a) / hz / w : 0 }')"
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
		read -r sockerr non2xx < <(wrk_errors "$outf")
		errors=$((sockerr + non2xx))
		eff="$(awk -v r="$rps" -v c="$cpu" 'BEGIN { if (c < 5) print -1; else printf "%.0f", r * 100 / c }')"
		printf '%s %s %s %s %s %s %s %s\n' "$t" "$rps" "$p99" "$errors" "${reqs:-0}" "$cpu" "$client" "$eff" >>"$samples"
		client_txt="n/a"
		[[ "$client" == -* ]] || client_txt="$client%"
		log "round $round/$ROUNDS $(printf '%-8s %10.0f req/s  p99 %8.3f ms  proxy cpu %5.1f%%  client cpu %6s  errors %s' \
			"$t" "$rps" "$p99" "$cpu" "$client_txt" "$errors")"
		if ((errors > 0)); then
			warn "$t: $errors errors in round $round (socket errors: $sockerr, non-2xx/3xx: $non2xx; a 429 means the rate limit triggered, a 401 that the key was refused); wrk said:
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
r_rps="$(ratio "${med_rps[features]}" "${med_rps[bare]}")"
r_p99="$(ratio "${med_p99[features]}" "${med_p99[bare]}")"
r_eff=null
if [[ "${med_eff[features]}" != -* && "${med_eff[bare]}" != -* ]]; then
	r_eff="$(ratio "${med_eff[features]}" "${med_eff[bare]}")"
fi
pass=false
if [[ "$r_rps" != null ]] && awk -v r="$r_rps" -v m="$MIN_RATIO" 'BEGIN { exit !(r + 0 >= m + 0) }'; then pass=true; fi

pin_desc="none"
[[ "$PIN" == 1 ]] && pin_desc="gateway on CPU $PROXY_CPU; wrk + backends on CPU $CLIENT_CPU"
feat_desc="${FEATURES:-nothing}"
[[ "$auth_enforced" == false ]] && feat_desc="$feat_desc (auth NOT enforced by this binary)"
{
	printf '\nFeatures benchmark: wrk -t1 -c%s -d%s -H "X-API-Key: ..." , %s round(s), median shown; pinning: %s\n' \
		"$CONNECTIONS" "$DURATION" "$ROUNDS" "$pin_desc"
	printf 'bare: route -> pool, access log off, metrics on; features: + %s; backends: 2x %s\n' "$feat_desc" "$BACKENDS"
	printf '\n%-10s %12s %10s %10s %11s %14s %8s\n' target 'req/s' 'p99 (ms)' 'proxy cpu' 'client cpu' 'req/cpu-sec' errors
	printf '%-10s %12s %10s %10s %11s %14s %8s\n' ---------- ------------ ---------- ---------- ----------- -------------- --------
	for t in "${targets[@]}"; do
		if [[ "${med_client[$t]}" == -* ]]; then client="n/a"; else client="$(printf '%.1f%%' "${med_client[$t]}")"; fi
		if [[ "${med_eff[$t]}" == -* ]]; then eff="n/a"; else eff="$(printf '%.0f' "${med_eff[$t]}")"; fi
		printf '%-10s %12.0f %10.3f %9.1f%% %11s %14s %8s\n' "$t" "${med_rps[$t]}" "${med_p99[$t]}" \
			"${med_cpu[$t]}" "$client" "$eff" "${tot_err[$t]}"
	done
	echo
	printf 'features/bare req/s ratio: %s\n' "$r_rps"
	printf 'features/bare p99 ratio: %s\n' "$r_p99"
	printf 'features/bare req/cpu-sec ratio: %s\n' "$r_eff"
	printf 'goal features/bare req/s >= %s: %s\n' "$MIN_RATIO" "$([[ "$pass" == true ]] && echo PASS || echo FAIL)"
	echo
} | tee "$tmp/table.txt"
for t in "${targets[@]}"; do
	if awk -v p="${med_cpu[$t]}" 'BEGIN { exit !(p < 80) }'; then
		warn "not proxy-bound: gateway $t used $(printf '%.0f' "${med_cpu[$t]}")% of its core, so its req/s was limited by the client side or by neighbours; compare the req/cpu-sec ratio$([[ "$BACKENDS" == nginx ]] || echo ", or use BACKENDS=nginx")"
	fi
done
((tot_err[bare] + tot_err[features] == 0)) || warn "some runs had errors (see the errors column); treat those numbers with care"

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
	target_json+=("    {\"name\": \"$t\", \"rps\": ${med_rps[$t]}, \"p99_ms\": ${med_p99[$t]}, \"proxy_cpu_pct\": ${med_cpu[$t]}, \"client_cpu_busy_pct\": ${mc}, \"rps_per_proxy_cpu\": ${me}, \"errors\": ${tot_err[$t]},
     \"config\": $(json_str "$(cat "$tmp/$t/gateway.yaml")"),
     \"runs\": [$(join_by ', ' "${runs[@]}")]}")
done
feat_json=()
for f in "${features[@]}"; do feat_json+=("\"$f\""); done

mkdir -p "$(dirname -- "$OUT")"
{
	printf '{\n'
	printf '  "benchmark": "bench/features.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": %s,\n' "$(host_json)"
	printf '  "config": {"duration": %s, "warmup": %s, "rounds": %s, "threads": 1, "connections": %s, "pinned": %s, "proxy_cpu": %s, "client_cpu": %s, "backends": %s, "features": [%s], "auth_enforced": %s, "rate": %s, "min_ratio": %s},\n' \
		"$(json_str "$DURATION")" "$(json_str "$WARMUP")" "$ROUNDS" "$CONNECTIONS" \
		"$([[ "$PIN" == 1 ]] && echo true || echo false)" "$PROXY_CPU" "$CLIENT_CPU" "$(json_str "$BACKENDS")" \
		"$(join_by ', ' "${feat_json[@]}")" "$auth_enforced" "$RATE" "$MIN_RATIO"
	printf '  "versions": %s,\n' "$(tool_versions_json)"
	printf '  "targets": [\n%s\n  ],\n' "$(join_by $',\n' "${target_json[@]}")"
	printf '  "ratios": {"features_bare_rps": %s, "features_bare_p99": %s, "features_bare_rps_per_cpu": %s},\n' "$r_rps" "$r_p99" "$r_eff"
	printf '  "pass": %s\n' "$pass"
	printf '}\n'
} >"$OUT.tmp"
mv -f -- "$OUT.tmp" "$OUT"
log "wrote $OUT"
