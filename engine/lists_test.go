package engine

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// listFiles is minimalFiles with risk rules on live lists and a risk
// policy that also asks paywire.in_list itself.
func listFiles() Files {
	f := with(minimalFiles(), "rules/risk/data.yaml", `rules:
  - id: blocked_bin
    when: in_list("blocked_bins", request.card.bin)
    effect: {score: 100, reason: blocked_bin}
  - id: blocked_email
    when: in_list("blocked_emails", request.customer.email)
    effect: {score: 100, reason: blocked_email}
  - id: blocked_ip
    when: in_list("blocked_ips", request.customer.ip)
    effect: {score: 100, reason: blocked_ip}
`)
	return with(f, "risk.rego", `package paywire.risk
score := min([100, sum([h.effect.score | some h in input.hits]) + device])
device := 100 if paywire.in_list("blocked_devices", input.request.customer.device_id)
else := 0
reasons := [h.effect.reason | some h in input.hits]
decision := {"score": score, "action": action, "reasons": reasons}
action := "block" if score >= 80
else := "allow"
`)
}

func entry(list string, typ paywire.ListType, value string, expires time.Time) paywire.ListEntry {
	v, err := paywire.NormaliseListValue(typ, value)
	if err != nil {
		panic(err)
	}
	return paywire.ListEntry{ID: "le_" + value, List: list, Type: typ, Value: v, Reason: "test", ExpiresAt: expires}
}

// TestLiveLists: an entry added to the live lists blocks the next decision
// of the bundle already active, in expr rules and in Rego; an address in a
// listed prefix is on the list; an expired entry is not.
func TestLiveLists(t *testing.T) {
	e := newEngine(t, listFiles())
	in := riskInput(100, "411111")
	in.Request.Customer = Customer{ID: "c1", Email: "Fraud@Example.com", IP: "198.51.100.23", DeviceID: "dev-1", Country: "DE"}
	if d, _ := e.Risk(ctx, in); d.Action != RiskAllow || d.FailedClosed || d.ListsVersion != 0 {
		t.Fatalf("before any list: %+v", d)
	}

	e.SetLists(NewListSet([]paywire.ListEntry{entry("blocked_emails", paywire.ListEmail, "fraud@example.com", time.Time{})}, 1, now))
	d, _ := e.Risk(ctx, in)
	if d.Action != RiskBlock || !slices.Equal(d.Reasons, []string{"blocked_email"}) {
		t.Fatalf("after listing the e-mail: %+v", d)
	}

	e.SetLists(NewListSet([]paywire.ListEntry{
		entry("blocked_ips", paywire.ListIP, "198.51.100.0/24", time.Time{}),
		entry("blocked_emails", paywire.ListEmail, "fraud@example.com", now.Add(-time.Second)), // expired
	}, 2, now))
	d, _ = e.Risk(ctx, in)
	if d.Action != RiskBlock || !slices.Equal(d.Reasons, []string{"blocked_ip"}) || d.ListsVersion != 2 {
		t.Fatalf("an address in a listed prefix, the e-mail's entry expired (lists version 2): %+v", d)
	}
	in.Request.Customer.IP = "198.51.101.1"
	if d, _ := e.Risk(ctx, in); d.Action != RiskAllow {
		t.Fatalf("an address outside the prefix: %+v", d)
	}

	e.SetLists(NewListSet([]paywire.ListEntry{entry("blocked_devices", paywire.ListDeviceID, "dev-1", time.Time{})}, 3, now))
	if d, _ := e.Risk(ctx, in); d.Action != RiskBlock || d.Score != 100 || len(d.RulesFired) != 0 {
		t.Fatalf("a device the policy looks up with paywire.in_list: %+v", d)
	}

	// The bundle's own lists still count, with or without live lists.
	e.SetLists(nil)
	if d, _ := e.Risk(ctx, riskInput(100, "666666")); d.Action != RiskBlock {
		t.Fatalf("a BIN on the bundle's list: %+v", d)
	}
}

// TestDefaultRulesBlockOnLiveLists: each blocked_* rule of the default
// bundle blocks, with its reason, once the live list holds the value.
func TestDefaultRulesBlockOnLiveLists(t *testing.T) {
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, files)
	in := riskInput(1000, "411111")
	in.Request.Card.Fingerprint = "fp_1"
	in.Request.Card.ExpiryMonth, in.Request.Card.ExpiryYear = 12, 2030
	in.Request.Customer = Customer{ID: "c1", Email: "Someone@Example.com", EmailDomain: "example.com", IP: "203.0.113.9",
		DeviceID: "dev-1", Country: "DE", Language: "en"}
	if d, _ := e.Risk(ctx, in); d.Action == RiskBlock || d.FailedClosed {
		t.Fatalf("on no list: %+v", d)
	}
	for _, c := range []struct {
		entry  paywire.ListEntry
		reason string
	}{
		{entry("blocked_emails", paywire.ListEmail, "someone@example.com", time.Time{}), "blocked_email"},
		{entry("blocked_email_domains", paywire.ListEmailDomain, "example.com", time.Time{}), "blocked_email_domain"},
		{entry("blocked_cards", paywire.ListCardFingerprint, "fp_1", time.Time{}), "blocked_card"},
		{entry("blocked_ips", paywire.ListIP, "203.0.113.0/28", time.Time{}), "blocked_ip"},
		{entry("blocked_devices", paywire.ListDeviceID, "dev-1", time.Time{}), "blocked_device"},
		{entry("blocked_customers", paywire.ListCustomerID, "demo/c1", time.Time{}), "blocked_customer"},
	} {
		e.SetLists(NewListSet([]paywire.ListEntry{c.entry}, 1, now))
		d, _ := e.Risk(ctx, in)
		if d.Action != RiskBlock || !slices.Contains(d.Reasons, c.reason) {
			t.Errorf("%s on %s: %+v", c.entry.Value, c.entry.List, d)
		}
	}
	// Another merchant's customer with the same id is not blocked.
	e.SetLists(NewListSet([]paywire.ListEntry{entry("blocked_customers", paywire.ListCustomerID, "other/c1", time.Time{})}, 1, now))
	if d, _ := e.Risk(ctx, in); d.Action == RiskBlock {
		t.Errorf("another merchant's customer: %+v", d)
	}
}

func TestListSetHas(t *testing.T) {
	s := NewListSet([]paywire.ListEntry{
		entry("ips", paywire.ListIP, "2001:db8::/32", time.Time{}),
		entry("ips", paywire.ListIP, "203.0.113.5", time.Time{}),
		entry("countries", paywire.ListCountry, "ru", time.Time{}),
		entry("domains", paywire.ListEmailDomain, "mailinator.com", now.Add(time.Hour)),
	}, 7, now)
	for _, c := range []struct {
		list, value string
		want        bool
	}{
		{"ips", "2001:db8:1::9", true},
		{"ips", "2001:db9::1", false},
		{"ips", "203.0.113.5", true},
		{"ips", "::ffff:203.0.113.5", true},
		{"ips", "203.0.113.6", false},
		{"ips", "not an address", false},
		{"countries", "RU", true},
		{"countries", "ru", true},
		{"domains", "Mailinator.COM", true},
		{"domains", "", false},
		{"unknown", "x", false},
	} {
		if got := s.Has(c.list, c.value); got != c.want {
			t.Errorf("Has(%q, %q) = %v", c.list, c.value, got)
		}
	}
	if s.Len() != 4 || s.Version() != 7 {
		t.Errorf("Len %d, Version %d", s.Len(), s.Version())
	}
	var none *ListSet
	if none.Has("ips", "203.0.113.5") || none.Len() != 0 {
		t.Error("a nil set holds something")
	}
}

// BenchmarkRiskLiveLists is a risk decision with live lists set, to compare
// with BenchmarkRisk.
func BenchmarkRiskLiveLists(b *testing.B) {
	e := newEngine(b, listFiles())
	var entries []paywire.ListEntry
	for i := range 1000 {
		entries = append(entries, entry("blocked_ips", paywire.ListIP, "10."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250)+".0/24", time.Time{}))
	}
	e.SetLists(NewListSet(entries, 1, now))
	in := riskInput(100, "411111")
	in.Request.Customer = Customer{ID: "c1", Email: "a@example.com", IP: "198.51.100.23", DeviceID: "dev-1", Country: "DE"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Risk(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
