package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// paymentsEnv serves the back office with the payments pages over a real
// store, with users root (admin) and vera (viewer); eng, when given,
// supplies the active bundle.
func paymentsEnv(t *testing.T, eng *engine.Engine) *env {
	t.Helper()
	return newEnv(t, map[string][]string{"root": {"admin"}, "vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		a.PaymentPages = admin.PaymentPages{Payments: db}
		if eng != nil {
			a.PaymentPages.ActiveBundle = eng.Active
		}
	})
}

// createdAt stores p as created by its merchant at the given time.
func createPaymentAt(t *testing.T, db *store.DB, p *paywire.Payment, at time.Time) *paywire.Payment {
	t.Helper()
	c := paywire.Creation(p, paywire.ActorMerchant, at)
	c.Notification = paywire.Notification(c.Payment, c.Event)
	if err := db.CreatePayment(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return p
}

func paymentMoney(t *testing.T, minor int64, currency string) paywire.Money {
	t.Helper()
	m, err := paywire.NewMoney(minor, currency)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var paymentLink = regexp.MustCompile(`href="/admin/payments/([^/"]+)/([^"]+)" class="payment-id"`)

// listed returns the ids of the payments a list page links to, in order.
func listedPayments(body string) []string {
	var ids []string
	for _, m := range paymentLink.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[2])
	}
	return ids
}

// TestPaymentList: each filter and each kind of search finds the payments
// it should and no other; amounts show with their currency and cards as
// brand and last 4; a viewer may read the list.
func TestPaymentList(t *testing.T) {
	e := paymentsEnv(t, nil)
	storetest.SeedMerchant(t, e.db, "shop")
	storetest.SeedMerchant(t, e.db, "other")
	day := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	card := createPaymentAt(t, e.db, &paywire.Payment{MerchantID: "shop", MerchantReference: "order-1", Kind: paywire.KindDeposit,
		Amount: paymentMoney(t, 1234, "EUR"), Method: paywire.MethodCard, Provider: "acme",
		Card:    paywire.CardSummary{Brand: "visa", BIN: "401288", Last4: "1881"},
		EndUser: paywire.EndUser{ID: "u1", Email: "Ann@Example.com"}}, day)
	bank := createPaymentAt(t, e.db, &paywire.Payment{MerchantID: "shop", MerchantReference: "order-2", Kind: paywire.KindDeposit,
		Amount: paymentMoney(t, 50000, "EUR"), Method: paywire.MethodBankRedirect, Provider: "sandbox",
		EndUser: paywire.EndUser{ID: "u2", Email: "bob@example.com"}}, day.AddDate(0, 0, 1))
	usd := createPaymentAt(t, e.db, &paywire.Payment{MerchantID: "other", MerchantReference: "order-1", Kind: paywire.KindWithdrawal,
		Amount: paymentMoney(t, 700, "USD"), EndUser: paywire.EndUser{ID: "u3"}}, day.AddDate(0, 0, 2))
	pending := storetest.Move(t, e.db, bank, paywire.Move{To: paywire.StatePending, At: day.AddDate(0, 0, 1).Add(time.Minute)})

	vera := e.browser()
	vera.signIn("vera", "pw-vera")
	all := vera.do("GET", "/admin/payments", nil)
	if all.status != 200 || !strings.Contains(all.body, `<a href="/admin/payments" aria-current="page">Payments</a>`) {
		t.Fatalf("a viewer's list: %d %s", all.status, all.body)
	}
	if got := listedPayments(all.body); len(got) != 3 || got[0] != usd.ID || got[2] != card.ID {
		t.Errorf("all payments %v; want the three, newest first", got)
	}
	for _, want := range []string{"12.34 EUR", "500.00 EUR", "7.00 USD", "visa •••• 1881", "Ann@Example.com", `href="/admin/payments?merchant=other"`} {
		if !strings.Contains(all.body, want) {
			t.Errorf("the list does not show %q", want)
		}
	}
	if strings.Contains(all.body, "<script") || strings.Contains(all.body, "style=") {
		t.Error("the list has an inline script or style")
	}

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"merchant=shop", []string{pending.ID, card.ID}},
		{"merchant=nobody", nil},
		{"state=pending", []string{pending.ID}},
		{"state=created&merchant=shop", []string{card.ID}},
		{"method=card", []string{card.ID}},
		{"provider=sandbox", []string{pending.ID}},
		{"from=2026-11-11", []string{usd.ID, pending.ID}},
		{"from=2026-11-10&to=2026-11-11", []string{pending.ID, card.ID}},
		{"to=2026-11-10", []string{card.ID}},
		{"currency=EUR", []string{pending.ID, card.ID}},
		{"currency=eur&min=100", []string{pending.ID}},
		{"currency=EUR&max=12.34", []string{card.ID}},
		{"currency=EUR&min=12.34&max=500", []string{pending.ID, card.ID}},
		{"q=" + card.ID, []string{card.ID}},
		{"q=order-1", []string{usd.ID, card.ID}},
		{"q=order-1&merchant=other", []string{usd.ID}},
		{"q=+ann@example.COM", []string{card.ID}},
		{"q=1881", []string{card.ID}},
		{"q=nothing-like-it", nil},
	} {
		a := vera.do("GET", "/admin/payments?"+c.query, nil)
		got := listedPayments(a.body)
		if a.status != 200 || strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: %d %v; want %v", c.query, a.status, got, c.want)
		}
		if len(c.want) == 0 && !strings.Contains(a.body, `id="no-payments"`) {
			t.Errorf("%s: no word that nothing matched", c.query)
		}
	}
	// The form keeps the filter it listed.
	if a := vera.do("GET", "/admin/payments?state=pending&provider=sandbox", nil); !strings.Contains(a.body, `<option value="pending" selected>`) ||
		!strings.Contains(a.body, `name="provider" value="sandbox"`) {
		t.Error("the form does not show the filter in use")
	}
}

// TestPaymentListRefusesBadFilters: a filter that cannot be searched gives
// the list's page with the problem in words and the form as typed, 400,
// never an error page of the server.
func TestPaymentListRefusesBadFilters(t *testing.T) {
	e := paymentsEnv(t, nil)
	storetest.SeedMerchant(t, e.db, "shop")
	storetest.SeedPayment(t, e.db, "shop", "order-1")
	b := e.browser()
	b.signIn("root", "pw-root")
	for _, c := range []struct{ query, problem string }{
		{"state=paid", `state \"paid\" is not a payment state`},
		{"method=cash", `method \"cash\" is not a payment method`},
		{"from=yesterday", "date must be a day like"},
		{"from=2026-11-12&to=2026-11-10", "must end after it starts"},
		{"min=10", "needs a currency"},
		{"currency=EUR&min=ten", "minimum amount"},
		{"currency=EUR&max=1.234", "at most 2 decimal places"},
		{"currency=EUR&min=20&max=10", "minimum amount is above the maximum"},
		{"currency=EUR&min=-5", "cannot be negative"},
		{"currency=XYZ", "XYZ"},
		{"limit=0", "a page lists 1 to 200 payments"},
		{"limit=many", "a page lists 1 to 200 payments"},
		{"after=bm90LWEtY3Vyc29y", "start from the first page"},
		{"q=" + url.QueryEscape("a\x01b"), "characters that are not allowed"},
		{"q=" + strings.Repeat("x", 300), "longer than 256"},
	} {
		a := b.do("GET", "/admin/payments?"+c.query, nil)
		if a.status != 400 || !strings.Contains(a.body, `role="alert"`) || !strings.Contains(strings.ReplaceAll(a.body, "&#34;", `\"`), c.problem) {
			t.Errorf("%s: %d; want 400 with %q in %s", c.query, a.status, c.problem, paymentsProblem(a.body))
		}
		if !strings.Contains(a.body, `id="payment-filters"`) || len(listedPayments(a.body)) != 0 {
			t.Errorf("%s: the refused page lacks the form or lists payments", c.query)
		}
	}
	if a := b.do("GET", "/admin/payments?from=yesterday&provider=acme", nil); !strings.Contains(a.body, `name="from" value="yesterday"`) ||
		!strings.Contains(a.body, `name="provider" value="acme"`) {
		t.Error("the refused form is not kept as typed")
	}
	// A cursor is refused with another filter than its own.
	for range 3 {
		storetest.SeedPayment(t, e.db, "shop", "order-"+paywire.NewID(""))
	}
	first := b.do("GET", "/admin/payments?limit=2", nil)
	next := paymentsNextPage(first.body)
	if next == "" {
		t.Fatal("no next page")
	}
	if a := b.do("GET", strings.Replace(next, "limit=2", "limit=2&merchant=shop", 1), nil); a.status != 400 {
		t.Errorf("a cursor with another filter: %d", a.status)
	}
}

func paymentsProblem(body string) string {
	m := regexp.MustCompile(`role="alert">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return "(no problem shown)"
	}
	return m[1]
}

var paymentsNextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next"`)

func paymentsNextPage(body string) string {
	m := paymentsNextLink.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// TestPaymentListPages: following the next-page links walks every
// matching payment exactly once, newest first, with the filter kept; a
// payment created meanwhile neither repeats nor hides a row.
func TestPaymentListPages(t *testing.T) {
	e := paymentsEnv(t, nil)
	storetest.SeedMerchant(t, e.db, "shop")
	storetest.SeedMerchant(t, e.db, "other")
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 7 {
		// Two payments share each creation time: the id orders them.
		p := createPaymentAt(t, e.db, storetest.SeedPaymentValue("shop", "order-"+paywire.NewID("")), at.Add(time.Duration(i/2)*time.Hour))
		want = append(want, p.ID)
		createPaymentAt(t, e.db, storetest.SeedPaymentValue("other", "order-"+paywire.NewID("")), at.Add(time.Duration(i)*time.Hour))
	}
	b := e.browser()
	b.signIn("vera", "pw-vera")
	seen := map[string]int{}
	var order []string
	path := "/admin/payments?merchant=shop&limit=3"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		a := b.do("GET", path, nil)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", path, a.status, paymentsProblem(a.body))
		}
		if pages > 0 && !strings.Contains(a.body, `<a href="/admin/payments?limit=3&amp;merchant=shop" id="first-page">`) {
			t.Error("a later page has no link to the first with the filter")
		}
		for _, id := range listedPayments(a.body) {
			seen[id]++
			order = append(order, id)
		}
		if pages == 0 {
			// Created meanwhile, newer than every listed one: not on a later page.
			createPaymentAt(t, e.db, storetest.SeedPaymentValue("shop", "late"), at.Add(24*time.Hour))
		}
		path = paymentsNextPage(a.body)
		if path != "" && !strings.Contains(path, "merchant=shop") {
			t.Fatalf("the next page drops the filter: %s", path)
		}
	}
	if len(order) != len(want) {
		t.Fatalf("walked %d payments; want %d: %v", len(order), len(want), order)
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Errorf("payment %s listed %d times", id, seen[id])
		}
	}
	// Newest first: creation times never rise along the walk.
	var last time.Time
	for i, id := range order {
		p, err := e.db.Payment(context.Background(), "shop", id)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && p.CreatedAt.After(last) {
			t.Errorf("payment %d of the walk is newer than the one before", i)
		}
		last = p.CreatedAt
	}
}

// TestPaymentDetail: the detail page shows the payment with every part —
// timeline oldest first, decisions with their rules and bundle revision,
// the risk breakdown, provider attempts, notifications with their
// delivery, follow-ups — and only under its own merchant's address.
func TestPaymentDetail(t *testing.T) {
	var eng *engine.Engine
	e := newEnv(t, map[string][]string{"vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		files, err := engine.BundleFiles(policies.FS, rules.FS)
		if err != nil {
			t.Fatal(err)
		}
		eng = engine.New(2)
		if _, err := eng.Activate(context.Background(), files); err != nil {
			t.Fatal(err)
		}
		eng.Recorder = engine.StoreRecorder{Store: db}
		a.PaymentPages = admin.PaymentPages{Payments: db, ActiveBundle: eng.Active}
	})
	ctx := context.Background()
	storetest.SeedMerchant(t, e.db, "shop")
	storetest.SeedMerchant(t, e.db, "other")
	t0 := time.Now().UTC().Truncate(time.Second)
	p := createPaymentAt(t, e.db, &paywire.Payment{MerchantID: "shop", MerchantReference: "order-9", Kind: paywire.KindDeposit,
		Amount: paymentMoney(t, 4999, "EUR"), Method: paywire.MethodCard,
		Card:    paywire.CardSummary{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 3, ExpiryYear: 2030, Fingerprint: "fp"},
		EndUser: paywire.EndUser{ID: "u1", Email: "ann@example.com", Country: "DE"}}, t0)

	// A real risk decision of the default bundle, recorded by the engine.
	in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 4999, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 3, ExpiryYear: 2030, Fingerprint: "fp"},
		Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: t0},
		Features: engine.Features{CardCount1h: engine.Known(1)}}
	risk, err := eng.Risk(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// Its routing decision, with acquirer-a demoted for failing.
	if _, err := eng.Route(ctx, engine.RouteInput{PaymentID: p.ID, ProviderHealth: map[string]engine.ProviderHealth{"acquirer-a": {State: engine.HealthDemoted}},
		Request: engine.RouteRequest{MerchantID: "shop", PaymentID: p.ID, Kind: "deposit", Amount: in.Request.Amount, Method: "card",
			Customer: engine.RouteCustomer{ID: "u1", Country: "DE"}, RiskAction: "allow", Time: t0}}); err != nil {
		t.Fatal(err)
	}

	// Submitted: an attempt at acme and a status query due; then
	// authorized with the attempt approved and a capture due.
	att := paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: "shop", N: 1, Operation: paywire.OpAuthorize,
		Provider: "acme", Amount: 4999, IdempotencyKey: p.ID + "-1", Status: paywire.AttemptPending}
	c, err := p.Moved(paywire.Move{To: paywire.StatePending, Type: paywire.EventSubmitted, Source: paywire.ActorEndUser, Reason: "card details entered", At: t0.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	c.Notification = paywire.Notification(c.Payment, c.Event)
	c.Attempts = []paywire.Attempt{att}
	c.FollowUps = []paywire.FollowUp{{PaymentID: p.ID, MerchantID: "shop", Kind: paywire.FollowUpStatusQuery, AttemptID: att.ID, DueAt: t0.Add(time.Hour)}}
	if err := e.db.ApplyStateChange(ctx, c); err != nil {
		t.Fatal(err)
	}
	p, _ = e.db.Payment(ctx, "shop", p.ID)
	att.Status, att.Reference, att.Code = paywire.AttemptApproved, "acme-77", "00"
	c, err = p.Moved(paywire.Move{To: paywire.StateAuthorized, Type: paywire.EventProviderAuthorized, Source: paywire.ProviderActor("acme"), Reason: "approved", At: t0.Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	c.Notification = paywire.Notification(c.Payment, c.Event)
	c.Attempts = []paywire.Attempt{att}
	c.FollowUps = []paywire.FollowUp{{PaymentID: p.ID, MerchantID: "shop", Kind: paywire.FollowUpCapture, DueAt: t0.Add(24 * time.Hour)}}
	if err := e.db.ApplyStateChange(ctx, c); err != nil {
		t.Fatal(err)
	}
	// The creation's notification failed once.
	msgs, _ := e.db.ClaimOutbox(ctx, "w", t0.Add(time.Minute), time.Minute, 100)
	for _, m := range msgs {
		if m.PaymentID == p.ID && m.Seq == 1 {
			if err := e.db.FailedOutbox(ctx, m.ID, "w", "merchant answered 503", t0.Add(5*time.Minute), false); err != nil {
				t.Fatal(err)
			}
		}
	}

	b := e.browser()
	b.signIn("vera", "pw-vera")
	list := b.do("GET", "/admin/payments", nil)
	m := paymentLink.FindStringSubmatch(list.body)
	if m == nil || m[1] != "shop" || m[2] != p.ID {
		t.Fatalf("the list does not link to the payment: %v", m)
	}
	a := b.do("GET", "/admin/payments/shop/"+p.ID, nil)
	if a.status != 200 {
		t.Fatalf("detail: %d %s", a.status, paymentsProblem(a.body))
	}
	body := a.body
	for _, want := range []string{
		`id="summary"`, `id="timeline"`, `id="risk"`, `id="decisions"`, `id="attempts"`, `id="notifications"`, `id="follow-ups"`,
		"order-9", "49.99 EUR", "visa · BIN 401288 · last 4 1881 · expires 03/2030",
		"card details entered", "provider:acme",
		"watched_bin", risk.BundleRevision, "card_count_1h",
		"providers acquirer-b, acquirer-a", "demoted, tried last acquirer-a",
		"acme-77", p.ID + "-1", "approved",
		"merchant answered 503", "CREATED", "PENDING → AUTHORIZED",
		"status_query", "capture", "(2 due)",
		`href="/admin/assets/payments.css"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the detail page does not show %q", want)
		}
	}
	if risk.BundleRevision == "" {
		t.Error("the decision has no bundle revision")
	}
	if !regexp.MustCompile(`id="risk-score">` + strconv.Itoa(risk.Score) + `<`).MatchString(body) {
		t.Errorf("the risk score %d is not shown", risk.Score)
	}
	// The timeline is oldest first.
	created, submitted, authorized := strings.Index(body, "payment created"), strings.Index(body, "card details entered"), strings.Index(body, ">approved<")
	if created < 0 || !(created < submitted && submitted < authorized) {
		t.Errorf("timeline order: created %d, submitted %d, authorized %d", created, submitted, authorized)
	}
	// The sections come in their order, under the summary.
	last := -1
	for _, id := range []string{"summary", "timeline", "risk", "decisions", "attempts", "notifications", "follow-ups"} {
		i := strings.Index(body, `<section id="`+id+`"`)
		if i < last {
			t.Errorf("section %s out of order", id)
		}
		last = i
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("the detail page has an inline script or style")
	}

	// Only under its own merchant's address.
	for _, path := range []string{"/admin/payments/other/" + p.ID, "/admin/payments/shop/pay_nothing"} {
		if a := b.do("GET", path, nil); a.status != 404 || !strings.Contains(a.body, "not found") {
			t.Errorf("%s: %d; want 404", path, a.status)
		}
	}
	// Signed out, the page is behind the sign-in.
	if a := e.browser().do("GET", "/admin/payments/shop/"+p.ID, nil); a.status != 303 {
		t.Errorf("signed out: %d", a.status)
	}
}

// TestPaymentDetailWithoutDecisions: a payment nothing was decided about
// yet says so in each part instead of failing.
func TestPaymentDetailWithoutDecisions(t *testing.T) {
	e := paymentsEnv(t, nil)
	storetest.SeedMerchant(t, e.db, "shop")
	p := storetest.SeedPayment(t, e.db, "shop", "order-1")
	b := e.browser()
	b.signIn("root", "pw-root")
	a := b.do("GET", "/admin/payments/shop/"+p.ID, nil)
	if a.status != 200 {
		t.Fatalf("detail: %d %s", a.status, paymentsProblem(a.body))
	}
	for _, want := range []string{"No risk decision was made", "No decision is recorded", "No provider was called", "No follow-up is scheduled", "10.00 EUR"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
}

// TestPaymentPagesNotMounted: without a store the area has no pages and
// no entry in the navigation.
func TestPaymentPagesNotMounted(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}})
	b := e.browser()
	b.signIn("root", "pw-root")
	if a := b.do("GET", "/admin/payments", nil); a.status != 404 {
		t.Errorf("list without a store: %d", a.status)
	}
	if a := b.do("GET", "/admin/", nil); strings.Contains(a.body, `href="/admin/payments"`) {
		t.Error("the navigation links to payments without a store")
	}
}

// FuzzPaymentListQuery: whatever the list's address carries, the answer
// is the list (200) or the list with the problem in words (400), never a
// server error.
func FuzzPaymentListQuery(f *testing.F) {
	ctx := context.Background()
	db := storetest.NewSQLite(f)
	hash, err := credential.Hash("pw-root", credential.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	if err := db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "root", PasswordHash: hash, Roles: []string{"admin"}}); err != nil {
		f.Fatal(err)
	}
	storetest.SeedMerchant(f, db, "shop")
	storetest.SeedPayment(f, db, "shop", "order-1")
	storetest.SeedPayment(f, db, "shop", "order-2")
	r := chi.NewRouter()
	(&admin.App{Users: db, Sessions: db, Audit: db, Gate: credential.NewGate(2, time.Second),
		PaymentPages: admin.PaymentPages{Payments: db}}).Mount(r)
	srv := httptest.NewTLSServer(r)
	f.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := *srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(t testing.TB, path, rawQuery string) (int, string) {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = rawQuery
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	_, login := get(f, "/admin/login", "")
	token := csrfField.FindStringSubmatch(login)
	if token == nil {
		f.Fatal("no CSRF field on the sign-in page")
	}
	res, err := c.PostForm(srv.URL+"/admin/login", url.Values{"csrf": {token[1]}, "username": {"root"}, "password": {"pw-root"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		f.Fatalf("sign in: %v %v", res, err)
	}
	res.Body.Close()
	_, first := get(f, "/admin/payments", "limit=1")
	_, second, ok := strings.Cut(paymentsNextPage(first), "?")
	if !ok {
		f.Fatal("no next page")
	}
	for _, q := range []string{
		"", "q=order-1", "state=pending&method=card", "from=2026-11-01&to=2026-11-30", "currency=EUR&min=1.00&max=20",
		"currency=JPY&min=1.5", "min=-1&currency=EUR", "limit=201", "after=%%%", "q=%00", "state=&state=created",
		"from=0000-01-01", "to=9999-12-31", "currency=EUR&max=99999999999999999999", "merchant=" + strings.Repeat("m", 200),
		second, second + "&merchant=shop", " ", "q=a b\x7f\xff",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		status, body := get(t, "/admin/payments", wireQuery(query))
		switch {
		case status == http.StatusOK && strings.Contains(body, `id="payment-filters"`):
		case status == http.StatusBadRequest && strings.Contains(body, `role="alert"`) && strings.Contains(body, `id="payment-filters"`):
		default:
			t.Errorf("?%s: %d %s", query, status, paymentsProblem(body))
		}
	})
}

// wireQuery escapes what a browser escapes in a query (spaces, control
// characters, bytes beyond ASCII), so that the request line is one the
// server reads; malformed escapes are left for the page to handle.
func wireQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
