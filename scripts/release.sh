#!/usr/bin/env bash
# Release build: static linux/amd64 and linux/arm64 binaries of drawbridge
# and a SHA256SUMS file, in dist/ (or $OUT).
#
#   scripts/release.sh                    # both architectures
#   ARCHES=amd64 OUT=/tmp/d scripts/release.sh
#   VERSION=v1.2.3 scripts/release.sh     # default: git describe --tags --always --dirty
#
# Reproducible: the same commit built with the same Go version gives the same
# bytes, wherever the checkout is and whoever builds it. That holds because
# -trimpath drops local paths, -buildid= drops the build ID, CGO_ENABLED=0
# keeps the host's C toolchain out, and the embedded date is the commit's,
# not the clock's. cmd/drawbridge/release_test.go builds twice from two
# checkouts and compares the checksums (go test -run TestReleaseReproducible).
#
# The Dockerfile's builder runs the same `go build` line; a test compares them.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-dist}
ARCHES=${ARCHES:-"amd64 arm64"}
PKG=github.com/drawbridge-dev/drawbridge/internal/buildinfo

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "release.sh: $(pwd) is not a git checkout; the commit and date come from git" >&2
	exit 2
fi
COMMIT=$(git rev-parse HEAD)
# The commit's time in UTC, so that a rebuild of the same commit is identical.
DATE=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD)
VERSION=${VERSION:-$(git describe --tags --always --dirty)}
if [ -n "$(git status --porcelain)" ]; then
	echo "release.sh: warning: uncommitted changes; these binaries cannot be rebuilt from $COMMIT alone" >&2
fi

# Baseline CPU levels: a GOAMD64 or GOARM64 in the environment would
# otherwise change the bytes.
export GOAMD64=v1 GOARM64=v8.0

mkdir -p "$OUT"
names=()
for arch in $ARCHES; do
	case $arch in
	amd64 | arm64) ;;
	*)
		echo "release.sh: ARCHES: unsupported architecture $arch (want amd64 and/or arm64)" >&2
		exit 2
		;;
	esac
	name=drawbridge-linux-$arch
	out=$OUT/$name
	echo "building $name ($VERSION, $COMMIT)" >&2
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=true \
		-ldflags "-s -w -buildid= -X ${PKG}.version=${VERSION} -X ${PKG}.commit=${COMMIT} -X ${PKG}.date=${DATE}" \
		-o "$out" ./cmd/drawbridge
	names+=("$name")
done

(cd "$OUT" && sha256sum "${names[@]}" >SHA256SUMS)
cat "$OUT/SHA256SUMS"
