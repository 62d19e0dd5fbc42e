# syntax=docker/dockerfile:1

# Build stage: a static binary. CGO is off because the runtime image has no
# libc; both database drivers (pgx, modernc SQLite) are pure Go.
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, as their own layer: it is rebuilt only when go.mod or go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/paywire ./cmd/paywire
# The data directory of the runtime image. The runtime image has no shell to
# create it, so it is made here and copied with its owner set below.
RUN mkdir -p /out/data && chmod 0700 /out/data

# Runtime stage: no shell, no package manager, runs as uid 65532 (nonroot).
# The container healthcheck therefore uses `paywire healthcheck`, not curl.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/paywire /paywire
# /data belongs to the non-root user: the default SQLite database is created
# there. A fresh named volume mounted on /data takes this owner; a bind mount
# must be writable by uid 65532.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
VOLUME ["/data"]
# The binary's default, .paywire/paywire.db, is relative to the working
# directory; the image names its database explicitly. A postgres:// URL
# in PAYWIRE_DB replaces it.
ENV PAYWIRE_DB=/data/paywire.db
EXPOSE 8080
# The binary's default is 127.0.0.1:8080, unreachable from outside a container.
ENV PAYWIRE_ADDR=0.0.0.0:8080
USER 65532:65532
# Exec form: there is no shell. Asks http://127.0.0.1:8080/readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/paywire", "healthcheck"]
ENTRYPOINT ["/paywire"]
CMD ["serve"]
