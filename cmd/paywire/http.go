package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// routerConfig is what the public router is told.
type routerConfig struct {
	MaxBody int64
	// HSTS sends Strict-Transport-Security: the public URL is https.
	HSTS bool
	// Metrics serves /metrics on the public router; nil when metrics are
	// served on their own listener (or not at all).
	Metrics http.Handler
	// PolicyBundle reports the policy bundle the node runs; nil: not shown.
	PolicyBundle func() any
}

// newRouter returns the node's router with the operational endpoints; the
// transports (api, portal, listeners, admin) mount under it as they arrive.
//
//go:embed favicon.svg
var favicon []byte

func newRouter(log *slog.Logger, reg *prometheus.Registry, db *store.DB, cfg routerConfig) chi.Router {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paywire_http_requests_total",
		Help: "HTTP requests served, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "paywire_http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by route pattern and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"route", "method"})
	reg.MustRegister(requests, latency)

	r := chi.NewRouter()
	r.Use(requestID)
	r.Use(securityHeaders(cfg.HSTS))
	r.Use(observe(log, requests, latency))
	r.Use(recoverer(log))
	r.Use(limitBody(cfg.MaxBody))
	r.Use(strictURL)

	// Browsers ask every site for /favicon.ico; an answer keeps a 404 out
	// of every page's console.
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(favicon)
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			log.WarnContext(r.Context(), "not ready: database unreachable", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "database unreachable"})
			return
		}
		if err := db.CheckMigrations(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		ready := map[string]any{"status": "ready", "database": string(db.Dialect())}
		if cfg.PolicyBundle != nil {
			ready["policyBundle"] = cfg.PolicyBundle()
		}
		writeJSON(w, http.StatusOK, ready)
	})
	if cfg.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", cfg.Metrics)
	}

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("not_found", "no such page", requestIDOf(r)))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("method_not_allowed", r.Method+" is not allowed here", requestIDOf(r)))
	})
	return r
}

// limitBody refuses bodies over max bytes: at once when Content-Length says
// so, and by http.MaxBytesReader for bodies that do not announce their size,
// so that no handler can be made to read more.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				w.Header().Set("Connection", "close")
				writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("too_large", "the request body exceeds "+strconv.FormatInt(max, 10)+" bytes", requestIDOf(r)))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

// strictURL refuses a request whose path or query, once decoded, is not
// text (paywire.ValidText): a %00 or invalid UTF-8 would otherwise reach a
// store that cannot hold it, or a log line.
func strictURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := paywire.ValidText(r.URL.Path)
		if q, err := url.ParseQuery(r.URL.RawQuery); ok && err == nil {
			for k, vs := range q {
				ok = ok && paywire.ValidText(k)
				for _, v := range vs {
					ok = ok && paywire.ValidText(v)
				}
			}
		}
		if !ok {
			writeJSON(w, http.StatusBadRequest, errorBody("invalid", "the request URL contains a NUL byte, a control character or invalid UTF-8", requestIDOf(r)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// observe logs each request and records its metrics by route pattern, never
// by raw path, so that ids in paths do not explode the label set. A SOAP
// 1.1 client fault is answered with HTTP 500, as SOAP 1.1 requires; it is
// counted with code "4xx-fault", so that 5xx alerts see only faults that
// are ours.
func observe(log *slog.Logger, requests *prometheus.CounterVec, latency *prometheus.HistogramVec) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			var head faultSniffer
			ww.Tee(&head)
			next.ServeHTTP(ww, r)
			route := chi.RouteContext(r.Context()).RoutePattern()
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			code := strconv.Itoa(status)
			if status == http.StatusInternalServerError && head.clientFault() {
				code = "4xx-fault"
			}
			requests.WithLabelValues(route, r.Method, code).Inc()
			latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
			level := slog.LevelInfo
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				level = slog.LevelDebug
			}
			log.Log(r.Context(), level, "request", "method", r.Method, "route", route,
				"status", status, "duration", d)
		})
	}
}

// recoverer turns a panic into a 500 with a generic message; the panic
// value goes only to the log.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic serving request", "panic", v)
					writeJSON(w, http.StatusInternalServerError, errorBody("internal", "internal error", requestIDOf(r)))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

func errorBody(code, message, requestID string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message, "requestId": requestID}}
}

// requestIDHeader carries a request's id, both ways: a client may send a
// sane one (which is kept, so that its logs and ours meet); every response
// carries the id its log lines carry.
const requestIDHeader = "Request-Id"

// requestID gives every request an id, stored where chi's middleware
// keeps it (middleware.GetReqID) and returned in the Request-Id header.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !saneRequestID(id) {
			id = r.Header.Get("X-Request-Id")
		}
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

// saneRequestID admits ids of 8 to 64 letters, digits and . _ : -, so that
// a client's id cannot forge log lines or bloat them.
func saneRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func requestIDOf(r *http.Request) string { return middleware.GetReqID(r.Context()) }

// securityHeaders sets the headers every response carries. Handlers that
// know better (the hosted pages' Content-Security-Policy) replace them.
func securityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", "frame-ancestors 'none'")
			h.Set("Referrer-Policy", "no-referrer")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// faultSniffer keeps the start of a response body, enough to read the
// faultcode of a SOAP 1.1 fault.
type faultSniffer struct{ b []byte }

const sniffBytes = 512

func (f *faultSniffer) Write(p []byte) (int, error) {
	if n := sniffBytes - len(f.b); n > 0 {
		f.b = append(f.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// clientFault reports whether the body is a SOAP 1.1 fault that is the
// client's: Client, VersionMismatch or MustUnderstand.
func (f *faultSniffer) clientFault() bool {
	s := string(f.b)
	for _, c := range []string{":Client</faultcode>", ":VersionMismatch</faultcode>", ":MustUnderstand</faultcode>"} {
		if strings.Contains(s, c) {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
