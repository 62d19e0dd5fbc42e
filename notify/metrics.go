package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a delivery attempt, the values of the result label.
const (
	resultDelivered = "delivered"
	resultFailed    = "failed" // due again later
	resultDead      = "dead"   // failed for longer than MaxAge: no more attempts
	// kept without an endpoint: the merchant has no URL; no more attempts
	resultNoEndpoint = "no_endpoint"
)

// Reasons of a failed attempt, the values of the reason label. They are
// also the first word of the error a failed message keeps, so that people
// and dashboards speak of the same things.
const (
	reasonTimeout         = "timeout"          // no answer within the timeout
	reasonNetwork         = "network"          // no connection, TLS failure, reset
	reasonStatus          = "status"           // an HTTP status other than 2xx, 3xx included
	reasonFault           = "fault"            // a SOAP Fault
	reasonNotAcknowledged = "not_acknowledged" // acknowledged false
	reasonNoURL           = "no_url"           // neither the payment nor the merchant has a URL
	reasonInternal        = "internal"         // our side: payment or merchant not readable, bad payload
)

var (
	results = []string{resultDelivered, resultFailed, resultDead, resultNoEndpoint}
	reasons = []string{reasonTimeout, reasonNetwork, reasonStatus, reasonFault, reasonNotAcknowledged, reasonNoURL, reasonInternal}
)

// Metrics are the Prometheus metrics of notification delivery. Workers of
// one process share one Metrics. A nil *Metrics records nothing.
type Metrics struct {
	attempts  *prometheus.CounterVec
	failures  *prometheus.CounterVec
	duration  prometheus.Histogram
	leaseLost prometheus.Counter
	oldest    prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (unless reg is
// nil); call it once per registry. Every label value starts at zero, so
// that alerts on rates work before the first failure.
//
//	paywire_notification_attempts_total{result}          delivered, failed, dead, no_endpoint
//	paywire_notification_failures_total{reason}          timeout, network, status, fault, not_acknowledged, no_url, internal
//	paywire_notification_delivery_seconds                duration of HTTP deliveries, successful or not
//	paywire_notification_lease_lost_total                results dropped because another worker had taken the message over
//	paywire_notification_oldest_undelivered_seconds      age of the oldest pending notification, 0 when none
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paywire_notification_attempts_total",
			Help: "Delivery attempts of merchant notifications by result: delivered, failed (due again later), dead (given up after the maximum age) or no_endpoint (kept: the merchant has no notification URL).",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paywire_notification_failures_total",
			Help: "Failed delivery attempts of merchant notifications by reason (dead ones included).",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paywire_notification_delivery_seconds",
			Help:    "Time from sending a notification to the merchant's complete answer, or to the failure.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		leaseLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paywire_notification_lease_lost_total",
			Help: "Delivery results not recorded because the worker's lease had run out and another worker had claimed the message.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paywire_notification_oldest_undelivered_seconds",
			Help: "Age of the oldest pending merchant notification in seconds; 0 when every notification is delivered or dead.",
		}),
	}
	for _, r := range results {
		m.attempts.WithLabelValues(r)
	}
	for _, r := range reasons {
		m.failures.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.failures, m.duration, m.leaseLost, m.oldest)
	}
	return m
}

func (m *Metrics) attempt(result, reason string) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(result).Inc()
	if result != resultDelivered {
		m.failures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) delivery(d time.Duration) {
	if m == nil {
		return
	}
	m.duration.Observe(d.Seconds())
}

func (m *Metrics) lostLease() {
	if m == nil {
		return
	}
	m.leaseLost.Inc()
}

func (m *Metrics) setOldest(age time.Duration) {
	if m == nil {
		return
	}
	m.oldest.Set(max(age, 0).Seconds())
}
