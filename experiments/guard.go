package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Tallier counts the payments of an experiment's arms. store.DB
// implements it.
type Tallier interface {
	ExperimentTallies(ctx context.Context, r paywire.ExperimentRequest) ([]paywire.ArmTally, error)
}

// Guard enforces the running experiments' guardrails: an arm whose
// approval rate is below control's by more than its guardrail allows (see
// Breached) is stopped, once, with an audit entry in the same transaction;
// every node then routes the arm's payments by control (engine
// SetStoppedArms). Any node may check: a stop is recorded once, whichever
// node sees the breach first.
type Guard struct {
	Tallies Tallier
	Stops   paywire.ArmStopStore
	// Experiments returns the running bundle's experiments.
	Experiments func() []engine.Experiment
	Now         func() time.Time
	Logger      *slog.Logger
}

// Check reads every running experiment's results since its start (at most
// MaxReportPeriod back) and stops the arms whose guardrail is breached. It
// returns the arms it stopped now.
func (g *Guard) Check(ctx context.Context) ([]paywire.ArmStop, error) {
	now := g.Now()
	var out []paywire.ArmStop
	for _, x := range g.Experiments() {
		if !x.Running(now) {
			continue
		}
		from := x.Start
		if earliest := now.Add(-paywire.MaxReportPeriod); from.Before(earliest) {
			from = earliest
		}
		req := paywire.ExperimentRequest{Experiment: x.Name, From: from, To: now}
		tallies, err := g.Tallies.ExperimentTallies(ctx, req)
		if err != nil {
			return out, err
		}
		res := Compute(x, req, tallies, 0)
		ctl := res.control()
		for _, arm := range res.Arms {
			if arm.Control || !arm.Breached {
				continue
			}
			s := &paywire.ArmStop{Experiment: x.Name, Salt: x.Salt, Arm: arm.Arm,
				Reason: fmt.Sprintf("approval rate %s of %d against control's %s of %d: %.1f points below, more than the %.1f allowed, at %.0f %% confidence",
					percent(arm.Rate), arm.Decided, percent(ctl.Rate), ctl.Decided, -arm.Difference*100, x.Guardrail.MaxDrop*100, x.Guardrail.Confidence*100)}
			details, _ := json.Marshal(map[string]any{
				"experiment": x.Name, "salt": x.Salt, "arm": arm.Arm, "control": x.Control,
				"arm_decided": arm.Decided, "arm_approved": arm.Approved, "control_decided": ctl.Decided, "control_approved": ctl.Approved,
				"max_drop": x.Guardrail.MaxDrop, "confidence": x.Guardrail.Confidence, "min_attempts": x.Guardrail.MinAttempts,
			})
			stopped, err := g.Stops.StopArm(ctx, s, &paywire.AuditEntry{Actor: "system", Action: "experiment.arm_stop",
				Target: "experiment:" + x.Name + "/" + arm.Arm, Details: details})
			if err != nil {
				return out, err
			}
			if stopped {
				g.Logger.WarnContext(ctx, "experiment arm stopped by its guardrail; its payments take control's route",
					"experiment", x.Name, "arm", arm.Arm, "reason", s.Reason)
				out = append(out, *s)
			}
		}
	}
	return out, nil
}

func percent(f float64) string { return fmt.Sprintf("%.1f %%", f*100) }
