package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paywire/paywire/traffic"
)

const loadgenUsage = `Usage:
  paywire loadgen [--mode json|soap|flow] [--concurrency N] [--duration D] [--url U] [--merchant ID] [flags]

Keeps a running node as busy as N merchant clients can, each sending its
next request as soon as its last was answered, for --warmup and then
--duration, and prints what the node did in the measured part: requests,
answered, failed (by error code), answered a second, and the latency of the
answered ones (p50, p95, p99, p99.9, max). A mode is one of:

  json  the merchant's POST /api/v1/payments
  soap  the merchant's SOAP getRedirectData
  flow  a whole payment: the JSON start, the end user on the hosted pages
        (method selection, card form, the sandbox's pages), the merchant's
        read and, when it is left authorized, capture

Every request starts a new payment with a merchant reference of its own,
for one of --customers end users who come back. It exits 1 when a request
failed. The secret is --secret or PAYWIRE_LOADGEN_SECRET; the merchant's
return URLs (--return-url) must be on its allowlist. scripts/bench.sh runs
it against PostgreSQL beside pgbench (docs/performance.md).
`

// loadgenConfig is what `paywire loadgen` is told.
type loadgenConfig struct {
	load    traffic.Load
	url     string
	timeout time.Duration
	listen  string // the merchant's notification listener; "" for none
	json    bool
}

func parseLoadgen(args []string, stdout io.Writer, getenv func(string) string) (*loadgenConfig, error) {
	fs := flag.NewFlagSet("paywire loadgen", flag.ContinueOnError)
	fs.SetOutput(discard{})
	mode := fs.String("mode", traffic.LoadJSON, "what each client sends: json, soap or flow")
	concurrency := fs.Int("concurrency", 16, "clients sending at once (1 to 1000)")
	duration := fs.Duration("duration", 30*time.Second, "how long the measured part lasts (1s to 1h)")
	warmup := fs.Duration("warmup", 5*time.Second, "how long the clients send before it, not counted (0 to 10m)")
	server := fs.String("url", envOr(getenv, "PAYWIRE_LOADGEN_URL", "http://127.0.0.1:8080"), "base URL of the node ($PAYWIRE_LOADGEN_URL)")
	merchant := fs.String("merchant", envOr(getenv, "PAYWIRE_LOADGEN_MERCHANT", "demo"), "merchant id ($PAYWIRE_LOADGEN_MERCHANT)")
	secret := fs.String("secret", "", "the merchant's API secret ($PAYWIRE_LOADGEN_SECRET, which keeps it out of process lists)")
	customers := fs.Int("customers", 1000, "end users, each coming back (1 to 1000000)")
	countries := fs.String("countries", "", "end users' countries, a subset of "+countryCodes()+" (empty: all, weighted as a European shop's)")
	scenarios := fs.String("scenarios", "", "with --mode flow: weights of what end users do, e.g. card=90,card-3ds=10 (scenarios: "+strings.Join(traffic.Scenarios, ", ")+"; empty: card, each end user's own card)")
	returnURL := fs.String("return-url", "http://127.0.0.1/loadgen/", "base of the merchant's return pages (never fetched; on the merchant's allowlist)")
	notifyURL := fs.String("notification-url", "", "where the payments' notifications go (on the merchant's allowlist; empty: the merchant account's)")
	listen := fs.String("listen", "", "serve the merchant's notification endpoint on this address (e.g. 127.0.0.1:0), send the payments' notifications there and count them")
	seed := fs.Uint64("seed", 1, "seed of the end users and what they do")
	timeout := fs.Duration("timeout", 30*time.Second, "how long one HTTP request may take (1s to 5m)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, loadgenUsage)
			printFlags(stdout, fs)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q\n\n%s", fs.Arg(0), loadgenUsage)
	}
	var errs []error
	if !slices.Contains(traffic.LoadModes, *mode) {
		errs = append(errs, fmt.Errorf("--mode: %q is not json, soap or flow", *mode))
	}
	if *concurrency < 1 || *concurrency > 1000 {
		errs = append(errs, fmt.Errorf("--concurrency: %d is not from 1 to 1000", *concurrency))
	}
	if *duration < time.Second || *duration > time.Hour {
		errs = append(errs, fmt.Errorf("--duration: %s is not from 1s to 1h", *duration))
	}
	if *warmup < 0 || *warmup > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--warmup: %s is not from 0 to 10m", *warmup))
	}
	errs = append(errs, checkClient(*server, *merchant, secret, "PAYWIRE_LOADGEN_SECRET", getenv)...)
	errs = append(errs, checkShopURLs(*returnURL, *notifyURL)...)
	if *listen != "" {
		if *notifyURL != "" {
			errs = append(errs, errors.New("--listen and --notification-url: give one of them"))
		}
		if _, _, err := net.SplitHostPort(*listen); err != nil {
			errs = append(errs, fmt.Errorf("--listen: %q is not an address such as 127.0.0.1:0", *listen))
		}
	}
	if *customers < 1 || *customers > 1000000 {
		errs = append(errs, fmt.Errorf("--customers: %d is not from 1 to 1000000", *customers))
	}
	var mix traffic.Mix
	var err error
	if mix.Countries, err = chooseCountries(*countries); err != nil {
		errs = append(errs, err)
	}
	if *scenarios != "" {
		if *mode != traffic.LoadFlow {
			errs = append(errs, errors.New("--scenarios: only with --mode flow (json and soap send starts alone)"))
		} else if mix.Scenarios, err = traffic.ParseScenarios(*scenarios); err != nil {
			errs = append(errs, fmt.Errorf("--scenarios: %v", err))
		}
	}
	if *timeout < time.Second || *timeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--timeout: %s is not from 1s to 5m", *timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &loadgenConfig{url: strings.TrimRight(*server, "/"), timeout: *timeout, listen: *listen, json: *asJSON}
	c.load = traffic.Load{Mode: *mode, Concurrency: *concurrency, Warmup: *warmup, Duration: *duration, Customers: *customers,
		Mix: mix, Seed: *seed, ReturnURL: *returnURL, NotificationURL: *notifyURL,
		Merchant: &traffic.Merchant{BaseURL: c.url, ID: *merchant, Secret: *secret}}
	return c, nil
}

func runLoadgen(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	c, err := parseLoadgen(args, stdout, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return usageError{err}
	}
	client := traffic.NewHTTPClient(c.timeout, c.load.Concurrency)
	c.load.HTTP, c.load.Merchant.HTTP = client, client
	var notes *notificationCounter
	if c.listen != "" {
		if notes, err = listenNotifications(c.listen); err != nil {
			return err
		}
		defer notes.Close()
		c.load.NotificationURL = notes.URL
	}
	if !c.json {
		fmt.Fprintf(stdout, "loadgen: %s at %d clients for %s after a %s warm-up against %s as merchant %s\n",
			c.load.Mode, c.load.Concurrency, c.load.Duration, c.load.Warmup, c.url, c.load.Merchant.ID)
	}
	res, err := c.load.Run(ctx)
	if err != nil {
		return err
	}
	var during, after int64
	if notes != nil {
		during = notes.count.Load()
		after = notes.settle(ctx, 2*time.Second, 30*time.Second) - during
	}
	if c.json {
		if err := writeLoadJSON(stdout, res, notes != nil, during, after); err != nil {
			return err
		}
	} else {
		res.Write(stdout)
		if notes != nil {
			fmt.Fprintf(stdout, "notifications: %d received while the load ran, %d after it (%d payments started, warm-up included)\n",
				during, after, res.Warmup+res.Requests)
		}
	}
	switch {
	case res.Stopped:
		return fmt.Errorf("stopped after %s of the measured part", res.Duration.Round(time.Millisecond))
	case res.Failed > 0:
		return fmt.Errorf("%d of %d requests failed (see above)", res.Failed, res.Requests)
	case res.Requests == 0:
		return errors.New("no request started in the measured part")
	}
	return nil
}

// loadJSON is `paywire loadgen --json`'s output. Times are in
// milliseconds; what is not known (the latency when nothing was
// answered, notifications without --listen) is left out.
type loadJSON struct {
	Mode          string              `json:"mode"`
	Concurrency   int                 `json:"concurrency"`
	Seconds       float64             `json:"seconds"`
	Requests      int                 `json:"requests"`
	Answered      int                 `json:"answered"`
	Failed        int                 `json:"failed"`
	Errors        map[string]int      `json:"errors"`
	Problems      []string            `json:"problems,omitempty"`
	Warmup        int                 `json:"warmupRequests"`
	RPS           float64             `json:"rps"`
	Latency       *latencyJSON        `json:"latencyMs,omitempty"`
	Steps         map[string]stepJSON `json:"steps,omitempty"`
	States        map[string]int      `json:"states,omitempty"`
	Captured      *int                `json:"captured,omitempty"`
	Notifications *notificationsJSON  `json:"notifications,omitempty"`
	Stopped       bool                `json:"stopped"`
}

type latencyJSON struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

type stepJSON struct {
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50Ms"`
	P99    float64 `json:"p99Ms"`
}

type notificationsJSON struct {
	During int64 `json:"during"`
	After  int64 `json:"after"`
}

func writeLoadJSON(w io.Writer, r *traffic.LoadResult, counted bool, during, after int64) error {
	msec := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out := loadJSON{Mode: r.Mode, Concurrency: r.Concurrency, Seconds: r.Duration.Seconds(), Requests: r.Requests,
		Answered: r.Answered(), Failed: r.Failed, Errors: r.Errors, Problems: r.Problems, Warmup: r.Warmup, RPS: r.Rate(), Stopped: r.Stopped}
	if r.Answered() > 0 {
		t := &r.Latency
		out.Latency = &latencyJSON{P50: msec(t.Percentile(0.5)), P95: msec(t.Percentile(0.95)), P99: msec(t.Percentile(0.99)),
			P999: msec(t.Percentile(0.999)), Max: msec(t.Percentile(1))}
	}
	if r.Mode == traffic.LoadFlow {
		out.Steps = map[string]stepJSON{}
		for name, t := range r.Steps {
			out.Steps[name] = stepJSON{Count: t.Count, Errors: t.Errors, P50: msec(t.Percentile(0.5)), P99: msec(t.Percentile(0.99))}
		}
		out.States, out.Captured = r.States, &r.Captured
	}
	if counted {
		out.Notifications = &notificationsJSON{During: during, After: after}
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}

// notificationCounter is the merchant's notification endpoint: it takes
// every notification (a 2xx without a body is delivered, in either
// format) and counts them.
type notificationCounter struct {
	URL   string
	count atomic.Int64
	srv   *http.Server
}

// maxNotification bounds the notification body the counter reads.
const maxNotification = 1 << 20

func listenNotifications(addr string) (*notificationCounter, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %v", err)
	}
	n := &notificationCounter{URL: "http://" + ln.Addr().String() + "/loadgen/notifications"}
	n.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a notification", http.StatusMethodNotAllowed)
			return
		}
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxNotification)); err != nil {
			http.Error(w, "the notification could not be read", http.StatusBadRequest)
			return
		}
		n.count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = n.srv.Serve(ln) }()
	return n, nil
}

// settle waits until no notification came for quiet, at most limit, and
// returns how many came in all.
func (n *notificationCounter) settle(ctx context.Context, quiet, limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	last, since := n.count.Load(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if c := n.count.Load(); c != last {
			last, since = c, time.Now()
		}
	}
	return n.count.Load()
}

func (n *notificationCounter) Close() error { return n.srv.Close() }
