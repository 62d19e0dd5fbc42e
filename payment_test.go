package paywire_test

import (
	"strings"
	"testing"

	"github.com/paywire/paywire"
)

func validPayment() paywire.Payment {
	amt, _ := paywire.NewMoney(1000, "EUR")
	return paywire.Payment{
		ID: "pay_1", MerchantID: "demo", MerchantReference: "order-1",
		Kind: paywire.KindDeposit, Amount: amt, State: paywire.StateCreated,
	}
}

func TestPaymentValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*paywire.Payment)
		want   string // part of the message; empty for valid
	}{
		{"valid", func(*paywire.Payment) {}, ""},
		{"fully captured and refunded", func(p *paywire.Payment) { p.State, p.Captured, p.Refunded = paywire.StateRefunded, 1000, 1000 }, ""},
		{"captured money held for review", func(p *paywire.Payment) { p.State, p.Captured = paywire.StateReview, 1000 }, ""},
		{"captured money refused", func(p *paywire.Payment) { p.State, p.Captured = paywire.StateRefused, 1000 }, "cannot have captured money"},
		{"captured money authorized", func(p *paywire.Payment) { p.State, p.Captured = paywire.StateAuthorized, 500 }, "cannot have captured money"},
		{"no merchant", func(p *paywire.Payment) { p.MerchantID = "" }, "merchant"},
		{"zero kind", func(p *paywire.Payment) { p.Kind = "" }, "kind"},
		{"zero amount", func(p *paywire.Payment) { p.Amount.Amount = 0 }, "greater than zero"},
		{"no currency", func(p *paywire.Payment) { p.Amount.Currency = paywire.Currency{} }, "currency"},
		{"zero state", func(p *paywire.Payment) { p.State = "" }, "state"},
		{"over-capture", func(p *paywire.Payment) { p.Captured = 1001 }, "captured amount exceeds"},
		{"over-refund", func(p *paywire.Payment) { p.Captured, p.Refunded = 500, 501 }, "refunded and charged back amounts exceed"},
		{"negative", func(p *paywire.Payment) { p.Refunded = -1 }, "negative"},
		{"long reference", func(p *paywire.Payment) { p.MerchantReference = strings.Repeat("x", 129) }, "128"},
	}
	for _, tt := range tests {
		p := validPayment()
		tt.change(&p)
		err := p.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if paywire.ErrorCode(err) != paywire.EINVALID || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want invalid saying %q", tt.name, err, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := paywire.NewID("pay_")
		if len(id) != 30 || !strings.HasPrefix(id, "pay_") || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	err := &paywire.Error{Code: paywire.ENOTFOUND, Message: "payment not found", Op: "store/DB.Payment"}
	wrapped := &paywire.Error{Code: paywire.EINTERNAL, Message: "x", Err: err}
	if got := paywire.ErrorCode(err); got != paywire.ENOTFOUND {
		t.Errorf("code %q", got)
	}
	if got := paywire.ErrorCode(wrapped); got != paywire.EINTERNAL {
		t.Errorf("outer code %q, want the outermost", got)
	}
	other := strings.NewReader("").UnreadByte() // a plain error with internal text
	if paywire.ErrorCode(other) != paywire.EINTERNAL || paywire.ErrorMessage(other) != "internal error" {
		t.Errorf("plain error leaks: %q %q", paywire.ErrorCode(other), paywire.ErrorMessage(other))
	}
	if paywire.ErrorCode(nil) != "" {
		t.Error("nil error has a code")
	}
}
