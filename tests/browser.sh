#!/usr/bin/env bash
# Runs the dashboard's real-browser tests: headless Chromium loads the
# dashboard of a running `drawbridge local` (local/browser_test.go) and of
# `drawbridge gateway proxy` and `gateway run` (cmd/drawbridge/dashboard_test.go).
# Installs Chromium (Debian packages chromium, chromium-driver) when missing.
#   bash tests/browser.sh                # run the tests
#   bash tests/browser.sh --screenshot   # ... and refresh docs/dashboard.png and docs/dashboard-gateway.png
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
	echo "== installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q chromium chromium-driver >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
fi

local_shot= gateway_shot=
if [ "${1:-}" = "--screenshot" ]; then
	mkdir -p docs
	local_shot="$PWD/docs/dashboard.png"
	gateway_shot="$PWD/docs/dashboard-gateway.png"
fi
DRAWBRIDGE_SCREENSHOT="$local_shot" go test -count=1 -run 'TestDashboardInBrowser' -v ./local
DRAWBRIDGE_SCREENSHOT="$gateway_shot" go test -count=1 -run 'DashboardInBrowser' -v ./cmd/drawbridge
