package main

import (
	"context"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store/storetest"
)

// TestReviewCommand: the review command lists a running node's queue and
// declines a held payment through its operator API.
func TestReviewCommand(t *testing.T) {
	cfg := testConfig(t)
	cfg.OperatorToken = "operator-token-0123456789-0123456789"
	var m *Main
	base, stop := startMain(t, cfg, func(mm *Main) { m = mm })
	defer stop()
	storetest.SeedMerchant(t, m.DB, "shop")
	p := storetest.SeedPayment(t, m.DB, "shop", "held-1")
	storetest.Move(t, m.DB, p, paywire.Move{To: paywire.StateReview})

	env := func(k string) string {
		return map[string]string{"PAYWIRE_SERVER": base, "PAYWIRE_OPERATOR_TOKEN": cfg.OperatorToken}[k]
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"review", "list"}, &out, &errOut, env); code != 0 || !strings.Contains(out.String(), p.ID) {
		t.Fatalf("list: %d %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"review", "decline", "--merchant", "shop", "--payment", p.ID}, &out, &errOut, env); code != 2 {
		t.Errorf("a decision without a reason: exit %d", code)
	}
	if code := run(context.Background(), []string{"review", "decline", "--merchant", "shop", "--payment", p.ID, "--reason", "fraud ring"}, &out, &errOut, env); code != 0 || !strings.Contains(out.String(), "REFUSED") {
		t.Fatalf("decline: %d %q %s", code, out.String(), errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"review", "approve", "--merchant", "shop", "--payment", p.ID, "--reason", "x"}, &out, &errOut, env); code != 1 || !strings.Contains(errOut.String(), "not in review") {
		t.Errorf("a decided payment: %d %s", code, errOut.String())
	}
}
