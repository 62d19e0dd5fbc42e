package sandbox_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
)

var names = []string{"acquirer-a", "acquirer-b", "sandbox-bank", "sandbox-wallet"}

// A tuning reads as the documentation says, and a mistake is named.
func TestParseTunings(t *testing.T) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ts, err := sandbox.ParseTunings(`acquirer-b approval=0.8 latency=150ms errors=0.02 lost=0.01 declines=hard;
		acquirer-b,from=+2m,until=+5m,approval=0.5,errors=0.3; acquirer-a from=2026-11-25T13:00:00Z until=2026-11-25T15:00:00+01:00 latency=2s;`, names, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Name != "acquirer-b" || ts[1].Name != "acquirer-a" {
		t.Fatalf("tunings %+v", ts)
	}
	cfg := sandbox.Config{ApprovalRate: 0.9}
	ts[0].Apply(&cfg)
	if cfg.ApprovalRate != 0.8 || cfg.Latency != 150*time.Millisecond || cfg.ErrorRate != 0.02 || cfg.LostRate != 0.01 || !cfg.HardDeclines {
		t.Errorf("acquirer-b's own settings: %+v", cfg)
	}
	if len(cfg.Degraded) != 1 || !cfg.Degraded[0].From.Equal(start.Add(2*time.Minute)) || !cfg.Degraded[0].Until.Equal(start.Add(5*time.Minute)) ||
		*cfg.Degraded[0].ApprovalRate != 0.5 || *cfg.Degraded[0].ErrorRate != 0.3 || cfg.Degraded[0].Latency != nil {
		t.Errorf("acquirer-b's period: %+v", cfg.Degraded)
	}
	a := sandbox.Config{}
	ts[1].Apply(&a)
	if a.ApprovalRate != 0 || len(a.Degraded) != 1 || *a.Degraded[0].Latency != 2*time.Second || !a.Degraded[0].From.Equal(start.Add(time.Hour)) ||
		!a.Degraded[0].Until.Equal(start.Add(2*time.Hour)) {
		t.Errorf("acquirer-a: %+v", a)
	}
	// approval=0 approves none (0 in Config would be the default).
	ts, err = sandbox.ParseTunings("acquirer-a approval=0", names, start)
	if err != nil {
		t.Fatal(err)
	}
	ts[0].Apply(&a)
	if a.ApprovalRate >= 0 {
		t.Errorf("approval=0 set %v", a.ApprovalRate)
	}
	if ts, err := sandbox.ParseTunings(" ; ", names, start); err != nil || len(ts) != 0 {
		t.Errorf("empty: %v, %v", ts, err)
	}

	for spec, want := range map[string]string{
		"acquirer-c approval=0.5":                         `"acquirer-c" is not a sandbox provider`,
		"acquirer-b":                                      "no setting",
		"acquirer-b approval=1.5":                         "approval=1.5 is not a share from 0 to 1",
		"acquirer-b errors=x":                             "errors=x is not a share",
		"acquirer-b latency=-1s":                          "latency=-1s is not a duration",
		"acquirer-b latency=1h":                           "latency=1h is not a duration from 0 to 5m0s",
		"acquirer-b declines=sometimes":                   "declines=sometimes is not soft or hard",
		"acquirer-b speed=9":                              `unknown setting "speed"`,
		"acquirer-b approval":                             `"approval" is not key=value`,
		"acquirer-b approval=0.5 approval=0.6":            "approval is given twice",
		"acquirer-b errors=0.6 lost=0.5":                  "add up to more than 1",
		"acquirer-b approval=0.5; acquirer-b errors=0.1":  "earlier clause",
		"acquirer-b from=+1m approval=0.5":                "needs both from= and until=",
		"acquirer-b from=+5m until=+1m approval=0.5":      "ends (+1m) before it starts (+5m)",
		"acquirer-b from=+1m until=+5m":                   "changes nothing",
		"acquirer-b from=soon until=+5m errors=0.5":       "from=soon: neither +duration",
		"acquirer-b from=+1m until=+1x errors=0.5":        "until=+1x: not a duration",
		"acquirer-a approval=1; acquirer-b approval=0.5x": "clause 2",
	} {
		_, err := sandbox.ParseTunings(spec, names, start)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", spec, err, want)
		}
	}
}

// Technical errors are definite failures, done nothing; lost answers are
// unavailable errors whose work was done, which Status and a retry with
// the key find; hard declines are not soft. The shares are near the
// configured ones and the same payment id gets the same answer.
func TestErrorsLostAnswersAndHardDeclines(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) {
			c.ApprovalRate, c.HardDeclines, c.ErrorRate, c.LostRate = 0.5, true, 0.2, 0.1
		})
		var approved, declined, failed, lost int
		for i := range 200 {
			id := fmt.Sprintf("pay-%d", i)
			req := adapters.AuthorizeRequest{PaymentID: id, Kind: paywire.KindDeposit, Amount: eur(1234), Method: "card",
				Card: card("4111111111111111"), IdempotencyKey: id + "-1"}
			res, err := e.a.Authorize(ctx, req)
			if err != nil {
				if paywire.ErrorCode(err) != paywire.EUNAVAILABLE || !adapters.Unknown(err) {
					t.Fatalf("%s: %v; want an unknown outcome", id, err)
				}
				lost++
				st, err := e.a.Status(ctx, adapters.StatusRequest{IdempotencyKey: req.IdempotencyKey, PaymentID: id})
				if err != nil || (st.Status != adapters.Approved && st.Status != adapters.Declined) {
					t.Fatalf("status of a lost answer: %+v, %v; want it decided", st, err)
				}
				again, err := e.a.Authorize(ctx, req)
				if err != nil || again.Status != st.Status || again.Reference != st.Reference {
					t.Fatalf("retry of a lost answer: %+v, %v; want %+v", again, err, st)
				}
				continue
			}
			switch res.Status {
			case adapters.Approved:
				approved++
			case adapters.Declined:
				declined++
				if res.Code != "do_not_honor" || res.Soft {
					t.Fatalf("declined %q soft %v; want a hard do_not_honor", res.Code, res.Soft)
				}
			case adapters.Failed:
				failed++
				if res.Code != "processing_error" {
					t.Fatalf("failed with %q", res.Code)
				}
			default:
				t.Fatalf("%s: %+v", id, res)
			}
		}
		t.Logf("approved %d, declined %d, failed %d, lost %d of 200", approved, declined, failed, lost)
		if failed < 25 || failed > 60 || lost < 8 || lost > 35 || approved < 50 || declined < 50 {
			t.Errorf("approved %d, declined %d, failed %d, lost %d of 200; want about 70, 70, 40, 20", approved, declined, failed, lost)
		}
		// A failure did nothing: a status query finds the failure, and no
		// money was reserved.
		for i := range 200 {
			id := fmt.Sprintf("pay-%d", i)
			st, err := e.a.Status(ctx, adapters.StatusRequest{IdempotencyKey: id + "-1", PaymentID: id})
			if err == nil && st.Status == adapters.Failed {
				if _, err := e.a.Capture(ctx, adapters.Operation{PaymentID: id, ProviderReference: st.Reference}); err != nil {
					t.Fatal(err)
				} else if res, _ := e.a.Capture(ctx, adapters.Operation{PaymentID: id, ProviderReference: st.Reference}); res.Status != adapters.Declined {
					t.Fatalf("capture of a failed payment: %+v", res)
				}
				break
			}
		}
	})
}

// A degraded period changes the instance's behaviour on its clock from
// its start to its end only.
func TestDegradedPeriod(t *testing.T) {
	var clock atomic.Int64
	start := time.Now().Truncate(time.Second)
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	ts, err := sandbox.ParseTunings("acquirer-b errors=0; acquirer-b from=+2m until=+5m approval=0 errors=0.5 latency=30ms", names, start)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, openSQLite(t), func(c *sandbox.Config) { ts[0].Apply(c); c.Now = now })
	tally := func(prefix string) (approved, failed int, took time.Duration) {
		begin := time.Now()
		for i := range 40 {
			res := e.authorize(t, fmt.Sprintf("%s-%d", prefix, i), "4111111111111111")
			switch res.Status {
			case adapters.Approved:
				approved++
			case adapters.Failed:
				failed++
			}
		}
		return approved, failed, time.Since(begin) / 40
	}
	if a, f, _ := tally("before"); a != 40 || f != 0 {
		t.Errorf("before the period: %d approved, %d failed of 40", a, f)
	}
	clock.Store(start.Add(2 * time.Minute).UnixNano())
	if a, f, took := tally("during"); a != 0 || f < 10 || f > 30 || took < 30*time.Millisecond {
		t.Errorf("during the period: %d approved, %d failed of 40, %v a call; want none approved, about 20 failed, 30 ms", a, f, took)
	}
	clock.Store(start.Add(5 * time.Minute).UnixNano())
	if a, f, _ := tally("after"); a != 40 || f != 0 {
		t.Errorf("after the period: %d approved, %d failed of 40", a, f)
	}
}
