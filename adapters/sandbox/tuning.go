package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Period is a time in which an instance behaves otherwise: a degraded
// acquirer whose approvals drop, whose errors or latency rise. Each
// setting that is not nil replaces the instance's own from From
// (inclusive) to Until (exclusive); a nil one keeps it.
type Period struct {
	From, Until  time.Time
	ApprovalRate *float64 // as Config.ApprovalRate; 0 approves none
	Latency      *time.Duration
	ErrorRate    *float64
	LostRate     *float64
	HardDeclines *bool
}

// conduct is how an instance behaves at one moment.
type conduct struct {
	approval     float64 // <= 0 approves none
	latency      time.Duration
	errors, lost float64
	hard         bool
}

// conduct returns the instance's behaviour at t: its own, changed by the
// periods t falls in.
func (a *Acquirer) conduct(t time.Time) conduct {
	c := conduct{approval: a.cfg.ApprovalRate, latency: a.cfg.Latency, errors: a.cfg.ErrorRate, lost: a.cfg.LostRate, hard: a.cfg.HardDeclines}
	for _, p := range a.cfg.Degraded {
		if t.Before(p.From) || !t.Before(p.Until) {
			continue
		}
		if p.ApprovalRate != nil {
			c.approval = *p.ApprovalRate
			if c.approval == 0 {
				c.approval = -1
			}
		}
		if p.Latency != nil {
			c.latency = *p.Latency
		}
		if p.ErrorRate != nil {
			c.errors = *p.ErrorRate
		}
		if p.LostRate != nil {
			c.lost = *p.LostRate
		}
		if p.HardDeclines != nil {
			c.hard = *p.HardDeclines
		}
	}
	return c
}

// mishap is what goes wrong with a call that takes a payment.
type mishap int

const (
	mishapNone  mishap = iota
	mishapError        // a technical error before acceptance: nothing done
	mishapLost         // done, the answer lost
)

// mishap decides, from a hash of the instance's name and the payment id,
// whether the call that takes paymentID fails or loses its answer: the
// same payment always gets the same answer from one instance, on any
// node, and the draw is independent of the approval rate's.
func (c conduct) mishap(name, paymentID string) mishap {
	if c.errors <= 0 && c.lost <= 0 {
		return mishapNone
	}
	sum := sha256.Sum256([]byte("mishap\x00" + name + "\x00" + paymentID))
	x := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53) // uniform in [0, 1)
	switch {
	case x < c.errors:
		return mishapError
	case x < c.errors+c.lost:
		return mishapLost
	}
	return mishapNone
}

// Tuning is how one sandbox instance is made to behave by configuration
// (`paywire serve --sandbox-acquirers`): settings of its own, and periods
// in which it is degraded. Apply puts it into the instance's Config.
type Tuning struct {
	Name    string
	Base    Period // From and Until unused; nil settings keep the defaults
	Periods []Period
}

// Apply changes cfg as the tuning says.
func (t Tuning) Apply(cfg *Config) {
	b := t.Base
	if b.ApprovalRate != nil {
		cfg.ApprovalRate = *b.ApprovalRate
		if cfg.ApprovalRate == 0 {
			cfg.ApprovalRate = -1 // 0 in Config means the default
		}
	}
	if b.Latency != nil {
		cfg.Latency = *b.Latency
	}
	if b.ErrorRate != nil {
		cfg.ErrorRate = *b.ErrorRate
	}
	if b.LostRate != nil {
		cfg.LostRate = *b.LostRate
	}
	if b.HardDeclines != nil {
		cfg.HardDeclines = *b.HardDeclines
	}
	cfg.Degraded = append(slices.Clone(cfg.Degraded), t.Periods...)
}

// maxTunedLatency bounds a configured latency: longer is a typing mistake
// (Paywire's provider timeout is 20 s by default).
const maxTunedLatency = 5 * time.Minute

// ParseTunings reads the instances' behaviour from a specification such as
//
//	acquirer-b approval=0.8 latency=150ms errors=0.02; acquirer-b from=+2m until=+5m approval=0.5 errors=0.3
//
// Clauses are separated by ';', their fields by spaces or ','. A clause
// starts with an instance name from names and sets, with key=value:
// approval (0..1), latency (a Go duration, at most 5m), errors (0..1),
// lost (0..1), declines (soft or hard). A clause with from= and until= is
// a degraded period of that instance; times are RFC 3339, or +duration
// after start (the node's start: every node of a database must then start
// together, or use absolute times). Each instance has at most one clause
// without a period. An empty specification is no tuning. Errors name the
// clause and say what is wrong.
func ParseTunings(spec string, names []string, start time.Time) ([]Tuning, error) {
	var out []Tuning
	index := map[string]int{}
	based := map[string]bool{}
	for n, clause := range strings.Split(spec, ";") {
		fields := strings.FieldsFunc(clause, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		if len(fields) == 0 {
			continue
		}
		where := fmt.Sprintf("clause %d (%q)", n+1, strings.TrimSpace(clause))
		name := fields[0]
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("%s: %q is not a sandbox provider; use one of %s", where, name, strings.Join(names, ", "))
		}
		var p Period
		var from, until string
		seen := map[string]bool{}
		for _, f := range fields[1:] {
			key, val, ok := strings.Cut(f, "=")
			if !ok || val == "" {
				return nil, fmt.Errorf("%s: %q is not key=value", where, f)
			}
			if seen[key] {
				return nil, fmt.Errorf("%s: %s is given twice", where, key)
			}
			seen[key] = true
			switch key {
			case "approval", "errors", "lost":
				v, err := strconv.ParseFloat(val, 64)
				if err != nil || v < 0 || v > 1 {
					return nil, fmt.Errorf("%s: %s=%s is not a share from 0 to 1, such as 0.8", where, key, val)
				}
				switch key {
				case "approval":
					p.ApprovalRate = &v
				case "errors":
					p.ErrorRate = &v
				default:
					p.LostRate = &v
				}
			case "latency":
				d, err := time.ParseDuration(val)
				if err != nil || d < 0 || d > maxTunedLatency {
					return nil, fmt.Errorf("%s: latency=%s is not a duration from 0 to %s, such as 150ms", where, val, maxTunedLatency)
				}
				p.Latency = &d
			case "declines":
				if val != "soft" && val != "hard" {
					return nil, fmt.Errorf("%s: declines=%s is not soft or hard", where, val)
				}
				hard := val == "hard"
				p.HardDeclines = &hard
			case "from":
				from = val
			case "until":
				until = val
			default:
				return nil, fmt.Errorf("%s: unknown setting %q; use approval, latency, errors, lost, declines, from, until", where, key)
			}
		}
		if p.ErrorRate != nil && p.LostRate != nil && *p.ErrorRate+*p.LostRate > 1 {
			return nil, fmt.Errorf("%s: errors and lost add up to more than 1", where)
		}
		if len(fields) == 1 {
			return nil, fmt.Errorf("%s: no setting; give at least one, such as approval=0.8", where)
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, Tuning{Name: name})
		}
		if from == "" && until == "" {
			if based[name] {
				return nil, fmt.Errorf("%s: %s has settings of its own in an earlier clause; give each in one", where, name)
			}
			based[name] = true
			out[i].Base = p
			continue
		}
		if from == "" || until == "" {
			return nil, fmt.Errorf("%s: a degraded period needs both from= and until=", where)
		}
		var err error
		if p.From, err = tuningTime(from, start); err != nil {
			return nil, fmt.Errorf("%s: from=%s: %v", where, from, err)
		}
		if p.Until, err = tuningTime(until, start); err != nil {
			return nil, fmt.Errorf("%s: until=%s: %v", where, until, err)
		}
		if !p.From.Before(p.Until) {
			return nil, fmt.Errorf("%s: the period ends (%s) before it starts (%s)", where, until, from)
		}
		if len(seen) == 2 {
			return nil, fmt.Errorf("%s: the period changes nothing; give at least one setting, such as errors=0.3", where)
		}
		out[i].Periods = append(out[i].Periods, p)
	}
	return out, nil
}

// tuningTime reads a time of a tuning: RFC 3339, or +duration after start.
func tuningTime(s string, start time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("not a duration after the start such as +2m")
		}
		return start.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("neither +duration (after the start) nor an RFC 3339 time such as 2026-11-25T12:00:00Z")
	}
	return t, nil
}
