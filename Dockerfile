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

# Runtime stage: no shell, no package manager, runs as uid 65532. The
# container healthcheck therefore uses `paywire healthcheck`, not curl.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/paywire /paywire
EXPOSE 8080
# The binary's default is 127.0.0.1:8080, unreachable from outside a container.
ENV PAYWIRE_ADDR=0.0.0.0:8080
USER nonroot
ENTRYPOINT ["/paywire"]
CMD ["serve"]
