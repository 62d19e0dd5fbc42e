package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

// bundleRefresher keeps a node's active bundle in step with the database:
// every Every it reads the active revision and, when it moved, loads the
// revision's archive, checks it (content hash, manifest revision and, with
// Verification, its signature) and swaps it into the engine. While no
// revision is active in the database the built-in bundle runs. A revision
// that cannot be loaded leaves the running bundle running; the failure is
// logged, counted and shown on /readyz until another revision is
// activated.
type bundleRefresher struct {
	Store        paywire.BundleStore
	Engine       *engine.Engine
	Verification *engine.Verification
	Logger       *slog.Logger
	Every        time.Duration

	mu     sync.Mutex
	status bundleStatus
	info   *prometheus.GaugeVec
	fails  prometheus.Counter
	shadow *shadowFollower // the shadow setting, followed in the same loop (shadow_refresh.go)
}

// bundleStatus is what a node reports about its policy bundle on /readyz.
type bundleStatus struct {
	// Revision is the registry revision running; 0 for the built-in bundle.
	Revision int64 `json:"revision"`
	// Manifest is the running bundle's manifest revision.
	Manifest string `json:"manifestRevision"`
	// Hash is the content hash of the running bundle as the registry keeps
	// it (without the signature file), or the built-in bundle's.
	Hash   string `json:"hash"`
	Source string `json:"source"` // "database" or "built-in"
	// Failed is the active revision this node could not load, and Error
	// why; the node keeps running Revision meanwhile.
	Failed int64  `json:"failedRevision,omitempty"`
	Error  string `json:"error,omitempty"`
	// Shadow is the revision decided in shadow beside it; absent: none.
	Shadow *shadowStatus `json:"shadow,omitempty"`
}

// newBundleRefresher returns a refresher reporting the engine's active
// (built-in) bundle and registers its metrics in reg:
//
//	paywire_policy_bundle_info{revision,manifest_revision,hash,source}  1 for the bundle running
//	paywire_policy_bundle_load_failures_total                           revisions this node refused to load
func newBundleRefresher(st paywire.BundleStore, e *engine.Engine, v *engine.Verification, log *slog.Logger, every time.Duration, reg prometheus.Registerer) *bundleRefresher {
	r := &bundleRefresher{Store: st, Engine: e, Verification: v, Logger: log, Every: every,
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paywire_policy_bundle_info",
			Help: "Always 1; the labels say which policy bundle this node runs (revision 0: the built-in bundle).",
		}, []string{"revision", "manifest_revision", "hash", "source"}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paywire_policy_bundle_load_failures_total",
			Help: "Active revisions this node could not load (refused signature, hash or manifest, compile error); it kept its bundle.",
		}),
	}
	if reg != nil {
		reg.MustRegister(r.info, r.fails)
	}
	if b := e.Active(); b != nil {
		r.set(bundleStatus{Manifest: b.Revision, Hash: b.Hash, Source: "built-in"})
	}
	return r
}

func (r *bundleRefresher) set(s bundleStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
	r.info.Reset()
	r.info.WithLabelValues(strconv.FormatInt(s.Revision, 10), s.Manifest, s.Hash, s.Source).Set(1)
}

// Status returns what the node runs, for /readyz.
func (r *bundleRefresher) Status() bundleStatus {
	r.mu.Lock()
	s := r.status
	r.mu.Unlock()
	s.Shadow = r.shadow.Status()
	return s
}

// refresh loads the active revision when it moved. A database error is
// returned (and retried at the next tick); a revision the node refuses is
// reported in the status and not tried again until the active revision
// moves.
func (r *bundleRefresher) refresh(ctx context.Context) error {
	rev, err := r.Store.ActiveBundleRevision(ctx)
	if err != nil {
		return err
	}
	cur := r.Status()
	if rev == 0 || rev == cur.Revision || rev == cur.Failed {
		return nil
	}
	b, err := r.Store.Bundle(ctx, rev)
	if err != nil {
		return err
	}
	compiled, err := bundles.Compile(ctx, b, r.Verification)
	if err == nil {
		unsigned, signed, ferr := bundles.Files(b)
		files := unsigned
		if r.Engine.Verification != nil {
			files = signed // the engine verifies again itself
		}
		if err = ferr; err == nil {
			compiled, err = r.Engine.Activate(ctx, files)
		}
	}
	if err != nil {
		r.fails.Inc()
		cur.Failed, cur.Error = rev, err.Error()
		r.mu.Lock()
		r.status = cur
		r.mu.Unlock()
		r.Logger.Error("policy bundle not loaded; the running bundle stays active", "revision", rev, "running", cur.Revision, "error", err)
		return nil
	}
	r.set(bundleStatus{Revision: rev, Manifest: compiled.Revision, Hash: b.Hash, Source: "database"})
	r.Logger.Info("policy bundle active", "revision", rev, "hash", b.Hash, "signed", len(b.Signature) > 0)
	return nil
}

// run refreshes until ctx ends.
func (r *bundleRefresher) run(ctx context.Context) {
	every(ctx, r.Every, r.tick, func(err error) {
		r.Logger.Warn("active policy bundle not read; the running bundle stays active", "error", err)
	})
}

// openBundles starts following the database's active policy bundle: the
// revision active there replaces the built-in bundle before the node
// serves, and a node that cannot load it does not start.
func (m *Main) openBundles(ctx context.Context) error {
	v, err := policyVerification(m.Config.PolicyVerificationKey, m.Config.PolicyKeyAlg, m.Config.PolicyKeyID)
	if err != nil {
		return fmt.Errorf("--policy-verification-key: %v", err)
	}
	every := m.Config.PolicyPoll
	if every <= 0 {
		every = time.Second
	}
	m.bundles = newBundleRefresher(m.DB, m.Engine, v, m.Logger, every, m.Registry)
	m.bundles.shadow = newShadowFollower(m.DB, m.DB, m.Engine, v, m.Logger, m.Config.PolicyShadowQueue, m.Config.PolicyShadowWorkers, m.Registry)
	m.policies = &bundles.Service{Store: m.DB, Users: m.DB, Shadows: m.DB, Verification: v}
	if m.Config.PolicySigningKey != "" {
		key, err := os.ReadFile(m.Config.PolicySigningKey)
		if err != nil {
			return fmt.Errorf("--policy-signing-key: %v", err)
		}
		m.policies.Signing = &bundles.SigningKey{Key: strings.TrimSpace(string(key)), Algorithm: m.Config.PolicyKeyAlg, KeyID: m.Config.PolicyKeyID}
	}
	if err := m.bundles.refresh(ctx); err != nil {
		return fmt.Errorf("reading the active policy bundle: %w", err)
	}
	// A node that cannot run the active revision does not start on the
	// built-in bundle beside nodes that run it: that would decide by rules
	// nobody approved for now.
	if s := m.bundles.Status(); s.Failed != 0 {
		return fmt.Errorf("the active policy bundle, revision %d, cannot be loaded: %s (check --policy-verification-key, or roll back)", s.Failed, s.Error)
	}
	// The shadow is off the request's path: a node starts without it.
	if err := m.bundles.shadow.refresh(ctx); err != nil {
		m.Logger.Warn("policy shadow setting not read; retried every --policy-poll", "error", err)
	}
	return nil
}

// policyVerification reads a verification key file; nil without one.
func policyVerification(file, alg, keyID string) (*engine.Verification, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = "RS256"
	}
	if keyID == "" {
		keyID = "paywire"
	}
	return &engine.Verification{KeyID: keyID, Key: string(bytes.TrimSpace(b)), Algorithm: alg}, nil
}
