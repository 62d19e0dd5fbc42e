package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

// RiskExplanation is a recorded risk decision broken down: the score, each
// rule's contribution, and what the decision knew.
type RiskExplanation struct {
	DecisionID     string    `json:"decisionId"`
	BundleRevision string    `json:"bundleRevision"`
	BundleHash     string    `json:"bundleHash"`
	DecidedAt      time.Time `json:"decidedAt"`
	Score          int       `json:"score"`
	Action         string    `json:"action"`
	Reasons        []string  `json:"reasons"`
	// ListsVersion is the version of the live lists the decision saw.
	ListsVersion int64 `json:"listsVersion,omitempty"`
	// Profile is the merchant's risk profile the decision used.
	Profile string             `json:"profile,omitempty"`
	Rules   []RuleContribution `json:"rules"`
	// Features are the features the decision knew; an absent one was
	// unknown.
	Features map[string]int64 `json:"features"`
	// Flags are the boolean features the decision knew (K_capped: the
	// key's counts that reached the cap are lower bounds).
	Flags map[string]bool `json:"flags,omitempty"`
	// Request is the decision's request as recorded (no card number).
	Request json.RawMessage `json:"request"`
}

// RuleContribution is one risk rule that fired: what it added and, when
// the bundle that decided is at hand, the optional attributes it read.
type RuleContribution struct {
	ID     string   `json:"id"`
	Score  int      `json:"score"`
	Reason string   `json:"reason"`
	Reads  []string `json:"reads,omitempty"`
}

// ExplainRisk breaks a recorded risk decision down. b, when it is the
// bundle that made the decision (same hash), tells which attributes each
// rule read; nil or another bundle leaves that out.
func ExplainRisk(rec paywire.DecisionRecord, b *Bundle) (RiskExplanation, error) {
	if rec.Point != PointRisk {
		return RiskExplanation{}, fmt.Errorf("decision %s is a %s decision, not risk", rec.ID, rec.Point)
	}
	var in struct {
		Request  json.RawMessage            `json:"request"`
		Features map[string]json.RawMessage `json:"features"`
	}
	var out RiskDecision
	var fired []struct {
		ID     string `json:"id"`
		Effect struct {
			Score  int    `json:"score"`
			Reason string `json:"reason"`
		} `json:"effect"`
	}
	if err := json.Unmarshal(rec.Input, &in); err != nil {
		return RiskExplanation{}, fmt.Errorf("decision %s: input: %v", rec.ID, err)
	}
	if err := json.Unmarshal(rec.Output, &out); err != nil {
		return RiskExplanation{}, fmt.Errorf("decision %s: output: %v", rec.ID, err)
	}
	if err := json.Unmarshal(rec.RulesFired, &fired); err != nil {
		return RiskExplanation{}, fmt.Errorf("decision %s: rules: %v", rec.ID, err)
	}
	x := RiskExplanation{
		DecisionID: rec.ID, BundleRevision: rec.BundleRevision, BundleHash: rec.BundleHash, DecidedAt: rec.CreatedAt,
		Score: out.Score, Action: string(out.Action), Reasons: out.Reasons, Profile: out.Profile, ListsVersion: out.ListsVersion, Rules: []RuleContribution{},
		Features: map[string]int64{}, Request: in.Request,
	}
	for name, v := range in.Features {
		var n int64
		var flag bool
		switch {
		case json.Unmarshal(v, &n) == nil:
			x.Features[name] = n
		case json.Unmarshal(v, &flag) == nil:
			if x.Flags == nil {
				x.Flags = map[string]bool{}
			}
			x.Flags[name] = flag
		default:
			return RiskExplanation{}, fmt.Errorf("decision %s: feature %s: %s", rec.ID, name, v)
		}
	}
	for _, f := range fired {
		c := RuleContribution{ID: f.ID, Score: f.Effect.Score, Reason: f.Effect.Reason}
		if b != nil && b.Hash == rec.BundleHash {
			c.Reads = b.RuleReads(PointRisk, f.ID)
		}
		x.Rules = append(x.Rules, c)
	}
	return x, nil
}

// RuleReads returns the optional attributes (features, the request
// attributes a payment may lack, and the providers' health figures) that
// a rule of point reads, sorted; nil
// for an unknown rule.
func (b *Bundle) RuleReads(point, id string) []string {
	p := b.points[point]
	if p == nil {
		return nil
	}
	for _, r := range p.rules {
		if r.id != id {
			continue
		}
		reads := []string{}
		for i, path := range optionalPaths[point] {
			if r.reads&(1<<i) != 0 {
				reads = append(reads, strings.TrimPrefix(path, "request."))
			}
		}
		for _, h := range r.health {
			read := fmt.Sprintf("provider_health[%q]", h.provider)
			if h.figure != "" {
				read += "." + h.figure
			}
			reads = append(reads, read)
		}
		slices.Sort(reads)
		return reads
	}
	return nil
}
