package admin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// exportsOf returns the audit log's decision exports, newest first.
func exportsOf(t *testing.T, db *store.DB) []paywire.AuditEntry {
	t.Helper()
	entries, err := db.AuditEntries(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []paywire.AuditEntry
	for _, e := range entries {
		if e.Action == "payment.decisions_export" {
			out = append(out, e)
		}
	}
	return out
}

// TestDecisionExport: the payment's page links to the export of its
// decisions; any user who may read payments downloads it (a viewer here),
// with the decision's bundle revision and hash; the export is in the audit
// log with who took it and which payment; another merchant's payment and
// an unknown one are not found and not audited; signed out, nothing.
func TestDecisionExport(t *testing.T) {
	var eng *engine.Engine
	e := newEnv(t, map[string][]string{"vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		files, err := engine.BundleFiles(policies.FS, rules.FS)
		if err != nil {
			t.Fatal(err)
		}
		eng = engine.New(1)
		if _, err := eng.Activate(context.Background(), files); err != nil {
			t.Fatal(err)
		}
		eng.Recorder = engine.StoreRecorder{Store: db}
		a.PaymentPages = admin.PaymentPages{Payments: db, ActiveBundle: eng.Active,
			Explainer: &bundles.Explainer{Payments: db, Decisions: db, Bundles: db, Audit: db, Running: eng.Active}}
	})
	storetest.SeedMerchant(t, e.db, "shop")
	storetest.SeedMerchant(t, e.db, "other")
	p := storetest.SeedPayment(t, e.db, "shop", "order-1")
	in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 1000, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
		Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: e.clock.Now()},
		Features: engine.Features{CardCount1h: engine.Known(1)}}
	if _, err := eng.Risk(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	exportPath := "/admin/payments/shop/" + p.ID + "/decisions.json"

	anon := e.browser()
	if a := anon.do("GET", exportPath, nil); a.status == 200 || len(exportsOf(t, e.db)) != 0 {
		t.Fatalf("signed out: %d %s", a.status, a.body)
	}

	vera := e.browser()
	vera.signIn("vera", "pw-vera")
	page := vera.do("GET", "/admin/payments/shop/"+p.ID, nil)
	if page.status != 200 || !strings.Contains(page.body, `<a href="`+exportPath+`" id="export-decisions" download>Export decisions (JSON)</a>`) {
		t.Fatalf("the payment's page does not link to the export: %d %s", page.status, page.body)
	}
	a := vera.do("GET", exportPath, nil)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json; charset=utf-8" ||
		a.header.Get("Content-Disposition") != `attachment; filename="paywire-decisions-`+p.ID+`.json"` {
		t.Fatalf("export: %d %v %s", a.status, a.header, a.body)
	}
	var doc bundles.DecisionExport
	if err := json.Unmarshal([]byte(a.body), &doc); err != nil {
		t.Fatalf("%v: %s", err, a.body)
	}
	active := eng.Active()
	if doc.Format != "paywire.decisions/v1" || doc.Payment.ID != p.ID || len(doc.Decisions) != 1 ||
		doc.Decisions[0].Bundle.Revision != active.Revision || doc.Decisions[0].Bundle.Hash != active.Hash || doc.ExportedBy != "admin:vera" {
		t.Errorf("the export: %s", a.body)
	}

	exports := exportsOf(t, e.db)
	if len(exports) != 1 || exports[0].Actor != "admin:vera" || exports[0].Target != p.ID || exports[0].ID != doc.AuditID {
		t.Fatalf("audit: %+v", exports)
	}
	var details map[string]any
	if err := json.Unmarshal(exports[0].Details, &details); err != nil || details["merchantId"] != "shop" || details["decisions"] != 1.0 {
		t.Errorf("audit details: %s", exports[0].Details)
	}

	for _, path := range []string{"/admin/payments/other/" + p.ID + "/decisions.json", "/admin/payments/shop/pay_unknown/decisions.json"} {
		if a := vera.do("GET", path, nil); a.status != 404 || !strings.Contains(a.body, "Not found") {
			t.Errorf("%s: %d", path, a.status)
		}
	}
	if n := len(exportsOf(t, e.db)); n != 1 {
		t.Errorf("%d exports audited; want the one that happened", n)
	}
}

// TestDecisionExportNotMounted: without an explainer the page offers no
// export and there is none.
func TestDecisionExportNotMounted(t *testing.T) {
	e := paymentsEnv(t, nil)
	storetest.SeedMerchant(t, e.db, "shop")
	p := storetest.SeedPayment(t, e.db, "shop", "order-1")
	b := e.browser()
	b.signIn("root", "pw-root")
	if a := b.do("GET", "/admin/payments/shop/"+p.ID, nil); a.status != 200 || strings.Contains(a.body, "export-decisions") {
		t.Errorf("the page offers an export it cannot make: %d", a.status)
	}
	if a := b.do("GET", "/admin/payments/shop/"+p.ID+"/decisions.json", nil); a.status != 404 {
		t.Errorf("export without an explainer: %d", a.status)
	}
}
