package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/notify"
)

// metricValue returns the value of the counter or gauge name whose labels,
// written as `key="value"` pairs, are labels ("" for none).
func metricValue(t *testing.T, reg prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+`="`+l.GetValue()+`"`)
			}
			if strings.Join(pairs, ",") != labels {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s{%s}", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	reg := prometheus.NewPedanticRegistry()
	w := e.worker("w1")
	w.Metrics = notify.NewMetrics(reg)
	e.endpoint.setMode(modeDown)
	e.pay("order-1", paywire.StatePending)
	e.pay("order-2")

	e.clock.Add(90 * time.Second)
	e.tick(w)
	for name, want := range map[string]float64{
		`paywire_notification_attempts_total result="delivered"`: 0,
		`paywire_notification_attempts_total result="failed"`:    3,
		`paywire_notification_attempts_total result="dead"`:      0,
		`paywire_notification_failures_total reason="status"`:    3,
		`paywire_notification_failures_total reason="network"`:   0,
		`paywire_notification_oldest_undelivered_seconds `:       90,
		`paywire_notification_delivery_seconds `:                 3,
	} {
		n, labels, _ := strings.Cut(name, " ")
		if got := metricValue(t, reg, n, labels); got != want {
			t.Errorf("while the endpoint is down: %s = %v, want %v", name, got, want)
		}
	}

	e.endpoint.setMode(modeAck)
	e.clock.Add(notify.DefaultBackoffBase)
	e.tick(w)
	for name, want := range map[string]float64{
		`paywire_notification_attempts_total result="delivered"`:        3,
		`paywire_notification_attempts_total result="failed"`:           3,
		`paywire_notification_failures_total reason="timeout"`:          0,
		`paywire_notification_oldest_undelivered_seconds `:              0,
		`paywire_notification_delivery_seconds `:                        6,
		`paywire_notification_lease_lost_total `:                        0,
		`paywire_notification_failures_total reason="not_acknowledged"`: 0,
	} {
		n, labels, _ := strings.Cut(name, " ")
		if got := metricValue(t, reg, n, labels); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	if got := strings.Join(names, " "); got != "paywire_notification_attempts_total paywire_notification_delivery_seconds paywire_notification_failures_total paywire_notification_lease_lost_total paywire_notification_oldest_undelivered_seconds" {
		t.Errorf("metrics exposed: %s", got)
	}
}
