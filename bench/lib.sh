# shellcheck shell=bash disable=SC2034 # globals here are used by the scripts that source this
# bench/lib.sh - helpers shared by the benchmark scripts in bench/ (proxy.sh,
# chaos.sh, features.sh). Source it; do not run it.
#
# Before sourcing, set `bench_name` (used as the prefix of warnings/errors).
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

: "${bench_name:=bench}"
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
	local -A pkg_of=([wrk]=wrk [nginx]=nginx-light [haproxy]=haproxy [curl]=curl [taskset]=util-linux)
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
# backend`; /healthz answers 200.
start_nginx_backends() {
	local dir="$tmp/nginx-backends" port n=0 servers="" pid
	mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
	for port in "$@"; do
		n=$((n + 1))
		servers+="    server {
        listen 127.0.0.1:$port;
        location = /healthz { return 200 \"ok\\n\"; }
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
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
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

# tool_versions_json: {"nginx": ..., "haproxy": ..., "go": ..., "wrk": ...}
# (awk reads all input: an early-exiting `head` would SIGPIPE the writer,
# which pipefail turns into a failure.)
tool_versions_json() {
	local n h g w
	n="$(nginx -v 2>&1 | awk 'NR == 1 {sub(/^nginx version: /, ""); print}' || true)"
	h="$(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}' || true)"
	g="$(go version 2>/dev/null | awk '{print $3}' || true)"
	w="$(wrk -v 2>&1 | awk 'NR == 1 {print $2}' || true)"
	printf '{"nginx": %s, "haproxy": %s, "go": %s, "wrk": %s}' \
		"$(json_str "$n")" "$(json_str "$h")" "$(json_str "$g")" "$(json_str "$w")"
}

# host_json: {"cpus": ..., "kernel": ..., "loadavg_at_start": ..., "loadavg_at_end": ...}
host_json() {
	printf '{"cpus": %s, "kernel": %s, "loadavg_at_start": %s, "loadavg_at_end": %s}' "$ncpu" \
		"$(json_str "$(uname -sr)")" "$(json_str "$load_start")" "$(json_str "$(loadavg)")"
}

# nginx_preamble DIR prints the start of every bench nginx.conf: one
# worker, no access log, keep-alive never closed mid-run (nginx's default
# closes connections every 1000 requests, haproxy and Go never do), temp
# paths under DIR. The caller writes the rest of the http block.
nginx_preamble() {
	local dir=$1
	cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
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
