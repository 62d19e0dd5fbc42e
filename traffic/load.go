package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paywire/paywire/api/soap"
)

// What a load sends, over and over.
const (
	LoadJSON = "json" // the merchant's POST /api/v1/payments
	LoadSOAP = "soap" // the merchant's SOAP getRedirectData
	// LoadFlow is a whole payment: the JSON start, the end user on the
	// hosted pages (the method selection and the card form), the
	// merchant's read and, when the payment is left authorized, capture.
	LoadFlow = "flow"
)

// LoadModes are what a load may send.
var LoadModes = []string{LoadJSON, LoadSOAP, LoadFlow}

// Load keeps a running Paywire as busy as Concurrency clients can: each
// sends its next request as soon as its last was answered (a closed loop),
// for Warmup and then Duration. What starts during the warm-up is not
// counted: it opens the connections and fills the server's caches and
// pools. Every request starts a new payment with a merchant reference of
// its own, for one of Customers end users who come back, so that the
// features the decisions read see a history as a shop's would.
type Load struct {
	Merchant    *Merchant
	Mode        string // LoadJSON, LoadSOAP or LoadFlow
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	// Customers is how many end users there are (0: 1000).
	Customers int
	// Mix is where the end users live and, in a flow, what they do; no
	// scenarios is every end user paying with their own card.
	Mix  Mix
	Seed uint64
	// Reference starts every merchant reference; "" is
	// "load-<unix milliseconds>-".
	Reference string
	// ReturnURL is the base of the merchant's return pages, which are
	// never fetched but must be on the merchant's allowlist.
	ReturnURL string
	// NotificationURL, if set, is where the payments' notifications go;
	// empty leaves them to the merchant's account.
	NotificationURL string
	// HTTP sends every request; nil is a client with a 30 s timeout that
	// does not follow redirects.
	HTTP *http.Client
}

// LoadResult is what the measured part of a load did: the requests (in a
// flow, the flows) that started after the warm-up and before its end,
// each answered or failed. Throughput and latency are those of the
// answered ones; the failed ones are counted by what went wrong.
type LoadResult struct {
	Mode        string
	Concurrency int
	// Duration is the measured period: the load's, or less when it was
	// stopped.
	Duration time.Duration
	Requests int // started in the period
	Failed   int
	// Errors counts the failed requests by ErrorCode (in a flow also
	// "flow": the end user could not go on).
	Errors   map[string]int
	Problems []string // the first ten failures
	Warmup   int      // requests started in the warm-up, not counted
	// Latency is the time of each answered request, from sending it to
	// reading its answer; of a flow, from the start to its last step.
	Latency Timings
	// Steps are a flow's HTTP exchanges by kind, answered or failed.
	Steps map[string]*Timings
	// States counts a flow's payments by the state the merchant read
	// last ("UNKNOWN": not read); Captured, those the merchant captured.
	States   map[string]int
	Captured int
	// Stopped is set when the load was stopped before its end; requests
	// cut short by the stop are not counted.
	Stopped bool
}

// Answered is how many requests of the period were answered.
func (r *LoadResult) Answered() int { return r.Requests - r.Failed }

// Rate is how many requests were answered a second; 0 for a period of
// no length.
func (r *LoadResult) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Answered()) / r.Duration.Seconds()
}

// Run runs the load until its end, or ctx's. The error is for a load that
// could not start; the requests' own errors are in the result.
func (l *Load) Run(ctx context.Context) (*LoadResult, error) {
	switch {
	case l.Merchant == nil:
		return nil, errors.New("no merchant")
	case l.Concurrency < 1:
		return nil, fmt.Errorf("concurrency %d: want at least 1", l.Concurrency)
	case l.Duration <= 0 || l.Warmup < 0:
		return nil, fmt.Errorf("a duration of %s after a warm-up of %s", l.Duration, l.Warmup)
	}
	if !slices.Contains(LoadModes, l.Mode) {
		return nil, fmt.Errorf("mode %q: want one of %s", l.Mode, strings.Join(LoadModes, ", "))
	}
	mix := l.Mix
	if len(mix.Scenarios) == 0 {
		mix.Scenarios = map[string]int{"card": 1}
	}
	customers := l.Customers
	if customers <= 0 {
		customers = 1000
	}
	ref := l.Reference
	if ref == "" {
		ref = fmt.Sprintf("load-%d-", time.Now().UnixMilli())
	}
	api := APIJSON
	if l.Mode == LoadSOAP {
		api = APISOAP
	}
	plan := newPlanner(mix, customers, l.Seed, ref, l.ReturnURL, l.NotificationURL, api)

	begin := time.Now()
	from := begin.Add(l.Warmup)
	until := from.Add(l.Duration)
	total := newLoadResult(l)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range l.Concurrency {
		wg.Go(func() {
			own := newLoadResult(l)
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				total.merge(own)
			}()
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(until) {
					return
				}
				o := plan.order(int(next.Add(1) - 1))
				res, err := l.send(ctx, o)
				took := time.Since(start)
				switch {
				case err != nil && ctx.Err() != nil:
					return // cut short by the stop: neither answered nor failed
				case start.Before(from):
					own.Warmup++
					continue
				}
				own.record(l.Mode, o, res, err, took)
			}
		})
	}
	wg.Wait()
	total.Duration = l.Duration
	if ctx.Err() != nil {
		total.Stopped = true
		total.Duration = max(0, min(time.Since(from), l.Duration))
	}
	return total, nil
}

// send sends order o as the load's mode does; a flow's result is res.
func (l *Load) send(ctx context.Context, o *Order) (res *Result, err error) {
	switch l.Mode {
	case LoadJSON:
		_, err = l.Merchant.StartJSON(ctx, o.Request, o.Key)
	case LoadSOAP:
		_, err = l.Merchant.StartSOAP(ctx, o.Request)
	default:
		res, err = Pay(ctx, l.Merchant, &Browser{HTTP: l.HTTP}, o)
	}
	return res, err
}

func newLoadResult(l *Load) *LoadResult {
	return &LoadResult{Mode: l.Mode, Concurrency: l.Concurrency, Errors: map[string]int{}, Steps: map[string]*Timings{}, States: map[string]int{}}
}

// record counts one request of the measured period.
func (r *LoadResult) record(mode string, o *Order, res *Result, err error, took time.Duration) {
	r.Requests++
	if err == nil {
		r.Latency.Add(took, false)
	} else {
		r.Failed++
		code := ErrorCode(err)
		if res != nil && code == "other" {
			code = "flow"
			if n := len(res.Steps); n > 0 && res.Steps[n-1].Status >= 400 {
				code = fmt.Sprintf("http_%d", res.Steps[n-1].Status)
			}
		}
		r.Errors[code]++
		if len(r.Problems) < 10 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", o.Request.MerchantReference, err))
		}
	}
	if mode != LoadFlow || res == nil {
		return
	}
	addSteps(r.Steps, res.Steps)
	state := "UNKNOWN"
	if res.Payment != nil && res.Payment.State != "" {
		state = res.Payment.State
	}
	r.States[state]++
	if res.Captured {
		r.Captured++
	}
}

// merge adds o's counts to r's.
func (r *LoadResult) merge(o *LoadResult) {
	r.Requests += o.Requests
	r.Failed += o.Failed
	r.Warmup += o.Warmup
	r.Captured += o.Captured
	for k, n := range o.Errors {
		r.Errors[k] += n
	}
	for k, n := range o.States {
		r.States[k] += n
	}
	for _, p := range o.Problems {
		if len(r.Problems) < 10 {
			r.Problems = append(r.Problems, p)
		}
	}
	r.Latency.Merge(&o.Latency)
	for k, t := range o.Steps {
		if r.Steps[k] == nil {
			r.Steps[k] = &Timings{}
		}
		r.Steps[k].Merge(t)
	}
}

// ErrorCode names what went wrong with a request, for counting: the code
// of the JSON API's error answer (http_<status> for an error answer
// without one) or of the SOAP fault, "timeout" for a request that got no
// answer in time, "connection" for one that got none at all, and "other"
// for anything else (an answer that could not be read).
func ErrorCode(err error) string {
	var ae *APIError
	var fe *soap.FaultError
	var ne net.Error
	var ue *url.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return ae.Code
	case errors.As(err, &fe):
		if fe.Code == "" {
			return fmt.Sprintf("http_%d", fe.Status)
		}
		return fe.Code
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ue):
		return "connection"
	}
	return "other"
}

// Write prints the result for people.
func (r *LoadResult) Write(w io.Writer) {
	what := "requests"
	if r.Mode == LoadFlow {
		what = "flows"
	}
	stopped := ""
	if r.Stopped {
		stopped = " (stopped early)"
	}
	fmt.Fprintf(w, "%s: %d clients for %s%s: %d %s, %d answered, %d failed (%d more in the warm-up, not counted)\n",
		r.Mode, r.Concurrency, r.Duration.Round(time.Millisecond), stopped, r.Requests, what, r.Answered(), r.Failed, r.Warmup)
	fmt.Fprintf(w, "throughput: %.1f answered a second\n", r.Rate())
	if r.Answered() > 0 {
		t := &r.Latency
		fmt.Fprintf(w, "latency of the answered: p50 %s  p95 %s  p99 %s  p99.9 %s  max %s\n",
			ms(t.Percentile(0.5)), ms(t.Percentile(0.95)), ms(t.Percentile(0.99)), ms(t.Percentile(0.999)), ms(t.Percentile(1)))
	}
	if r.Mode == LoadFlow {
		fmt.Fprintf(w, "payments: %s; captured by the merchant: %d\n", joined(r.States), r.Captured)
		writeSteps(w, r.Steps)
	}
	if r.Failed > 0 {
		fmt.Fprintf(w, "ERRORS: %d of %d %s failed: %s\n", r.Failed, r.Requests, what, joined(r.Errors))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "went wrong: %s\n", p)
		}
	}
}
