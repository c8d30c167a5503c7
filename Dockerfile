# One image for the gateway and the autoscaler; the entrypoint is drawbridge.
#
#   docker build -t drawbridge --build-arg VERSION=v1.2.3 .
#   docker run --rm -p 8080:8080 -v "$PWD/examples:/etc/drawbridge:ro" \
#     drawbridge gateway run --config /etc/drawbridge/gateway.yaml
#   docker run --rm -v "$PWD/examples:/etc/drawbridge:ro" \
#     drawbridge autoscaler run --config /etc/drawbridge/autoscaler.yaml
#
# The builder is the Go version of go.mod, and its `go build` line is the one
# in scripts/release.sh (cmd/drawbridge/docker_test.go checks both and builds
# with those flags), so an image holds the same bytes as the release binary of
# the same commit and version. Builds for the builder's platform and
# cross-compiles (buildx sets TARGETARCH).

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETARCH
ARG VERSION=dev
# Empty COMMIT and DATE: the binary reports what Go embedded from .git.
ARG COMMIT=
ARG DATE=
# Baseline CPU levels, as in scripts/release.sh.
ENV GOAMD64=v1 GOARM64=v8.0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN PKG=github.com/drawbridge-dev/drawbridge/internal/buildinfo && \
	CGO_ENABLED=0 GOOS=linux GOARCH=$TARGETARCH go build -trimpath -buildvcs=true \
		-ldflags "-s -w -buildid= -X ${PKG}.version=${VERSION} -X ${PKG}.commit=${COMMIT} -X ${PKG}.date=${DATE}" \
		-o /out/drawbridge ./cmd/drawbridge

# Static binary, no shell, CA certificates for AWS and JWKS, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/drawbridge /usr/local/bin/drawbridge
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/drawbridge"]
CMD ["--help"]
