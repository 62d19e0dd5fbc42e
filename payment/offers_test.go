package payment_test

import (
	"slices"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// availabilityDecisions returns the availability decisions stored for the
// shop's payment id.
func availabilityDecisions(t *testing.T, e *env, id string) []paywire.DecisionRecord {
	t.Helper()
	ds, err := e.db.Decisions(ctx, "shop", id)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(ds, func(d paywire.DecisionRecord) bool { return d.Point != engine.PointAvailability })
}

// TestPagesShowTheStartsMethods: a payment's pages and its submission use
// the availability decision its start made and stored with it, not one
// each; a new bundle, new lists or offerTTL (2 minutes) later a page
// decides again, and a node that never saw the start decides once; the
// merchant's switches apply to every page.
func TestPagesShowTheStartsMethods(t *testing.T) {
	e := newHosted(t)
	eng := recordingEngine(t, e.db)
	e.pin.Decider = eng
	e.s.Decisions = e.db

	tok, id := e.start("shop", "offer-1", 5000)
	if ds := availabilityDecisions(t, e.env, id); len(ds) != 1 {
		t.Fatalf("%d availability decisions stored with the payment at its start, want 1", len(ds))
	}
	first, err := e.s.OpenRedirect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Methods) < 2 {
		t.Fatalf("the default bundle offers %v; the test needs two methods", first.Methods)
	}
	e.clock.Add(90 * time.Second)
	again, err := e.s.OpenRedirect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Methods, again.Methods) {
		t.Errorf("the second page offers %v, the first %v", again.Methods, first.Methods)
	}
	if ds := availabilityDecisions(t, e.env, id); len(ds) != 1 {
		t.Errorf("%d availability decisions after two pages within 2 minutes, want the start's alone", len(ds))
	}

	// Past two minutes, a page decides again; the next within two
	// minutes of that one does not.
	e.clock.Add(31 * time.Second)
	mustOpen(t, e.s, tok)
	mustOpen(t, e.s, tok)
	if ds := availabilityDecisions(t, e.env, id); len(ds) != 2 {
		t.Errorf("%d availability decisions after a page 2 minutes on, want 2", len(ds))
	}

	// New lists, then a new bundle: each is decided with at the next page.
	eng.SetLists(engine.NewListSet(nil, 7, e.clock.Now()))
	mustOpen(t, e.s, tok)
	if ds := availabilityDecisions(t, e.env, id); len(ds) != 3 {
		t.Errorf("%d availability decisions after the lists changed, want 3", len(ds))
	}
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	files["availability.rego"] = append(slices.Clone(files["availability.rego"]), "\n# revised\n"...)
	b, err := eng.Activate(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, e.s, tok)
	ds := availabilityDecisions(t, e.env, id)
	if len(ds) != 4 || !slices.ContainsFunc(ds, func(d paywire.DecisionRecord) bool { return d.BundleHash == b.Hash }) {
		t.Errorf("%d availability decisions after a new bundle, want 4, one under the new bundle", len(ds))
	}

	// The merchant turns a method off: no page offers it, though the
	// decision kept does.
	m, err := e.db.Merchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	off := paywire.Method(first.Methods[0].Method)
	m.DisabledMethods = []paywire.Method{off}
	if err := e.db.UpdateMerchant(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, e.s, tok)
	if slices.ContainsFunc(c.Methods, func(o engine.MethodOption) bool { return o.Method == string(off) }) || len(c.Methods) != len(first.Methods)-1 {
		t.Errorf("with %s turned off the page offers %v", off, c.Methods)
	}
	if _, err := e.s.Submit(ctx, tok, payment.Details{Method: off}); !refusedMethod(err) {
		t.Errorf("submitting the method turned off: %v, want the method refused", err)
	}

	// The submission takes what the pages offered, and decides nothing
	// more of it.
	m.DisabledMethods = nil
	if err := e.db.UpdateMerchant(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
		t.Fatal(err)
	}
	if ds := availabilityDecisions(t, e.env, id); len(ds) != 4 {
		t.Errorf("%d availability decisions after the submission, want 4 (none of its own)", len(ds))
	}

	// Another node (a service of its own on the same store) never saw the
	// start: its first page decides, its second does not.
	tok2, id2 := e.start("shop", "offer-2", 5000)
	other := &payment.Service{Payments: e.s.Payments, Merchants: e.s.Merchants, Idempotency: e.s.Idempotency,
		Attempts: e.s.Attempts, Outbox: e.s.Outbox, FollowUps: e.s.FollowUps, Decider: e.s.Decider,
		Features: e.s.Features, Decisions: e.s.Decisions, Providers: e.s.Providers, Logger: e.s.Logger,
		PortalURL: e.s.PortalURL, TokenKey: e.s.TokenKey, Now: e.s.Now, Offers: payment.NewOfferMemo()}
	mustOpen(t, other, tok2)
	mustOpen(t, other, tok2)
	if ds := availabilityDecisions(t, e.env, id2); len(ds) != 2 {
		t.Errorf("%d availability decisions of a payment opened twice on another node, want 2 (the start's, the node's first page's)", len(ds))
	}
}

func mustOpen(t *testing.T, s *payment.Service, tok string) *payment.Checkout {
	t.Helper()
	c, err := s.OpenRedirect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func refusedMethod(err error) bool {
	de, ok := err.(*payment.DetailsError)
	return ok && len(de.Fields) == 1 && de.Fields[0].Field == "method"
}
