package bundles_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestShadowLifecycle: a submitted or approved revision shadows, started
// and stopped by a risk analyst, compliance or an admin, one at a time,
// never a draft, a rejected or the active revision; activating the
// candidate stops its shadow; each start and stop is audited as the user.
func TestShadowLifecycle(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		s.Shadows = db
		active := through(t, s, "bob", true)
		approved := through(t, s, "bob", false)
		draft, err := s.Push(ctx, defaultFiles(t), "bob", "a draft")
		if err != nil {
			t.Fatal(err)
		}

		_, err = s.StartShadow(ctx, approved, "vic")
		wantCode(t, "start by a viewer", err, paywire.EFORBIDDEN)
		_, err = s.StartShadow(ctx, approved, "dan")
		wantCode(t, "start by a disabled user", err, paywire.EFORBIDDEN)
		_, err = s.StartShadow(ctx, draft.Revision, "bob")
		wantCode(t, "start a draft", err, paywire.ECONFLICT)
		_, err = s.StartShadow(ctx, active, "bob")
		wantCode(t, "start the active revision", err, paywire.ECONFLICT)
		_, err = s.StartShadow(ctx, 99, "bob")
		wantCode(t, "start an unknown revision", err, paywire.ENOTFOUND)
		_, err = s.StopShadow(ctx, "bob")
		wantCode(t, "stop when none runs", err, paywire.ECONFLICT)
		_, err = db.StartShadow(ctx, draft.Revision, "bob", &paywire.AuditEntry{Actor: "admin:bob", Action: "policy_bundle.shadow_start"})
		wantCode(t, "the store starts a draft", err, paywire.ECONFLICT)

		sh, err := s.StartShadow(ctx, approved, "carl")
		if err != nil {
			t.Fatal(err)
		}
		if sh.ID != 1 || sh.Revision != approved || sh.StartedBy != "carl" || sh.StartedAt.IsZero() || !sh.Running() {
			t.Fatalf("started: %+v", sh)
		}
		running, err := db.RunningShadow(ctx)
		if err != nil || running == nil || running.ID != 1 {
			t.Fatalf("running: %+v, %v", running, err)
		}
		_, err = s.StartShadow(ctx, approved, "ada")
		wantCode(t, "a second shadow", err, paywire.ECONFLICT)

		stopped, err := s.StopShadow(ctx, "ada")
		if err != nil {
			t.Fatal(err)
		}
		if stopped.ID != 1 || stopped.StoppedBy != "ada" || stopped.Running() {
			t.Fatalf("stopped: %+v", stopped)
		}
		if running, err := db.RunningShadow(ctx); err != nil || running != nil {
			t.Fatalf("running after the stop: %+v, %v", running, err)
		}

		// Started again (a new period), then activated: it stops.
		if sh, err = s.StartShadow(ctx, approved, "bob"); err != nil || sh.ID != 2 {
			t.Fatalf("started again: %+v, %v", sh, err)
		}
		if err := s.Activate(ctx, approved, "ada"); err != nil {
			t.Fatal(err)
		}
		if running, err := db.RunningShadow(ctx); err != nil || running != nil {
			t.Fatalf("running after the candidate's activation: %+v, %v", running, err)
		}
		st, err := s.ShadowStatus(ctx, 0, 5)
		if err != nil {
			t.Fatal(err)
		}
		if st.Shadow == nil || st.Shadow.ID != 2 || st.Shadow.StoppedBy != "ada" || st.Shadow.StopReason == "" || st.Active != approved ||
			len(st.Earlier) != 1 || st.Earlier[0].ID != 1 {
			t.Fatalf("status after the activation: %+v (shadow %+v)", st, st.Shadow)
		}

		entries, err := db.AuditEntries(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.Action == "policy_bundle.shadow_start" || e.Action == "policy_bundle.shadow_stop" {
				got = append(got, e.Actor+" "+e.Action+" "+e.Target)
			}
		}
		r := fmt.Sprint(approved)
		want := []string{
			"admin:ada policy_bundle.shadow_stop policy_bundle:" + r, // by the activation
			"admin:bob policy_bundle.shadow_start policy_bundle:" + r,
			"admin:ada policy_bundle.shadow_stop policy_bundle:" + r,
			"admin:carl policy_bundle.shadow_start policy_bundle:" + r,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("audit:\n got %q\nwant %q", got, want)
		}
	})
}

// TestShadowResults: batches from several nodes add up per point and
// result; disagreements page newest first, filtered by point and
// merchant; a period's results are its own.
func TestShadowResults(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		s.Shadows = db
		rev := through(t, s, "bob", false)
		if _, err := s.StartShadow(ctx, rev, "bob"); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		var rows []paywire.ShadowDisagreement
		for i := range 7 {
			point, merchant := engine.PointRisk, "m1"
			if i%3 == 0 {
				point, merchant = engine.PointRouting, "m2"
			}
			rows = append(rows, paywire.ShadowDisagreement{DecisionID: fmt.Sprintf("dec_%d", i), PaymentID: fmt.Sprintf("pay_%d", i),
				MerchantID: merchant, Point: point, LiveRevision: "3", LiveOutcome: "allow", ShadowRevision: fmt.Sprint(rev), ShadowOutcome: "review",
				At: at.Add(time.Duration(i) * time.Second)})
		}
		counts := []paywire.ShadowCount{{Point: "risk", Result: "agree", N: 10}, {Point: "risk", Result: "disagree", N: 4}, {Point: "routing", Result: "disagree", N: 3}}
		if err := db.RecordShadow(ctx, 1, counts, rows[:4]); err != nil {
			t.Fatal(err)
		}
		// Another node's batch.
		if err := db.RecordShadow(ctx, 1, []paywire.ShadowCount{{Point: "risk", Result: "agree", N: 5}, {Point: "risk", Result: "dropped", N: 2}}, rows[4:]); err != nil {
			t.Fatal(err)
		}
		err := db.RecordShadow(ctx, 1, []paywire.ShadowCount{{Point: "risk", Result: "maybe", N: 1}}, nil)
		wantCode(t, "an unknown result", err, paywire.EINVALID)

		st, err := s.ShadowStatus(ctx, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range st.Counts {
			got[c.Point+" "+c.Result] = c.N
		}
		want := map[string]int64{"risk agree": 15, "risk disagree": 4, "routing disagree": 3, "risk dropped": 2}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("counts %v, want %v", got, want)
		}
		if st.Total(paywire.ShadowDisagree) != 7 {
			t.Errorf("total disagreements %d", st.Total(paywire.ShadowDisagree))
		}
		if len(st.Recent) != 3 || st.Recent[0].DecisionID != "dec_6" || !st.Recent[0].At.Equal(at.Add(6*time.Second)) || st.Recent[0].Shadow != 1 {
			t.Errorf("recent: %+v", st.Recent)
		}

		// Pages of 3, newest first.
		var ids []string
		f := paywire.ShadowFilter{Limit: 3}
		for {
			page, err := s.Disagreements(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page {
				ids = append(ids, d.DecisionID)
			}
			if len(page) < 3 {
				break
			}
			f.Before = page[len(page)-1].ID
		}
		if fmt.Sprint(ids) != "[dec_6 dec_5 dec_4 dec_3 dec_2 dec_1 dec_0]" {
			t.Errorf("pages: %v", ids)
		}
		routing, err := s.Disagreements(ctx, paywire.ShadowFilter{Point: "routing"})
		if err != nil || len(routing) != 3 {
			t.Errorf("routing: %d, %v", len(routing), err)
		}
		m1, err := s.Disagreements(ctx, paywire.ShadowFilter{MerchantID: "m1", Point: "risk"})
		if err != nil || len(m1) != 4 {
			t.Errorf("m1 risk: %d, %v", len(m1), err)
		}
		_, err = s.Disagreements(ctx, paywire.ShadowFilter{Point: "pricing"})
		wantCode(t, "an unknown point", err, paywire.EINVALID)

		// A new period starts from nothing.
		if _, err := s.StopShadow(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartShadow(ctx, rev, "bob"); err != nil {
			t.Fatal(err)
		}
		st, err = s.ShadowStatus(ctx, 0, 3)
		if err != nil || st.Shadow.ID != 2 || len(st.Counts) != 0 || len(st.Recent) != 0 {
			t.Errorf("the new period: %+v, %v", st, err)
		}
		if st, err = s.ShadowStatus(ctx, 1, 0); err != nil || st.Total(paywire.ShadowAgree) != 15 {
			t.Errorf("period 1 asked for: %+v, %v", st, err)
		}
		_, err = s.ShadowStatus(ctx, 9, 0)
		wantCode(t, "an unknown period", err, paywire.ENOTFOUND)
	})
}

// TestShadowNeedsWhatNodesVerify: with a verification key, a revision not
// yet approved (so not signed) cannot shadow: nodes would refuse it.
func TestShadowNeedsWhatNodesVerify(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		s.Shadows = db
		b, err := s.Push(ctx, defaultFiles(t), "bob", "m")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Submit(ctx, b.Revision, "bob"); err != nil {
			t.Fatal(err)
		}
		s.Verification = &engine.Verification{Key: "a shared secret", Algorithm: "HS256", KeyID: "k1"}
		_, err = s.StartShadow(ctx, b.Revision, "bob")
		wantCode(t, "an unsigned revision under verification", err, paywire.EINVALID)
		s.Verification = nil
		if _, err := s.StartShadow(ctx, b.Revision, "bob"); err != nil {
			t.Fatalf("a submitted revision without verification: %v", err)
		}
	})
}
