#!/usr/bin/env bash
# Runs the dashboard's real-browser test (local/browser_test.go): headless
# Chromium loads the dashboard of a running `drawbridge local`. Installs
# Chromium (Debian packages chromium, chromium-driver) when missing.
#   bash tests/browser.sh                # run the test
#   bash tests/browser.sh --screenshot   # ... and refresh docs/dashboard.png
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
	echo "== installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q chromium chromium-driver >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
fi

if [ "${1:-}" = "--screenshot" ]; then
	export DRAWBRIDGE_SCREENSHOT="$PWD/docs/dashboard.png"
	mkdir -p docs
fi
go test -count=1 -run 'TestDashboardInBrowser' -v ./local
