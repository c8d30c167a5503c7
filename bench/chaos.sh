#!/usr/bin/env bash
# bench/chaos.sh - resilience comparison: 3 backends behind a proxy, one of
# them SIGKILLed and restarted every few seconds while wrk sends idempotent
# GETs; counts the errors the client sees. Goal for the drawbridge gateway:
# zero client-visible errors while at least one backend is healthy.
#
# The same scenario runs through the drawbridge gateway (`gateway run` with
# retries, active health checks and outlier ejection), the quick proxy
# (`gateway proxy --listen --to` and nothing else: its defaults), nginx
# (default proxy_next_upstream) and haproxy (retries 3 + option redispatch),
# one after another, each with its own fresh backends.
#
# Usage: bash bench/chaos.sh [--quick] [--help]     (works from any cwd)
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: bash bench/chaos.sh [--quick] [--help]

Kills one of 3 `drawbridge backend`s (SIGKILL) every KILL_EVERY seconds and
restarts it DOWN_FOR seconds later on the same port, rotating b1, b2, b3,
while wrk loads the proxy under test with GETs; reports the client-visible
errors (wrk socket errors + non-2xx responses) of each target.

Options:
  --quick        smoke test: DURATION=8 (same as QUICK=1)
  -h, --help     this text

Environment (defaults in brackets):
  DURATION=20        seconds of load per target (8 with --quick)
  KILL_EVERY=2       seconds between kills (decimals allowed)
  DOWN_FOR=1         seconds a killed backend stays down (< KILL_EVERY keeps
                     at least two of the three up at any time)
  CONNECTIONS=32     wrk -c (wrk always runs with -t1)
  WRK_TIMEOUT=2s     wrk --timeout (a reply slower than this is an error)
  TARGETS="gateway quick nginx haproxy"    which targets, in this order
                     (quick: `gateway proxy --listen X --to A,B,C`, no other flag)
  GATEWAY_RETRY='{}'  the gateway route's retry block (YAML flow map), e.g.
                     '{budget_ratio: 1.0, budget_min: 100}'
  GATEWAY_OUTLIER='{consecutive_failures: 1, base_ejection: 2s}'
                     the gateway pool's outlier block
  NGINX_SERVER_PARAMS=  appended to each nginx upstream `server` line (unset:
                     nginx defaults, max_fails=1 fail_timeout=10s), e.g.
                     "max_fails=0" or "fail_timeout=1s"
  HAPROXY_CHECK=1    haproxy: option httpchk GET /healthz, check inter 1s
                     fall 1 rise 1 ("0": no active checks)
  HAPROXY_RETRY_ON=  haproxy retry-on (unset: haproxy's default, conn-failure)
  PIN=1              pin proxy to CPU 0, wrk and backends to CPU 1
  PROXY_CPU=0 CLIENT_CPU=1
  OUT=bench/results/chaos-latest.json      JSON report (relative to repo root)
  DRAWBRIDGE_BIN=    use this drawbridge binary instead of building one
  BACKEND1_PORT BACKEND2_PORT BACKEND3_PORT GATEWAY_PORT GATEWAY_ADMIN_PORT
  QUICK_PORT NGINX_PORT HAPROXY_PORT   fixed ports (default: random free ports)
  READY_TIMEOUT=5    seconds to wait for each listener (and each restart)
  KEEP_TMP=1         keep the temp dir (configs, logs, wrk output)
  NO_INSTALL=1       never apt-get install missing tools, fail instead
EOF
}

parse_bench_args "$@"

if [[ "$quick" == 1 ]]; then DURATION="${DURATION:-8}"; fi
DURATION="${DURATION:-20}"
DURATION="${DURATION%s}"
KILL_EVERY="${KILL_EVERY:-2}"
KILL_EVERY="${KILL_EVERY%s}"
DOWN_FOR="${DOWN_FOR:-1}"
DOWN_FOR="${DOWN_FOR%s}"
CONNECTIONS="${CONNECTIONS:-32}"
WRK_TIMEOUT="${WRK_TIMEOUT:-2s}"
GATEWAY_RETRY="${GATEWAY_RETRY:-}"
[[ -n "$GATEWAY_RETRY" ]] || GATEWAY_RETRY='{}'
GATEWAY_OUTLIER="${GATEWAY_OUTLIER:-}"
[[ -n "$GATEWAY_OUTLIER" ]] || GATEWAY_OUTLIER='{consecutive_failures: 1, base_ejection: 2s}'
NGINX_SERVER_PARAMS="${NGINX_SERVER_PARAMS:-}"
HAPROXY_CHECK="${HAPROXY_CHECK:-1}"
HAPROXY_RETRY_ON="${HAPROXY_RETRY_ON:-}"
READY_TIMEOUT="${READY_TIMEOUT:-5}"
OUT="${OUT:-bench/results/chaos-latest.json}"
read -r -a targets <<<"${TARGETS:-gateway quick nginx haproxy}"
[[ "$OUT" == /* ]] || OUT="$repo_root/$OUT"

[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds, got '$DURATION'"
num_re='^([0-9]+\.?[0-9]*|\.[0-9]+)$'
[[ "$KILL_EVERY" =~ $num_re ]] || die "KILL_EVERY must be a number of seconds, got '$KILL_EVERY'"
[[ "$DOWN_FOR" =~ $num_re ]] || die "DOWN_FOR must be a number of seconds, got '$DOWN_FOR'"
kill_every_ms="$(awk -v v="$KILL_EVERY" 'BEGIN { printf "%d", v * 1000 }')"
down_for_ms="$(awk -v v="$DOWN_FOR" 'BEGIN { printf "%d", v * 1000 }')"
((kill_every_ms >= 100)) || die "KILL_EVERY must be at least 0.1 s, got '$KILL_EVERY'"
((down_for_ms >= 0)) || die "DOWN_FOR must not be negative"
if ((down_for_ms >= 2 * kill_every_ms)); then
	die "DOWN_FOR ($DOWN_FOR) >= 2 x KILL_EVERY ($KILL_EVERY): all three backends could be down at once, which is outside the scenario"
elif ((down_for_ms >= kill_every_ms)); then
	warn "DOWN_FOR ($DOWN_FOR) >= KILL_EVERY ($KILL_EVERY): two backends will sometimes be down at once"
fi
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, got '$CONNECTIONS'"
[[ "$READY_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "READY_TIMEOUT must be a positive integer (seconds), got '$READY_TIMEOUT'"
((${#targets[@]} > 0)) || die "TARGETS is empty"
for t in "${targets[@]}"; do
	case "$t" in
	gateway | quick | nginx | haproxy) ;;
	*) die "unknown target '$t' in TARGETS (known: gateway quick nginx haproxy)" ;;
	esac
done

ensure_tools wrk nginx haproxy curl taskset
setup_host
bench_init
build_drawbridge

pick_port BACKEND1_PORT
pick_port BACKEND2_PORT
pick_port BACKEND3_PORT
backend_port=("" "$BACKEND1_PORT" "$BACKEND2_PORT" "$BACKEND3_PORT")
backend_pid=("" "" "" "")

# now_ms: milliseconds since the epoch, into the variable named by $1.
now_ms() {
	local t="$EPOCHREALTIME"
	printf -v "$1" '%d' "$((${t%.*} * 1000 + 10#${t#*.} / 1000))"
}

# start_backend N: (re)start backend bN on its fixed port, wait until ready.
start_backend() {
	start_drawbridge_backend "$1" "${backend_port[$1]}"
	backend_pid[$1]="$(last_pid)"
}

# wait_closed PORT WHAT: bounded wait until nothing accepts on PORT.
wait_closed() {
	local deadline=$((SECONDS + READY_TIMEOUT))
	while port_open "$1"; do
		((SECONDS < deadline)) || die "$2: 127.0.0.1:$1 still accepts connections ${READY_TIMEOUT}s after its process was stopped"
		sleep 0.05
	done
}

# ------------------------------------------------------------- targets ---

declare -A target_desc

start_gateway() {
	local dir="$tmp/gateway" cfg
	mkdir -p "$dir"
	cfg="$dir/gateway.yaml"
	pick_port GATEWAY_PORT
	pick_port GATEWAY_ADMIN_PORT
	cat >"$cfg" <<EOF
# generated by bench/chaos.sh
$(gateway_yaml_head "$GATEWAY_PORT" "$GATEWAY_ADMIN_PORT")
    retry: $GATEWAY_RETRY
pools:
  - name: p
    backends:
      - {address: "127.0.0.1:$BACKEND1_PORT", id: b1}
      - {address: "127.0.0.1:$BACKEND2_PORT", id: b2}
      - {address: "127.0.0.1:$BACKEND3_PORT", id: b3}
    health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 1}
    outlier: $GATEWAY_OUTLIER
EOF
	run_gateway gateway "$dir"
	set_target gateway "$GATEWAY_PORT" "$dir/gateway.log"
	target_desc[gateway]="gateway run: retry $GATEWAY_RETRY, health_check {interval 1s, timeout 500ms, thresholds 1/1}, outlier $GATEWAY_OUTLIER, GOMAXPROCS=1"
}

# start_quick: the quick proxy with only --listen and --to, so its defaults
# (retries, passive ejection, no admin listener) are what is measured.
start_quick() {
	pick_port QUICK_PORT
	start quick "$tmp/quick.log" env GOMAXPROCS=1 "${proxy_pin[@]}" "$drawbridge" gateway proxy \
		--listen "127.0.0.1:$QUICK_PORT" --to "127.0.0.1:$BACKEND1_PORT,127.0.0.1:$BACKEND2_PORT,127.0.0.1:$BACKEND3_PORT"
	set_target quick "$QUICK_PORT" "$tmp/quick.log"
	target_desc[quick]="gateway proxy --listen --to (defaults: retry on connect_error/reset/timeout, outlier detection, no admin), GOMAXPROCS=1"
}

start_nginx() {
	local dir="$tmp/nginx"
	mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
	pick_port NGINX_PORT
	# proxy_next_upstream is left at its default (error timeout): a GET that
	# fails to connect, or whose connection fails before a response header,
	# goes to the next server; server max_fails/fail_timeout are the defaults
	# too (1 failure takes a server out for 10s).
	nginx_proxy_conf "$dir" "$NGINX_PORT" 32 "$NGINX_SERVER_PARAMS" \
		"127.0.0.1:$BACKEND1_PORT" "127.0.0.1:$BACKEND2_PORT" "127.0.0.1:$BACKEND3_PORT" >"$dir/nginx.conf"
	run_nginx nginx "$dir" "${proxy_pin[@]}"
	set_target nginx "$NGINX_PORT" "$dir/error.log"
	target_desc[nginx]="nginx: default proxy_next_upstream (error timeout), server params: ${NGINX_SERVER_PARAMS:-defaults (max_fails=1 fail_timeout=10s)}, upstream keepalive 32, worker_processes 1"
}

start_haproxy() {
	local dir="$tmp/haproxy" check="" httpchk="" retry_on=""
	mkdir -p "$dir"
	pick_port HAPROXY_PORT
	if [[ "$HAPROXY_CHECK" == 1 ]]; then
		httpchk="    option httpchk GET /healthz"
		check=" check inter 1s fall 1 rise 1"
	fi
	[[ -z "$HAPROXY_RETRY_ON" ]] || retry_on="    retry-on $HAPROXY_RETRY_ON"
	cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 75s
    retries 3
    option redispatch
$retry_on

frontend chaos
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend chaos_backends

backend chaos_backends
    balance roundrobin
$httpchk
    server b1 127.0.0.1:$BACKEND1_PORT$check
    server b2 127.0.0.1:$BACKEND2_PORT$check
    server b3 127.0.0.1:$BACKEND3_PORT$check
EOF
	run_haproxy haproxy "$dir/haproxy.cfg" "$dir/haproxy.log"
	set_target haproxy "$HAPROXY_PORT" "$dir/haproxy.log"
	target_desc[haproxy]="haproxy: retries 3, option redispatch, retry-on ${HAPROXY_RETRY_ON:-default (conn-failure)}, $([[ "$HAPROXY_CHECK" == 1 ]] && echo "httpchk GET /healthz inter 1s fall 1 rise 1" || echo "no active checks"), http-reuse safe (default), nbthread 1"
}

# ------------------------------------------------------------ the chaos ---

# Status counts from wrk's response() hook ("chaos-status CODE COUNT"), and
# the 4xx/5xx responses per wall-clock second ("chaos-bad EPOCH_SECOND COUNT").
lua="$tmp/status.lua"
cat >"$lua" <<'EOF'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) codes = {} bad = {} end
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status > 399 then local s = os.time() bad[s] = (bad[s] or 0) + 1 end
end
function done(summary, latency, requests)
  local total, badt = {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes") or {}) do total[code] = (total[code] or 0) + n end
    for s, n in pairs(t:get("bad") or {}) do badt[s] = (badt[s] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("chaos-status %d %d\n", code, n)) end
  for s, n in pairs(badt) do io.write(string.format("chaos-bad %d %d\n", s, n)) end
end
EOF

results="$tmp/results" # one line per target, see below
: >"$results"
events_json=()
bad_json=()

# run_chaos NAME: wrk for DURATION seconds while this shell kills/restarts
# backends. The killer runs in this shell (not a subshell) so every backend
# stays our job and the cleanup trap can stop it.
run_chaos() {
	local name="$1" outf="$tmp/wrk-$1.txt" rc=0 t0 now next_kill restart_at=-1 down=0 victim=0 kills=0
	local end_ms ev=()
	"${client_pin[@]}" wrk -t1 "-c$CONNECTIONS" "-d${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$lua" \
		"http://127.0.0.1:${target_port[$name]}/" >"$outf" 2>&1 &
	wrk_pid=$!
	now_ms t0
	next_kill=$((t0 + kill_every_ms))
	end_ms=$((t0 + DURATION * 1000))
	while kill -0 "$wrk_pid" 2>/dev/null; do
		now_ms now
		if ((restart_at >= 0 && now >= restart_at)); then
			start_backend "$down"
			ev+=("{\"t\": $((now - t0)), \"event\": \"restart\", \"backend\": \"b$down\"}")
			log "$name t=$(printf '%5.2f' "$(awk -v d=$((now - t0)) 'BEGIN{print d/1000}')")s restarted b$down"
			restart_at=-1
			continue
		fi
		# Kill only while wrk still has at least 0.5s to run, and only one
		# backend at a time.
		if ((restart_at < 0 && now >= next_kill && now + 500 < end_ms)); then
			victim=$((victim % 3 + 1))
			kill -KILL "${backend_pid[$victim]}" 2>/dev/null || die "could not SIGKILL backend b$victim (pid ${backend_pid[$victim]}): it was already gone; its log:
$(tail -n 20 "$tmp/backend$victim.log")"
			wait "${backend_pid[$victim]}" 2>/dev/null || true
			kills=$((kills + 1))
			down="$victim"
			restart_at=$((now + down_for_ms))
			next_kill=$((next_kill + kill_every_ms))
			ev+=("{\"t\": $((now - t0)), \"event\": \"kill\", \"backend\": \"b$victim\"}")
			log "$name t=$(printf '%5.2f' "$(awk -v d=$((now - t0)) 'BEGIN{print d/1000}')")s SIGKILL b$victim"
			continue
		fi
		sleep 0.02
	done
	wait "$wrk_pid" || rc=$?
	if ((restart_at >= 0)); then start_backend "$down"; fi
	finish_wrk "$name" "$outf" "$rc" # bench/lib.sh

	local reqs rps se sc sr sw st non2xx errors codes other_codes
	reqs="$(awk '/ requests in / {print $1}' "$outf")"
	rps="$(awk '/^Requests\/sec:/ {print $2}' "$outf")"
	[[ -n "$reqs" && -n "$rps" ]] || die "could not parse wrk output for $name:
$(cat "$outf")"
	read -r sc sr sw st < <(awk '/Socket errors:/ {gsub(",", ""); print $4, $6, $8, $10; f = 1} END {if (!f) print 0, 0, 0, 0}' "$outf")
	se=$((sc + sr + sw + st))
	non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$outf")"
	non2xx="${non2xx:-0}"
	errors=$((se + non2xx))
	# "200:1234,502:3" from the Lua hook.
	codes="$(awk '$1 == "chaos-status" {print $2 ":" $3}' "$outf" | sort -n | paste -sd, -)"
	other_codes="$(awk '$1 == "chaos-status" && ($2 < 200 || $2 > 399) {printf "%s%s:%s", s, $2, $3; s = ","}' "$outf")"
	printf '%s %s %s %s %s %s %s %s %s %s %s %s\n' "$name" "$reqs" "$rps" "$errors" "$kills" \
		"$sc" "$sr" "$sw" "$st" "$non2xx" "${codes:-none}" "${other_codes:--}" >>"$results"
	events_json+=("\"$name\": [$(join_by ', ' "${ev[@]}")]")
	# Non-2xx responses per second of the run (second 0 = wrk start).
	bad_json+=("\"$name\": {$(awk -v t0="$((t0 / 1000))" '$1 == "chaos-bad" {print $2 - t0, $3}' "$outf" | sort -n |
		awk '{printf "%s\"%d\": %d", s, $1, $2; s = ", "}')}")
	if ((errors > 0)); then
		warn "$name: $errors client-visible errors (socket errors: connect $sc, read $sr, write $sw, timeout $st; non-2xx: $non2xx ${other_codes})"
	fi
}

# gateway_retries: total of drawbridge_retries_total from the admin listener.
gateway_retries() {
	curl -fsS --max-time 2 "http://127.0.0.1:$GATEWAY_ADMIN_PORT/metrics" 2>/dev/null |
		awk '/^drawbridge_retries_total/ {s += $NF; f = 1} END {if (f) printf "%d", s; else printf "n/a"}' || printf 'n/a'
}

declare -A notes
for t in "${targets[@]}"; do
	log "$t: starting 3 fresh backends"
	for n in 1 2 3; do start_backend "$n"; done
	"start_$t"
	wait_ready "$t" "${target_pid[$t]}" "http://127.0.0.1:${target_port[$t]}/" "${target_log[$t]}"
	check_spread "$t" "http://127.0.0.1:${target_port[$t]}/" b1 b2 b3
	log "$t ready on 127.0.0.1:${target_port[$t]}; ${DURATION}s of load, SIGKILL a backend every ${KILL_EVERY}s, down for ${DOWN_FOR}s"
	run_chaos "$t"
	notes[$t]=""
	if [[ "$t" == gateway ]]; then notes[$t]="retries=$(gateway_retries)"; fi
	stop_pids "${target_pid[$t]}" "${backend_pid[1]}" "${backend_pid[2]}" "${backend_pid[3]}"
	for n in 1 2 3; do wait_closed "${backend_port[$n]}" "backend b$n"; done
	wait_closed "${target_port[$t]}" "$t"
done

# ---------------------------------------------------------------- report ---

pin_desc="none"
[[ "$PIN" == 1 ]] && pin_desc="proxy on CPU $PROXY_CPU; wrk + backends on CPU $CLIENT_CPU"
{
	printf '\nChaos: 3 backends, SIGKILL one every %ss, restarted %ss later (b1, b2, b3, ...); wrk -t1 -c%s -d%ss --timeout %s, GET /\n' \
		"$KILL_EVERY" "$DOWN_FOR" "$CONNECTIONS" "$DURATION" "$WRK_TIMEOUT"
	printf 'errors = wrk socket errors (connect/read/write/timeout) + non-2xx/3xx responses; pinning: %s\n' "$pin_desc"
	printf '\n%-8s %10s %8s %8s %10s %6s %-17s %-14s %s\n' target requests 'req/s' errors 'error rate' kills 'sock c/r/w/t' 'bad statuses' notes
	printf '%-8s %10s %8s %8s %10s %6s %-17s %-14s %s\n' -------- ---------- -------- -------- ---------- ------ ----------------- -------------- -----
	while read -r name reqs rps errors kills sc sr sw st _ _ other; do
		printf '%-8s %10s %8.0f %8s %9.3f%% %6s %-17s %-14s %s\n' "$name" "$reqs" "$rps" "$errors" \
			"$(awk -v e="$errors" -v r="$reqs" 'BEGIN { print (r > 0) ? 100 * e / r : 0 }')" "$kills" \
			"$sc/$sr/$sw/$st" "$other" "${notes[$name]}"
	done <"$results"
	echo
	while read -r name _ _ errors _; do
		if ((errors == 0)); then
			printf '%s: PASS (zero client-visible errors)\n' "$name"
		else
			printf '%s: FAIL (%s client-visible errors)\n' "$name" "$errors"
		fi
	done <"$results"
	echo
} | tee "$tmp/table.txt"
for t in "${targets[@]}"; do printf '%s: %s\n' "$t" "${target_desc[$t]}" >&2; done

target_json=()
while read -r name reqs rps errors kills sc sr sw st non2xx codes _; do
	codes_json="$(awk -v c="$codes" 'BEGIN { n = split(c, a, ","); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); if (kv[2] != "") printf "%s\"%s\": %s", (i > 1 ? ", " : ""), kv[1], kv[2] } }')"
	target_json+=("    {\"name\": \"$name\", \"requests\": $reqs, \"rps\": $rps, \"errors\": $errors, \"error_rate\": $(awk -v e="$errors" -v r="$reqs" 'BEGIN { printf "%.6f", (r > 0) ? e / r : 0 }'), \"kills\": $kills,
     \"socket_errors\": {\"connect\": $sc, \"read\": $sr, \"write\": $sw, \"timeout\": $st}, \"non_2xx_3xx\": $non2xx, \"statuses\": {$codes_json},
     \"pass\": $([[ "$errors" == 0 ]] && echo true || echo false), \"notes\": $(json_str "${notes[$name]}"), \"setup\": $(json_str "${target_desc[$name]}")}")
done <"$results"

{
	printf '{\n'
	printf '  "benchmark": "bench/chaos.sh",\n'
	printf '  "timestamp": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "host": %s,\n' "$(host_json)"
	printf '  "config": {"duration_s": %s, "kill_every_s": %s, "down_for_s": %s, "threads": 1, "connections": %s, "wrk_timeout": %s, "pinned": %s, "haproxy_check": %s, "haproxy_retry_on": %s, "nginx_server_params": %s, "gateway_retry": %s, "gateway_outlier": %s},\n' \
		"$DURATION" "$(awk -v v="$KILL_EVERY" 'BEGIN{print v+0}')" "$(awk -v v="$DOWN_FOR" 'BEGIN{print v+0}')" "$CONNECTIONS" \
		"$(json_str "$WRK_TIMEOUT")" "$([[ "$PIN" == 1 ]] && echo true || echo false)" \
		"$([[ "$HAPROXY_CHECK" == 1 ]] && echo true || echo false)" "$(json_str "$HAPROXY_RETRY_ON")" \
		"$(json_str "$NGINX_SERVER_PARAMS")" "$(json_str "$GATEWAY_RETRY")" "$(json_str "$GATEWAY_OUTLIER")"
	printf '  "versions": %s,\n' "$(tool_versions_json)"
	printf '  "targets": [\n%s\n  ],\n' "$(join_by $',\n' "${target_json[@]}")"
	printf '  "events_ms": {%s},\n' "$(join_by ', ' "${events_json[@]}")"
	printf '  "non_2xx_by_second": {%s}\n' "$(join_by ', ' "${bad_json[@]}")"
	printf '}\n'
} | write_json_report
