package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/portal"
)

var _ portal.Checkouts = (*payment.Service)(nil)

// TestWithTheRealService runs the pages over payment.Service on SQLite
// with the default policy bundle and no provider configured: the refusals
// the pages translate are the use case's, and a payment no provider takes
// ends on the merchant's Error page.
func TestWithTheRealService(t *testing.T) {
	ctx := context.Background()
	core := paywiretest.New(t)
	core.Merchant("shop", "")
	svc := core.Payments
	amount, _ := paywire.NewMoney(5000, "EUR")
	start := func(ref string) string {
		rd, err := svc.Start(ctx, "shop", "ref:"+ref, payment.StartRequest{MerchantReference: ref, Kind: paywire.KindDeposit,
			Amount: amount, PaymentMethod: "card",
			EndUser: paywire.EndUser{ID: "u1", Email: "u1@example.com", Country: "DE", Language: "de", IP: "192.0.2.1"},
			ReturnURLs: paywire.ReturnURLs{Success: "https://shop.example/ok", Error: "https://shop.example/error",
				Cancel: "https://shop.example/cancel", Refused: "https://shop.example/refused", Pending: "https://shop.example/pending"}})
		if err != nil {
			t.Fatal(err)
		}
		return rd.PostFields[0].Value
	}
	r := chi.NewRouter()
	(&portal.Handler{Checkouts: svc}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{srv: srv}

	tok := start("portal-1")
	res := e.post(t, "/pay", form("token", tok))
	checkStatus(t, res, http.StatusOK)
	mustContain(t, res.body, `<html lang="de">`, "Kartendaten", "50,00\u00a0EUR bezahlen")
	if !strings.Contains(res.header.Get("Content-Security-Policy"), "form-action 'self' https://shop.example;") {
		t.Errorf("Content-Security-Policy %q", res.header.Get("Content-Security-Policy"))
	}

	year := time.Now().Year() + 2
	refused := form("token", tok, "method", "card", "card_number", "4242 4242 4242 4241", "card_cvc", "12",
		"card_expiry_month", "12", "card_expiry_year", "2001", "card_holder", "")
	res = e.post(t, "/pay/submit", refused)
	checkStatus(t, res, http.StatusUnprocessableEntity)
	mustContain(t, res.body, "Dies ist keine gültige Kartennummer", "Diese Karte ist abgelaufen",
		"Geben Sie den Namen auf der Karte ein", `id="card-cvc-error"`)
	mustNotContain(t, res.body, "4242")

	ok := form("token", tok, "method", "card", "card_number", "4242 4242 4242 4242", "card_cvc", "123",
		"card_expiry_month", "12", "card_expiry_year", time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Format("06"), "card_holder", "Anna Muster")
	res = e.post(t, "/pay/submit", ok)
	checkStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); !strings.HasPrefix(loc, "https://shop.example/error?") {
		t.Errorf("Location %q, want the merchant's Error page", loc)
	}
	// The link is used: the form does not come back.
	res = e.post(t, "/pay", form("token", tok))
	checkStatus(t, res, http.StatusSeeOther)
	res = e.post(t, "/pay/submit", ok)
	checkStatus(t, res, http.StatusSeeOther)

	tok = start("portal-2")
	res = e.post(t, "/pay/cancel", form("token", tok))
	checkStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); !strings.HasPrefix(loc, "https://shop.example/cancel?") {
		t.Errorf("Location %q, want the merchant's Cancel page", loc)
	}

	res = e.post(t, "/pay", form("token", tok[:len(tok)-2]+"xx"))
	checkStatus(t, res, http.StatusBadRequest)
}

// TestPaymentLink opens a manual payment's link (GET, the token in the
// path) on the real service: the method selection in the end user's
// language, no Referer sent on; a tampered link is refused with a page; the
// link takes only GET; after the payment it shows the outcome, not a form.
func TestPaymentLink(t *testing.T) {
	ctx := context.Background()
	core := paywiretest.New(t)
	core.Merchant("shop", "")
	amount, _ := paywire.NewMoney(5000, "EUR")
	link, err := core.Payments.StartManual(ctx, "admin:alice", "shop", "", payment.ManualRequest{MerchantReference: "m-1",
		Kind: paywire.KindDeposit, Amount: amount, ValidFor: 24 * time.Hour, PaymentMethod: "card",
		EndUser: paywire.EndUser{ID: "u1", Email: "u1@example.com", Country: "DE", Language: "de"}})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	(&portal.Handler{Checkouts: core.Payments}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e := &env{srv: srv}
	path := link.URL[strings.Index(link.URL, payment.LinkPath):]
	get := func(path string) response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		return e.do(t, req)
	}

	res := get(path)
	checkStatus(t, res, http.StatusOK)
	mustContain(t, res.body, `<html lang="de">`, "Kartendaten", "50,00\u00a0EUR bezahlen")
	if res.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", res.header.Get("Referrer-Policy"))
	}
	res = get(path[:len(path)-2] + "xx")
	checkStatus(t, res, http.StatusBadRequest)
	mustContain(t, res.body, "This payment link is not valid")
	res = e.post(t, path, form())
	checkStatus(t, res, http.StatusMethodNotAllowed)
	if res.header.Get("Allow") != http.MethodGet {
		t.Errorf("Allow %q", res.header.Get("Allow"))
	}

	if _, err := core.Payments.CancelRedirect(ctx, path[len(payment.LinkPath):]); err != nil {
		t.Fatal(err)
	}
	res = get(path)
	checkStatus(t, res, http.StatusOK)
	mustNotContain(t, res.body, "Kartendaten")
}
