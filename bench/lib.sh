# shellcheck shell=bash disable=SC2034 # globals here are used by the scripts that source this
# bench/lib.sh - helpers shared by the benchmark scripts in bench/ (proxy.sh,
# chaos.sh, features.sh). Source it; do not run it.
#
# `bench_name`, the prefix of warnings and errors, is the sourcing script's
# file name unless set before.
# After sourcing, a script typically calls, in this order:
#   ensure_tools                      # apt-get what is missing (NO_INSTALL=1: fail)
#   setup_host                        # ncpu, load warning, PIN -> proxy_pin/client_pin
#   bench_init                        # temp dir + cleanup traps
#   build_drawbridge                  # sets $drawbridge (or uses DRAWBRIDGE_BIN)
#   pick_port VAR; start NAME LOG CMD...; wait_ready NAME PID URL LOG; ...
# Everything started with `start` is stopped on exit (success, failure, ^C),
# its ports are checked to be closed and the temp dir is removed (KEEP_TMP=1
# keeps it).

PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export LC_ALL=C # "." decimals for awk/printf whatever the user's locale

: "${bench_name:=$(basename -- "${BASH_SOURCE[1]:-bench}")}"
lib_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd -- "$lib_dir/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$bench_name" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$bench_name" "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- tools -----

# ensure_tools [TOOL...]: installs whatever of the tools (default: wrk nginx
# haproxy curl taskset) is missing from Debian packages (one apt-get update,
# one apt-get install).
ensure_tools() {
	local -A pkg_of=([wrk]=wrk [nginx]=nginx-light [haproxy]=haproxy [curl]=curl [taskset]=util-linux [caddy]=caddy [strace]=strace)
	local wanted=("$@") missing=() tool
	((${#wanted[@]} > 0)) || wanted=(wrk nginx haproxy curl taskset)
	for tool in "${wanted[@]}"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg_of[$tool]}")
	done
	((${#missing[@]} == 0)) && return 0
	if [[ "${NO_INSTALL:-0}" == 1 ]]; then
		die "missing packages: ${missing[*]} (NO_INSTALL=1; install them with apt-get)"
	fi
	command -v apt-get >/dev/null 2>&1 || die "missing packages: ${missing[*]}, and no apt-get to install them"
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || die "missing packages: ${missing[*]}; run as root or install them first"
		sudo=(sudo)
	fi
	log "installing missing packages: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq ||
		die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
		--no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
	for tool in "${wanted[@]}"; do
		command -v "$tool" >/dev/null 2>&1 || die "$tool still not found after installing ${pkg_of[$tool]}"
	done
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true; }

# setup_host: sets ncpu and load_start, warns about a busy machine, and turns
# PIN/PROXY_CPU/CLIENT_CPU into the command prefixes proxy_pin and client_pin
# (empty when not pinning; PIN is reset to 0 when pinning is impossible).
setup_host() {
	ncpu="$(nproc)"
	load_start="$(loadavg)"
	if awk -v l="${load_start%% *}" -v n="$ncpu" 'BEGIN { exit !(l + 0 > n / 2) }'; then
		warn "1-minute load average is ${load_start%% *} on $ncpu CPUs before starting: expect noisy numbers"
	fi
	PIN="${PIN:-1}"
	PROXY_CPU="${PROXY_CPU:-0}"
	CLIENT_CPU="${CLIENT_CPU:-1}"
	if [[ "$PIN" == 1 ]] && ((ncpu < 2)); then
		warn "only $ncpu CPU(s): disabling pinning (PIN=0)"
		PIN=0
	fi
	if [[ "$PIN" == 1 ]] && ! taskset -c "$PROXY_CPU,$CLIENT_CPU" true 2>/dev/null; then
		warn "cannot pin to CPUs $PROXY_CPU and $CLIENT_CPU (cpuset?): disabling pinning (PIN=0)"
		PIN=0
	fi
	proxy_pin=()
	client_pin=()
	if [[ "$PIN" == 1 ]]; then
		proxy_pin=(taskset -c "$PROXY_CPU")
		client_pin=(taskset -c "$CLIENT_CPU")
	fi
}

# ------------------------------------------------------ process tracking ---

pids=()      # every long-running background process we started
pid_names=() # parallel to pids, for messages
ports=()     # every port we asked something to listen on
wrk_pid=""   # the wrk run in progress, if any
tmp=""

# bench_init: creates the temp dir ($tmp) and installs the cleanup traps.
bench_init() {
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/drawbridge-bench.XXXXXX")"
	trap cleanup EXIT
	trap 'warn "unexpected failure (status $?) at line $LINENO: $BASH_COMMAND"' ERR
	trap 'warn "interrupted (SIGINT); cleaning up"; exit 130' INT
	trap 'warn "terminated (SIGTERM); cleaning up"; exit 143' TERM
}

# stop_pids PID...: stop some of our background processes: SIGTERM (children
# such as nginx workers are noted first), up to 5s, then SIGKILL; reaps them.
# Only pids that are still our (unreaped) jobs are signalled, so a recycled
# pid can never hit someone else's process.
stop_pids() {
	local live pid deadline name i
	local -a mine=() kids=()
	live=" $(jobs -p | tr '\n' ' ') "
	for pid in "$@"; do
		if [[ "$live" == *" $pid "* ]]; then
			mine+=("$pid")
			if kill -0 "$pid" 2>/dev/null; then
				mapfile -t -O "${#kids[@]}" kids < <(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' || true)
				kill -TERM "$pid" 2>/dev/null || true
			fi
		fi
	done
	deadline=$((SECONDS + 5))
	for pid in "${mine[@]}"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
		if kill -0 "$pid" 2>/dev/null; then
			name="?"
			for i in "${!pids[@]}"; do [[ "${pids[$i]}" == "$pid" ]] && name="${pid_names[$i]}"; done
			warn "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	for pid in "${kids[@]}"; do
		if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM ERR
	if [[ -n "$wrk_pid" ]]; then kill -TERM "$wrk_pid" 2>/dev/null || true; fi
	stop_pids "${pids[@]}"
	if [[ -n "$wrk_pid" ]]; then wait "$wrk_pid" 2>/dev/null || true; fi
	local port still=()
	for port in "${ports[@]}"; do
		port_open "$port" && still+=("$port")
	done
	((${#still[@]} == 0)) || warn "ports still accepting connections after cleanup: ${still[*]}"
	if [[ -n "$tmp" ]]; then
		if [[ "${KEEP_TMP:-0}" == 1 ]]; then
			warn "KEEP_TMP=1: logs and configs kept in $tmp"
		else
			rm -rf -- "$tmp"
		fi
	fi
	exit "$rc"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# port_used PORT: a TCP socket (listening or connected) uses local PORT.
port_used() {
	if command -v ss >/dev/null 2>&1; then
		[[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null || true)" ]]
	else
		port_open "$1"
	fi
}

# Random ports come from below the kernel's ephemeral range, so outgoing
# connections (ours or other tenants') cannot be holding them.
read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=32768
if ((eph_lo > 12000)); then
	rand_lo=10000 rand_n=$((eph_lo - 10000))
else
	rand_lo=61000 rand_n=4000
fi

# pick_port VAR: VAR's value if set (must be free), else a random free port.
pick_port() {
	local var="$1" port="${!1:-}" tries
	if [[ -n "$port" ]]; then
		if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
			die "$var=$port is not a port number"
		fi
		port_open "$port" && die "$var=$port: something already listens on 127.0.0.1:$port"
	else
		for ((tries = 0; tries < 100; tries++)); do
			port=$((rand_lo + (RANDOM * 32768 + RANDOM) % rand_n))
			[[ " ${ports[*]} " == *" $port "* ]] && continue
			port_used "$port" || break
		done
		((tries < 100)) || die "could not find a free port for $var"
	fi
	ports+=("$port")
	printf -v "$var" '%s' "$port"
}

# start NAME LOGFILE CMD...: run CMD in the background, output to LOGFILE
# (appended, so a restarted process keeps its earlier log).
start() {
	local name="$1" logf="$2"
	shift 2
	"$@" >>"$logf" 2>&1 &
	pids+=("$!")
	pid_names+=("$name")
}

last_pid() { printf '%s' "${pids[-1]}"; }

# wait_ready NAME PID URL LOGFILE: poll URL until it answers 2xx, the process
# dies, or READY_TIMEOUT seconds pass. Shows the log on failure.
wait_ready() {
	local name="$1" pid="$2" url="$3" logf="$4" deadline addr code what
	addr="${url#http://}"
	addr="${addr%%/*}"
	deadline=$((SECONDS + ${READY_TIMEOUT:-5}))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			die "$name exited during startup (wanted to listen on $addr); its log ($logf):
$(tail -n 30 "$logf" 2>/dev/null)"
		fi
		code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)"
		[[ "$code" == 2?? ]] && return 0
		if ((SECONDS >= deadline)); then
			if [[ "$code" =~ ^[1-9] ]]; then
				what="answers on $addr but GET $url still gave HTTP $code after ${READY_TIMEOUT:-5}s"
			else
				what="did not start on $addr within ${READY_TIMEOUT:-5}s"
			fi
			die "$name $what; its log ($logf):
$(tail -n 30 "$logf" 2>/dev/null)"
		fi
		sleep 0.1
	done
}

# start_nginx_backends PORT...: BACKENDS=nginx, backends b1, b2, ... as
# server blocks of one single-worker nginx on the client CPU (much cheaper
# per request than a Go server, so the client CPU is less likely to be the
# bottleneck). Same body shape and X-Backend-Id header as `drawbridge
# backend` on /; /4k and /64k are static files of that size (see
# size_path); /healthz answers 200.
start_nginx_backends() {
	local dir="$tmp/nginx-backends" port n=0 servers="" pid
	mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi,www}
	# Run as root, nginx workers serve files as nobody: the private temp dir
	# must let them reach the bodies.
	chmod a+rx "$tmp" "$dir" "$dir/www"
	head -c 4096 /dev/zero | tr '\0' x >"$dir/www/4k"
	head -c 65536 /dev/zero | tr '\0' x >"$dir/www/64k"
	for port in "$@"; do
		n=$((n + 1))
		servers+="    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        location = /healthz { return 200 \"ok\\n\"; }
        location = /4k { add_header X-Backend-Id b$n always; }
        location = /64k { add_header X-Backend-Id b$n always; }
        location / { add_header X-Backend-Id b$n always; return 200 \"hello from b$n\\n\"; }
    }
"
	done
	{ nginx_preamble "$dir"; cat <<EOF
    default_type text/plain;
$servers}
EOF
	} >"$dir/nginx.conf"
	run_nginx "nginx backends" "$dir" "${client_pin[@]}"
	pid="$(last_pid)"
	n=0
	for port in "$@"; do
		n=$((n + 1))
		wait_ready "nginx backend b$n" "$pid" "http://127.0.0.1:$port/healthz" "$dir/error.log"
	done
}

# build_drawbridge: sets $drawbridge to DRAWBRIDGE_BIN, or builds
# ./cmd/drawbridge into the temp dir.
build_drawbridge() {
	command -v go >/dev/null 2>&1 || [[ -n "${DRAWBRIDGE_BIN:-}" ]] ||
		die "go not found in PATH (needed to build drawbridge; or set DRAWBRIDGE_BIN)"
	if [[ -n "${DRAWBRIDGE_BIN:-}" ]]; then
		[[ -x "$DRAWBRIDGE_BIN" ]] || die "DRAWBRIDGE_BIN=$DRAWBRIDGE_BIN is not an executable"
		drawbridge="$DRAWBRIDGE_BIN"
		log "using drawbridge binary $drawbridge"
	else
		log "building drawbridge (go build ./cmd/drawbridge)"
		drawbridge="$tmp/drawbridge"
		if ! (cd "$repo_root" && go build -o "$drawbridge" ./cmd/drawbridge) >"$tmp/build.log" 2>&1; then
			die "go build ./cmd/drawbridge failed:
$(cat "$tmp/build.log")"
		fi
	fi
}

# ---------------------------------------------------------- measurement ---

# to_ms VALUE: wrk latency ("812.00us", "1.23ms", "2.01s", "1.50m") in ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (match(v, /^[0-9.]+/) == 0) { exit 1 }
		n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
		if (u == "us") f = 0.001; else if (u == "ms") f = 1; else if (u == "s") f = 1000
		else if (u == "m") f = 60000; else if (u == "h") f = 3600000; else exit 1
		printf "%.3f", n * f
	}'
}

# cpu_ticks PID: user+system CPU ticks used so far by PID and its children
# (the nginx worker is a child of the master; Go proxies are one process).
cpu_ticks() {
	local p total=0 t
	for p in $(proc_family "$1"); do
		# Fields after "pid (comm) ": utime and stime are the 12th and 13th.
		t="$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || true)"
		total=$((total + ${t:-0}))
	done
	printf '%s' "$total"
}
clk_tck="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# cpu_stat N: "busy total" jiffies of CPU N from /proc/stat (all processes,
# not only ours), to tell whether the client CPU was saturated.
cpu_stat() {
	awk -v c="cpu$1" '$1 == c {
		t = 0; for (i = 2; i <= NF; i++) t += $i
		print t - $5 - $6, t
	}' /proc/stat 2>/dev/null || true
}
# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": busy share in between, in percent.
busy_pct() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
		printf "%.1f", (t > 0) ? 100 * (y[1] - x[1]) / t : 0
	}'
}

# wrk_errors FILE: "SOCKET NON2XX" error counts from a wrk summary (socket
# errors = connect + read + write + timeout; non-2xx = wrk's "Non-2xx or
# 3xx responses", which includes every 4xx and 5xx).
wrk_errors() {
	local s n
	s="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$1")"
	n="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1")"
	printf '%s %s\n' "${s:-0}" "${n:-0}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "null"; else printf "%.2f", a / b }'; }

# ----------------------------------------------------------------- JSON ---

json_str() {
	local s="$1"
	s="${s//\\/\\\\}"
	s="${s//\"/\\\"}"
	s="${s//$'\n'/ }"
	printf '"%s"' "$s"
}
join_by() {
	local sep="$1" first=1 x
	shift
	for x in "$@"; do
		((first)) || printf '%s' "$sep"
		printf '%s' "$x"
		first=0
	done
}

# tool_versions_json: {"nginx": ..., "haproxy": ..., "caddy": ..., "go": ..., "wrk": ...}
# (awk reads all input: an early-exiting `head` would SIGPIPE the writer,
# which pipefail turns into a failure.)
tool_versions_json() {
	local n h g w c
	c="$(caddy version 2>/dev/null | awk 'NR == 1 {print $1}' || true)"
	n="$(nginx -v 2>&1 | awk 'NR == 1 {sub(/^nginx version: /, ""); print}' || true)"
	h="$(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}' || true)"
	g="$(go version 2>/dev/null | awk '{print $3}' || true)"
	w="$(wrk -v 2>&1 | awk 'NR == 1 {print $2}' || true)"
	printf '{"nginx": %s, "haproxy": %s, "caddy": %s, "go": %s, "wrk": %s}' \
		"$(json_str "$n")" "$(json_str "$h")" "$(json_str "$c")" "$(json_str "$g")" "$(json_str "$w")"
}

# host_json: {"cpus": ..., "kernel": ..., "loadavg_at_start": ..., "loadavg_at_end": ...}
host_json() {
	printf '{"cpus": %s, "kernel": %s, "loadavg_at_start": %s, "loadavg_at_end": %s}' "$ncpu" \
		"$(json_str "$(uname -sr)")" "$(json_str "$load_start")" "$(json_str "$(loadavg)")"
}

# nginx_preamble DIR [WORKERS] [CONNECTIONS] prints the start of every
# bench nginx.conf: WORKERS (1) workers of CONNECTIONS (4096) connections
# each, no access log, keep-alive never closed mid-run (nginx's default
# closes connections every 1000 requests, haproxy and Go never do), temp
# paths under DIR. The caller writes the rest of the http block.
nginx_preamble() {
	local dir=$1 workers=${2:-1} conns=${3:-4096}
	cat <<EOF
daemon off;
master_process on;
worker_processes $workers;
worker_rlimit_nofile $((2 * conns + 64));
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections $conns;
}
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
EOF
}

# run_nginx NAME DIR [PIN...]: checks DIR/nginx.conf with nginx -t (dying
# with its complaint), then starts nginx on it under PIN (e.g. taskset -c 0);
# last_pid gives its pid.
run_nginx() {
	local name=$1 dir=$2
	shift 2
	local args=(-p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log")
	nginx -t -q "${args[@]}" >"$dir/test.log" 2>&1 ||
		die "$name rejected its config ($dir/nginx.conf):
$(cat "$dir/test.log")"
	start "$name" "$dir/stderr.log" "$@" nginx "${args[@]}"
}

# median FILE FIELD TARGET: median of column FIELD of TARGET's rows in
# FILE (one row per target and round). Negative values mean "not
# available" and are skipped; none left gives -1.
median() {
	awk -v f="$2" -v t="$3" '$1 == t && $f >= 0 {print $f}' "$1" | sort -g |
		awk '{v[NR] = $1} END {
			if (NR == 0) { printf "-1"; exit }
			if (NR % 2) printf "%.3f", v[(NR + 1) / 2]
			else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# ------------------------------------------------------- script plumbing ---

# parse_bench_args ARG...: the options every bench script takes: --quick
# (sets quick=1; QUICK=1 does the same) and --help (calls the script's usage);
# any other ARG goes to the script's bench_extra_arg, if defined, which
# returns non-zero for an argument it does not know either.
parse_bench_args() {
	quick="${QUICK:-0}"
	local arg
	for arg in "$@"; do
		case "$arg" in
		--quick) quick=1 ;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			# A script with options of its own defines bench_extra_arg.
			if declare -F bench_extra_arg >/dev/null && bench_extra_arg "$arg"; then continue; fi
			echo "$bench_name: unknown argument: $arg (try --help)" >&2
			exit 2
			;;
		esac
	done
}

# round_defaults ROUNDS: the defaults of DURATION, WARMUP and ROUNDS for
# the scripts that measure in rounds: 10s, 2s and ROUNDS; with --quick (a
# smoke test) 3s, 1s and 1.
round_defaults() {
	if [[ "$quick" == 1 ]]; then
		DURATION="${DURATION:-3s}"
		WARMUP="${WARMUP:-1s}"
		ROUNDS="${ROUNDS:-1}"
	fi
	DURATION="${DURATION:-10s}"
	WARMUP="${WARMUP:-2s}"
	ROUNDS="${ROUNDS:-$1}"
}

# start_drawbridge_backend N PORT [ARG...]: `drawbridge backend` bN on PORT
# (GOMAXPROCS=1, on the client CPU), appending to $tmp/backendN.log, and
# waits until it is ready; last_pid gives its pid.
start_drawbridge_backend() {
	local n="$1" port="$2" logf="$tmp/backend$1.log"
	shift 2
	start "backend b$n" "$logf" env GOMAXPROCS=1 "${client_pin[@]}" "$drawbridge" backend \
		--listen "127.0.0.1:$port" --id "b$n" "$@"
	wait_ready "drawbridge backend b$n" "$(last_pid)" "http://127.0.0.1:$port/healthz" "$logf"
}

# start_two_backends [ARG...]: picks BACKEND1_PORT and BACKEND2_PORT and
# starts backends b1 and b2 there as BACKENDS says: "drawbridge" (ARGs go
# to each `drawbridge backend`) or "nginx" (one static nginx).
start_two_backends() {
	pick_port BACKEND1_PORT
	pick_port BACKEND2_PORT
	case "$BACKENDS" in
	drawbridge)
		start_drawbridge_backend 1 "$BACKEND1_PORT" "$@"
		start_drawbridge_backend 2 "$BACKEND2_PORT" "$@"
		;;
	nginx) start_nginx_backends "$BACKEND1_PORT" "$BACKEND2_PORT" ;;
	*) die "BACKENDS must be 'drawbridge' or 'nginx', got '$BACKENDS'" ;;
	esac
	log "$BACKENDS backends b1=127.0.0.1:$BACKEND1_PORT b2=127.0.0.1:$BACKEND2_PORT"
}

# The targets under test, by name: their port, pid and log file.
declare -A target_port target_pid target_log

# set_target NAME PORT LOGFILE: records the last started process as target NAME.
set_target() {
	target_port[$1]="$2"
	target_pid[$1]="$(last_pid)"
	target_log[$1]="$3"
}

# gateway_yaml_listen PORT ADMIN_PORT: the first lines of a bench gateway
# config (listener, admin, no access log) up to and including `routes:`.
gateway_yaml_listen() {
	printf 'listen: "127.0.0.1:%s"\n' "$1"
	printf 'admin: {enabled: true, listen: "127.0.0.1:%s"}\n' "$2"
	printf 'access_log: {enabled: false}\n'
	printf 'shutdown_timeout: 1s\n'
	printf 'routes:\n'
}

# gateway_yaml_head PORT ADMIN_PORT: gateway_yaml_listen and the start of
# one route `all` to pool p (the caller may add route keys).
gateway_yaml_head() {
	gateway_yaml_listen "$1" "$2"
	printf '  - name: all\n    pool: p\n'
}

# gateway_yaml_pools: the `pools:` key and pool p of backends b1 and b2
# (BACKEND1_PORT, BACKEND2_PORT); the caller may add pools.
gateway_yaml_pools() {
	printf 'pools:\n  - name: p\n    backends:\n'
	printf '      - {address: "127.0.0.1:%s", id: b1}\n' "$BACKEND1_PORT"
	printf '      - {address: "127.0.0.1:%s", id: b2}\n' "$BACKEND2_PORT"
}

# run_gateway NAME DIR [HINT]: checks DIR/gateway.yaml with `drawbridge
# gateway validate` (dying with its complaint and HINT), then starts
# `gateway run` on it on the proxy CPU; last_pid gives its pid.
run_gateway() {
	local name="$1" dir="$2" hint="${3:-}"
	"$drawbridge" gateway validate --config "$dir/gateway.yaml" >"$dir/validate.log" 2>&1 ||
		die "drawbridge gateway validate rejected the $name config ($dir/gateway.yaml):
$(cat "$dir/validate.log")${hint:+
$hint}"
	start "$name" "$dir/gateway.log" env GOMAXPROCS=1 "${proxy_pin[@]}" "$drawbridge" gateway run --config "$dir/gateway.yaml"
}

# run_haproxy NAME CFG LOGFILE: checks CFG with haproxy -c (dying with its
# complaint), then starts haproxy on it on the proxy CPU.
run_haproxy() {
	local name="$1" cfg="$2" logf="$3"
	haproxy -c -q -f "$cfg" >"$logf.check" 2>&1 ||
		die "$name rejected its config ($cfg):
$(cat "$logf.check")"
	start "$name" "$logf" "${proxy_pin[@]}" haproxy -db -f "$cfg"
}

# check_spread NAME URL ID...: 6 GETs through target NAME must succeed (else
# die with its log) and should reach every backend ID (else warn).
check_spread() {
	local name="$1" url="$2" i id ids=() uniq want missing=0
	shift 2
	for ((i = 0; i < 6; i++)); do
		id="$(curl -fsS -o /dev/null -D - --max-time 2 "$url" 2>/dev/null |
			tr -d '\r' | awk -F': *' 'tolower($1)=="x-backend-id"{print $2}')" ||
			die "$name: GET $url failed; its log (${target_log[$name]:-?}):
$(tail -n 30 "${target_log[$name]:-/dev/null}" 2>/dev/null)"
		ids+=("${id:-<none>}")
	done
	uniq="$(printf '%s\n' "${ids[@]}" | sort -u | tr '\n' ' ')"
	for want in "$@"; do [[ " $uniq" == *" $want "* ]] || missing=1; done
	if ((missing)); then
		warn "$name: 6 requests reached backends [ ${uniq}] - expected $* (round robin)"
	fi
}

# ------------------------------------------------------ measured wrk runs ---

# run_wrk NAME DURATION OUTFILE [WRK ARG...]: wrk -t$WRK_THREADS (1)
# -c$CONNECTIONS against path $wrk_path (/) of target NAME; fails loudly if
# wrk fails or the target died. wrk runs in the background so that a signal
# to the script is handled at once (the cleanup trap stops wrk too).
run_wrk() {
	local name="$1" dur="$2" outf="$3" rc=0
	shift 3
	"${client_pin[@]}" wrk "-t${WRK_THREADS:-1}" "-c$CONNECTIONS" "-d$dur" "$@" \
		"http://127.0.0.1:${target_port[$name]}${wrk_path:-/}" >"$outf" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || rc=$?
	finish_wrk "$name" "$outf" "$rc"
}

# finish_wrk NAME OUTFILE RC: after wrk ($wrk_pid) exited with RC: dies if
# target NAME died under load or wrk failed, with the logs.
finish_wrk() {
	local name="$1" outf="$2" rc="$3"
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

# measure_run TARGET ROUND [WRK ARG...]: an optional WARMUP run, then one
# measured DURATION run of wrk --latency against TARGET, appended to
# $samples as one line:
#   target rps p99_ms errors requests proxy_cpu_pct client_cpu_busy_pct
#   rps_per_proxy_core          (-1: not available)
# wrk_error_hint, if set, is added to the warning about errors.
measure_run() {
	local t="$1" round="$2" outf ticks0 ticks1 client0 client1 t0 t1 cpu client
	local rps p99_raw p99 reqs sockerr non2xx errors eff client_txt
	shift 2
	if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
		run_wrk "$t" "$WARMUP" "$tmp/wrk-$t-warmup.txt" --latency "$@"
	fi
	outf="$tmp/wrk-$t-$round.txt"
	ticks0="$(cpu_ticks "${target_pid[$t]}")"
	client0="$(cpu_stat "$CLIENT_CPU")"
	t0="$EPOCHREALTIME"
	run_wrk "$t" "$DURATION" "$outf" --latency "$@"
	t1="$EPOCHREALTIME"
	client1="$(cpu_stat "$CLIENT_CPU")"
	ticks1="$(cpu_ticks "${target_pid[$t]}")"
	# Share of one core the proxy actually got while wrk ran: well below
	# 100 means it was starved (noisy neighbour on its CPU) or the client
	# side could not push it harder.
	cpu="$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$clk_tck" -v s="$t0" -v e="$t1" \
		'BEGIN { w = e - s; printf "%.1f", (w > 0) ? 100 * (b - a) / hz / w : 0 }')"
	# How busy the client CPU (wrk + backends + anyone else) was: near 100
	# means the client side, not the proxy, set the pace.
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
	# Requests per second of proxy CPU time: how much work one fully used
	# core does. Robust to a neighbour stealing part of the proxy's core
	# (req/s drops, this does not); skipped (-1) when the proxy got almost
	# no CPU.
	eff="$(awk -v r="$rps" -v c="$cpu" 'BEGIN { if (c < 5) print -1; else printf "%.0f", r * 100 / c }')"
	printf '%s %s %s %s %s %s %s %s\n' "$t" "$rps" "$p99" "$errors" "${reqs:-0}" "$cpu" "$client" "$eff" >>"$samples"
	client_txt="n/a"
	[[ "$client" == -* ]] || client_txt="$client%"
	log "round $round/$ROUNDS $(printf '%-8s %10.0f req/s  p99 %8.3f ms  proxy cpu %5.1f%%  client cpu %6s  errors %s' \
		"$t" "$rps" "$p99" "$cpu" "$client_txt" "$errors")"
	if ((errors > 0)); then
		warn "$t: $errors errors in round $round (socket errors: $sockerr, non-2xx/3xx: $non2xx${wrk_error_hint:+; $wrk_error_hint}); wrk said:
$(grep -E 'Socket errors|Non-2xx' "$outf")"
	fi
}

# summarize_samples TARGET...: the medians of each target's runs in
# $samples into med_rps med_p99 med_cpu med_client med_eff, and the summed
# errors into tot_err.
summarize_samples() {
	declare -gA med_rps med_p99 med_cpu med_client med_eff tot_err
	local t
	for t in "$@"; do
		med_rps[$t]="$(median "$samples" 2 "$t")"
		med_p99[$t]="$(median "$samples" 3 "$t")"
		med_cpu[$t]="$(median "$samples" 6 "$t")"
		med_client[$t]="$(median "$samples" 7 "$t")"
		med_eff[$t]="$(median "$samples" 8 "$t")"
		tot_err[$t]="$(awk -v t="$t" '$1 == t {s += $4} END {print s + 0}' "$samples")"
	done
}

# samples_table TARGET...: the table of the medians (summarize_samples).
samples_table() {
	local t client eff
	printf '\n%-10s %12s %10s %10s %11s %14s %8s\n' target 'req/s' 'p99 (ms)' 'proxy cpu' 'client cpu' 'req/cpu-sec' errors
	printf '%-10s %12s %10s %10s %11s %14s %8s\n' ---------- ------------ ---------- ---------- ----------- -------------- --------
	for t in "$@"; do
		if [[ "${med_client[$t]}" == -* ]]; then client="n/a"; else client="$(printf '%.1f%%' "${med_client[$t]}")"; fi
		if [[ "${med_eff[$t]}" == -* ]]; then eff="n/a"; else eff="$(printf '%.0f' "${med_eff[$t]}")"; fi
		printf '%-10s %12.0f %10.3f %9.1f%% %11s %14s %8s\n' "$t" "${med_rps[$t]}" "${med_p99[$t]}" \
			"${med_cpu[$t]}" "$client" "$eff" "${tot_err[$t]}"
	done
}

# sample_target_json TARGET [EXTRA]: TARGET's medians and runs as one JSON
# object; EXTRA (e.g. `"port": 80, `) goes right after its name.
sample_target_json() {
	local t="$1" extra="${2:-}" mc me runs=() rps p99 errs reqs cpu client eff
	mc="${med_client[$t]}"
	[[ "$mc" == -* ]] && mc=null
	me="${med_eff[$t]}"
	[[ "$me" == -* ]] && me=null
	while read -r _ rps p99 errs reqs cpu client eff; do
		[[ "$client" == -* ]] && client=null
		[[ "$eff" == -* ]] && eff=null
		runs+=("{\"rps\": $rps, \"p99_ms\": $p99, \"proxy_cpu_pct\": $cpu, \"client_cpu_busy_pct\": $client, \"rps_per_proxy_cpu\": $eff, \"errors\": $errs, \"requests\": $reqs}")
	done < <(awk -v t="$t" '$1 == t' "$samples")
	printf '    {"name": "%s", %s"rps": %s, "p99_ms": %s, "proxy_cpu_pct": %s, "client_cpu_busy_pct": %s, "rps_per_proxy_cpu": %s, "errors": %s,\n     "runs": [%s]}' \
		"$t" "$extra" "${med_rps[$t]}" "${med_p99[$t]}" "${med_cpu[$t]}" "$mc" "$me" "${tot_err[$t]}" "$(join_by ', ' "${runs[@]}")"
}

# write_json_report: stdin to $OUT, atomically (through $OUT.tmp).
write_json_report() {
	mkdir -p "$(dirname -- "$OUT")"
	cat >"$OUT.tmp"
	mv -f -- "$OUT.tmp" "$OUT"
	log "wrote $OUT"
}

# eff_ratio A B: A's over B's median req/cpu-sec, or null if either is unknown.
eff_ratio() {
	if [[ "${med_eff[$1]}" == -* || "${med_eff[$2]}" == -* ]]; then
		printf 'null'
	else
		ratio "${med_eff[$1]}" "${med_eff[$2]}"
	fi
}

# --------------------------------------------------------- proxy targets ---
# The proxies under test, shared by proxy.sh and idleconns.sh: start_nginx,
# start_haproxy, start_caddy, start_gateway, start_baseline, start_stock.
# They read backend_addrs ("host:port,host:port"), proxy_cores (workers,
# threads or GOMAXPROCS of each proxy) and proxy_maxconn (client
# connections each must accept), and run under ${proxy_pin[@]}.
proxy_cores=1
proxy_maxconn=4096

# nginx_proxy_conf DIR PORT KEEPALIVE SERVER_PARAMS ADDR...: an nginx.conf
# proxying 127.0.0.1:PORT to ADDR... round robin over HTTP/1.1 keep-alive
# upstream connections (KEEPALIVE idle ones kept); SERVER_PARAMS, if not
# empty, goes on every upstream `server` line.
nginx_proxy_conf() {
	local dir=$1 port=$2 keepalive=$3 params=$4 a servers=""
	shift 4
	for a in "$@"; do servers+="        server $a${params:+ $params};"$'\n'; done
	nginx_preamble "$dir" "$proxy_cores" "$proxy_maxconn"
	cat <<EOF
    upstream backends {
$servers        keepalive $keepalive;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

start_nginx() {
	local dir="$tmp/nginx"
	mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
	pick_port NGINX_PORT
	# keepalive_requests/timeout are raised so nginx, like haproxy and the Go
	# proxies, never closes client or upstream keep-alive connections mid-run.
	nginx_proxy_conf "$dir" "$NGINX_PORT" 64 "" ${backend_addrs//,/ } >"$dir/nginx.conf"
	run_nginx nginx "$dir" "${proxy_pin[@]}"
	set_target nginx "$NGINX_PORT" "$dir/error.log"
}

start_haproxy() {
	local cfg="$tmp/haproxy.cfg" a n=0 fds=""
	pick_port HAPROXY_PORT
	# haproxy wants 2 descriptors per connection (client + server) and
	# refuses to start when the hard limit is lower (strict-limits); idle clients share a
	# few server connections, so the hard limit is enough.
	if ((2 * proxy_maxconn + 200 > $(ulimit -Hn))); then fds="ulimit-n $(ulimit -Hn)
    no strict-limits"; fi
	{
		cat <<EOF
global
    nbthread $proxy_cores
    maxconn $proxy_maxconn
    $fds

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 75s
    timeout server 60s
    timeout http-keep-alive 75s

frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend backends

backend backends
    balance roundrobin
EOF
		for a in ${backend_addrs//,/ }; do
			n=$((n + 1))
			printf '    server b%s %s\n' "$n" "$a"
		done
	} >"$cfg"
	run_haproxy haproxy "$cfg" "$tmp/haproxy.log"
	set_target haproxy "$HAPROXY_PORT" "$tmp/haproxy.log"
}

# start_caddy: Caddy's reverse_proxy (the Go peer of the gateway) from a
# generated Caddyfile: admin API off, no automatic HTTPS, HTTP/1.1 only (as
# the other targets), only error logs, round robin, 64 idle upstream
# connections per backend like nginx's keepalive 64. Its state directories
# point into the temp dir so it never touches the user's.
start_caddy() {
	local dir="$tmp/caddy"
	mkdir -p "$dir"
	pick_port CADDY_PORT
	cat >"$dir/Caddyfile" <<EOF
{
	admin off
	auto_https off
	log {
		level ERROR
	}
	servers {
		protocols h1
	}
}
http://127.0.0.1:$CADDY_PORT {
	bind 127.0.0.1
	reverse_proxy ${backend_addrs//,/ } {
		lb_policy round_robin
		transport http {
			keepalive_idle_conns_per_host 64
		}
	}
}
EOF
	local env=(env GOMAXPROCS="$proxy_cores" HOME="$dir" XDG_CONFIG_HOME="$dir" XDG_DATA_HOME="$dir")
	"${env[@]}" caddy validate --adapter caddyfile --config "$dir/Caddyfile" >"$dir/validate.log" 2>&1 ||
		die "caddy rejected its config ($dir/Caddyfile):
$(tail -n 20 "$dir/validate.log")"
	start caddy "$dir/caddy.log" "${env[@]}" "${proxy_pin[@]}" caddy run --adapter caddyfile --config "$dir/Caddyfile"
	set_target caddy "$CADDY_PORT" "$dir/caddy.log"
}

# start_drawbridge_proxy NAME BINARY: `gateway proxy` of BINARY as target NAME.
start_drawbridge_proxy() {
	local name="$1" bin="$2"
	# GATEWAY_PORT/GATEWAY_ADMIN_PORT, BASELINE_PORT/BASELINE_ADMIN_PORT
	local port_var="${name^^}_PORT" admin_var="${name^^}_ADMIN_PORT"
	# GATEWAY_ENGINE / BASELINE_ENGINE pick server.engine; unset, no flag
	# is passed (a baseline binary may predate it).
	local engine_var="${name^^}_ENGINE" engine=()
	if [ -n "${!engine_var:-}" ]; then engine=(--engine "${!engine_var}"); fi
	pick_port "$port_var"
	# The admin listener gets its own free port: another gateway on this
	# machine may hold the default one.
	pick_port "$admin_var"
	start "$name" "$tmp/$name.log" env GOMAXPROCS="$proxy_cores" "${proxy_pin[@]}" \
		"$bin" gateway proxy --listen "127.0.0.1:${!port_var}" \
		--to "$backend_addrs" --strategy "${GATEWAY_STRATEGY:-round_robin}" --admin "127.0.0.1:${!admin_var}" "${engine[@]}"
	set_target "$name" "${!port_var}" "$tmp/$name.log"
}

start_gateway() { start_drawbridge_proxy gateway "$drawbridge"; }
start_baseline() { start_drawbridge_proxy baseline "$BASELINE_BIN"; }

start_stock() {
	pick_port STOCK_PORT
	start stock "$tmp/stock.log" env GOMAXPROCS="$proxy_cores" "${proxy_pin[@]}" \
		"$tmp/stockproxy" --listen "127.0.0.1:$STOCK_PORT" --to "$backend_addrs"
	set_target stock "$STOCK_PORT" "$tmp/stock.log"
}

# start_targets TARGET...: starts each target, waits for it and checks that
# it reaches both backends b1 and b2.
start_targets() {
	local t
	for t in "$@"; do
		"start_$t"
		wait_ready "$t" "${target_pid[$t]}" "http://127.0.0.1:${target_port[$t]}/" "${target_log[$t]}"
		check_spread "$t" "http://127.0.0.1:${target_port[$t]}/" b1 b2
		log "$t ready on 127.0.0.1:${target_port[$t]} ($proxy_cores core(s))"
	done
}

# stop_targets TARGET...: stops them (their ports can be picked again).
stop_targets() {
	local t
	for t in "$@"; do stop_pids "${target_pid[$t]}"; done
}

# build_go_tool NAME: go build ./bench/NAME into $tmp/NAME.
build_go_tool() {
	log "building $1 (go build ./bench/$1)"
	if ! (cd "$repo_root" && go build -o "$tmp/$1" "./bench/$1") >"$tmp/build-$1.log" 2>&1; then
		die "go build ./bench/$1 failed:
$(cat "$tmp/build-$1.log")"
	fi
}

# proc_family PID: PID and its children (an nginx master's workers).
proc_family() {
	printf '%s\n' "$1"
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

# mem_kib PID [Pss|Rss]: proportional (default) or resident set size, in
# KiB, of PID and its children, from /proc/PID/smaps_rollup (VmRSS where
# that file is missing).
mem_kib() {
	local p total=0 v field="${2:-Pss}"
	for p in $(proc_family "$1"); do
		v="$(awk -v f="$field:" '$1 == f {print $2; exit}' "/proc/$p/smaps_rollup" 2>/dev/null || true)"
		[[ -n "$v" ]] || v="$(awk '$1 == "VmRSS:" {print $2}' "/proc/$p/status" 2>/dev/null || true)"
		total=$((total + ${v:-0}))
	done
	printf '%s' "$total"
}

# size_path SIZE: the request path of response size small|4k|64k on the
# static nginx backends.
size_path() {
	case "$1" in
	small) printf '/' ;;
	4k | 64k) printf '/%s' "$1" ;;
	*) die "unknown response size '$1' (small, 4k, 64k)" ;;
	esac
}

# json_num FILE KEY: a number field of a one-line JSON object.
json_num() { grep -o "\"$2\": *[-0-9.e+]*" "$1" | head -n 1 | sed 's/.*: *//'; }

# run_openloop TARGET RATE OUTFILE [OPENLOOP ARG...]: $tmp/openloop (built
# with build_go_tool) at RATE req/s for DURATION after WARMUP, with
# CONNECTIONS connections, against TARGET from the client CPU; its JSON
# report goes to OUTFILE. Dies if it fails or the target died.
run_openloop() {
	local t="$1" rate="$2" f="$3"
	shift 3
	env GOMAXPROCS=1 "${client_pin[@]}" "$tmp/openloop" --addr "127.0.0.1:${target_port[$t]}" \
		--rate "$rate" --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNECTIONS" "$@" >"$f" 2>"$f.err" ||
		die "openloop against $t failed: $(cat "$f.err")"
	kill -0 "${target_pid[$t]}" 2>/dev/null || die "$t died under open-loop load; its log:
$(tail -n 20 "${target_log[$t]}" 2>/dev/null)"
}
