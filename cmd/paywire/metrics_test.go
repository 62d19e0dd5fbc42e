package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// TestMetricsNames: the payment metrics carry the documented names and
// labels once something was observed.
func TestMetricsNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, func(context.Context, time.Time) (int, error) { return 3, nil })
	m.Transition("", paywire.StateCreated, "card", "")
	m.Transition(paywire.StatePending, paywire.StateAuthorized, "card", "acquirer-a")
	m.ProviderCall("acquirer-a", paywire.OpAuthorize, "approved", 30*time.Millisecond)
	m.decision("risk", engine.Meta{BundleRevision: "r1", Duration: time.Millisecond}, nil, time.Now())
	m.decision("routing", engine.Meta{}, errors.New("boom"), time.Now())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, f := range families {
		series[f.GetName()] = len(f.GetMetric())
	}
	for _, name := range []string{"paywire_build_info", "paywire_payment_transitions_total", "paywire_provider_call_duration_seconds",
		"paywire_decision_duration_seconds", "paywire_followup_backlog"} {
		if series[name] == 0 {
			t.Errorf("%s: no series", name)
		}
	}
	if series["paywire_decision_duration_seconds"] != 2 || series["paywire_payment_transitions_total"] != 2 {
		t.Errorf("series: %v", series)
	}
}

// TestClientFaultCounted: a SOAP 1.1 client fault (HTTP 500) is told apart
// from a server fault.
func TestClientFaultCounted(t *testing.T) {
	for body, want := range map[string]bool{
		`<?xml version="1.0"?><soap:Envelope xmlns:soap="x"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode>`: true,
		`<?xml version="1.0"?><soap:Envelope xmlns:soap="x"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>`: false,
		strings.Repeat("x", 600) + `<faultcode>soap:Client</faultcode>`:                                                false,
	} {
		var f faultSniffer
		_, _ = f.Write([]byte(body))
		if got := f.clientFault(); got != want {
			t.Errorf("clientFault = %v for %.80s", got, body)
		}
	}
}
