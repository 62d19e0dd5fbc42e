package paywire_test

import (
	"testing"
	"time"

	"github.com/paywire/paywire"
)

func TestNormaliseListValue(t *testing.T) {
	for _, c := range []struct {
		typ        paywire.ListType
		in, want   string
		wantRefuse bool
	}{
		{typ: paywire.ListEmail, in: "  Fraud@Example.COM ", want: "fraud@example.com"},
		{typ: paywire.ListEmail, in: "no-at-sign", wantRefuse: true},
		{typ: paywire.ListEmail, in: "a@localhost", wantRefuse: true},
		{typ: paywire.ListEmailDomain, in: "@Mailinator.com", want: "mailinator.com"},
		{typ: paywire.ListEmailDomain, in: "bad..domain.com", wantRefuse: true},
		{typ: paywire.ListIP, in: "203.0.113.7", want: "203.0.113.7"},
		{typ: paywire.ListIP, in: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{typ: paywire.ListIP, in: "203.0.113.77/24", want: "203.0.113.0/24"},
		{typ: paywire.ListIP, in: "2001:DB8::1/32", want: "2001:db8::/32"},
		{typ: paywire.ListIP, in: "203.0.113", wantRefuse: true},
		{typ: paywire.ListIP, in: "10.0.0.0/33", wantRefuse: true},
		{typ: paywire.ListBIN, in: "411111", want: "411111"},
		{typ: paywire.ListBIN, in: "41111111", wantRefuse: true}, // a payment keeps 6 digits
		{typ: paywire.ListBIN, in: "41111", wantRefuse: true},
		{typ: paywire.ListBIN, in: "4111a1", wantRefuse: true},
		{typ: paywire.ListCountry, in: "de", want: "DE"},
		{typ: paywire.ListCountry, in: "DEU", wantRefuse: true},
		{typ: paywire.ListCustomerID, in: "shop/cust-1", want: "shop/cust-1"},
		{typ: paywire.ListCustomerID, in: "cust-1", wantRefuse: true},
		{typ: paywire.ListDeviceID, in: "dev-9", want: "dev-9"},
		{typ: paywire.ListCardFingerprint, in: "fp_abc", want: "fp_abc"},
		{typ: "phone", in: "123", wantRefuse: true},
		{typ: paywire.ListEmail, in: "   ", wantRefuse: true},
	} {
		got, err := paywire.NormaliseListValue(c.typ, c.in)
		if c.wantRefuse {
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%s %q: %q, %v; want EINVALID", c.typ, c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %q: %q, %v; want %q", c.typ, c.in, got, err, c.want)
		}
	}
}

func TestNewListEntry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e, err := paywire.NewListEntry("blocked_emails", paywire.ListEmail, "X@Y.com", " chargebacks ", now.Add(time.Hour), now)
	if err != nil || e.Value != "x@y.com" || e.Reason != "chargebacks" || !e.Active(now) || e.Active(now.Add(time.Hour)) {
		t.Fatalf("%+v, %v", e, err)
	}
	for name, f := range map[string]func() error{
		"bad name": func() error {
			_, err := paywire.NewListEntry("Blocked-Emails", paywire.ListEmail, "x@y.com", "r", time.Time{}, now)
			return err
		},
		"no reason": func() error {
			_, err := paywire.NewListEntry("blocked_emails", paywire.ListEmail, "x@y.com", " ", time.Time{}, now)
			return err
		},
		"past expiry": func() error {
			_, err := paywire.NewListEntry("blocked_emails", paywire.ListEmail, "x@y.com", "r", now, now)
			return err
		},
	} {
		if err := f(); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("%s: %v; want EINVALID", name, err)
		}
	}
}
