package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

var ctx = context.Background()

// testProvider is a provider that approves every operation and counts them.
type testProvider struct {
	mu    sync.Mutex
	calls []string
}

func (p *testProvider) Name() string { return "acquirer-a" }

func (p *testProvider) record(op string, o adapters.Operation) (adapters.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, op+" "+o.Amount.String())
	return adapters.Result{Status: adapters.Approved, Reference: "ref-" + o.IdempotencyKey}, nil
}

func (p *testProvider) Capture(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	return p.record("capture", o)
}

func (p *testProvider) Void(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	return p.record("void", o)
}

func (p *testProvider) Refund(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	return p.record("refund", o)
}

// env is a running merchant API with two merchants, shop-a and shop-b.
type env struct {
	core     *paywiretest.Env
	db       *store.DB
	srv      *httptest.Server
	provider *testProvider
}

const secretA, secretB = "secret-of-shop-a", "secret-of-shop-b"

func newEnv(t testing.TB) *env {
	t.Helper()
	prov := &testProvider{}
	core := paywiretest.New(t, paywiretest.Providers(prov), paywiretest.TokenKey([]byte("0123456789abcdef0123456789abcdef")))
	core.Merchant("shop-a", secretA)
	core.Merchant("shop-b", secretB)
	h := &api.Handler{Payments: core.Payments, Merchants: core.DB, BaseURL: "http://localhost:8080"}
	r := chi.NewRouter()
	h.Mount(r)
	srv := httptest.NewServer(http.MaxBytesHandler(r, 1<<20))
	t.Cleanup(srv.Close)
	return &env{core: core, db: core.DB, srv: srv, provider: prov}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *env) call(t *testing.T, method, path, merchant, secret string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if merchant != "" {
		req.SetBasicAuth(merchant, secret)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode, header: res.Header}
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	return out
}

func errCode(r response) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func startBody(merchant, reference string) map[string]any {
	base := "https://" + merchant + ".example/"
	return map[string]any{
		"merchantReference": reference, "kind": "DEPOSIT", "amount": "50.00", "currency": "EUR",
		"endUser": map[string]any{"id": "user-1", "email": "user@example.com", "country": "DE", "language": "de", "ip": "192.0.2.7"},
		"returnUrls": map[string]any{"success": base + "ok", "error": base + "error", "cancel": base + "cancel",
			"refused": base + "refused", "pending": base + "pending"},
	}
}

func TestJSONStartAndDetails(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, startBody("shop-a", "order-1"))
	if r.status != http.StatusCreated {
		t.Fatalf("start: %d %v", r.status, r.body)
	}
	id, _ := r.body["paymentId"].(string)
	fields, _ := r.body["postFields"].([]any)
	if id == "" || r.body["httpMethod"] != "POST" || r.body["redirectUrl"] != "http://localhost:8080/pay" || len(fields) != 1 {
		t.Fatalf("redirect %v", r.body)
	}
	token := fields[0].(map[string]any)["value"].(string)
	if _, got, err := payment.VerifyToken([]byte("0123456789abcdef0123456789abcdef"), token, timeNow()); err != nil || got != id {
		t.Errorf("token verifies to %q, %v; want %s", got, err, id)
	}

	d := e.call(t, "GET", "/api/v1/payments/"+id, "shop-a", secretA, nil)
	if d.status != http.StatusOK || d.body["state"] != "CREATED" || d.body["amount"] != "50.00" || d.body["merchantReference"] != "order-1" {
		t.Fatalf("details: %d %v", d.status, d.body)
	}
	if evs, _ := d.body["events"].([]any); len(evs) != 1 {
		t.Errorf("events %v", d.body["events"])
	}
	stored, err := e.db.Payment(ctx, "shop-a", id)
	if err != nil || stored.ReturnURLs.Success != "https://shop-a.example/ok" || stored.EndUser.Country != "DE" {
		t.Errorf("stored %+v, %v", stored, err)
	}
}

func TestJSONAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ note, merchant, secret string }{
		{"no credentials", "", ""},
		{"wrong secret", "shop-a", "nope"},
		{"another merchant's secret", "shop-a", secretB},
		{"unknown merchant", "shop-z", secretA},
	} {
		r := e.call(t, "GET", "/api/v1/payment-methods?kind=DEPOSIT&amount=10.00&currency=EUR&country=DE", c.merchant, c.secret, nil)
		if r.status != http.StatusUnauthorized || errCode(r) != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %v", c.note, r.status, r.body)
		}
	}
	if r := e.call(t, "GET", "/api/v1/openapi.json", "", "", nil); r.status != http.StatusOK {
		t.Errorf("the OpenAPI document needs no credentials: %d", r.status)
	}
}

// TestJSONTenantIsolation: a merchant can neither see nor change another
// merchant's payment, by any operation.
func TestJSONTenantIsolation(t *testing.T) {
	e := newEnv(t)
	p := e.core.Authorized("shop-a", "iso-1", "acquirer-a")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/payments/" + p.ID, ""},
		{"POST", "/api/v1/payments/" + p.ID + "/capture", "{}"},
		{"POST", "/api/v1/payments/" + p.ID + "/cancel", ""},
		{"POST", "/api/v1/payments/" + p.ID + "/refunds", `{"amount":"1.00"}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := e.call(t, c.method, c.path, "shop-b", secretB, body)
		if r.status != http.StatusNotFound || errCode(r) != "not_found" {
			t.Errorf("shop-b %s %s: %d %v", c.method, c.path, r.status, r.body)
		}
	}
	after, err := e.db.Payment(ctx, "shop-a", p.ID)
	if err != nil || after.Version != p.Version || after.State != paywire.StateAuthorized {
		t.Errorf("shop-a's payment changed: %+v, %v", after, err)
	}
	if len(e.provider.calls) != 0 {
		t.Errorf("provider called: %v", e.provider.calls)
	}
	// The same merchant reference is free for another merchant.
	if r := e.call(t, "POST", "/api/v1/payments", "shop-b", secretB, startBody("shop-b", "iso-1")); r.status != http.StatusCreated {
		t.Errorf("shop-b's own order iso-1: %d %v", r.status, r.body)
	}
}

// TestJSONIdempotentStart: 50 identical concurrent requests create one
// payment; every caller gets that payment or a clean in-progress conflict.
func TestJSONIdempotentStart(t *testing.T) {
	e := newEnv(t)
	const n = 50
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, startBody("shop-a", "race-1"), "Idempotency-Key", "race-key")
		}()
	}
	wg.Wait()
	ids := map[string]int{}
	inProgress := 0
	for _, r := range results {
		switch {
		case r.status == http.StatusCreated:
			ids[r.body["paymentId"].(string)]++
		case r.status == http.StatusConflict && errCode(r) == "in_progress":
			inProgress++
		default:
			t.Errorf("unexpected answer %d %v", r.status, r.body)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("payment ids %v; want exactly one", ids)
	}
	stored, err := e.db.PaymentByReference(ctx, "shop-a", "race-1")
	if err != nil || ids[stored.ID] == 0 {
		t.Fatalf("stored %v, %v; answers %v", stored, err, ids)
	}
	t.Logf("%d answers with the payment, %d in progress", ids[stored.ID], inProgress)

	// A retry after the first completed gets the same answer.
	again := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, startBody("shop-a", "race-1"), "Idempotency-Key", "race-key")
	if again.status != http.StatusCreated || again.body["paymentId"] != stored.ID {
		t.Errorf("replay: %d %v", again.status, again.body)
	}
	// The same key with another request is refused and executes nothing.
	other := startBody("shop-a", "race-2")
	r := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, other, "Idempotency-Key", "race-key")
	if r.status != http.StatusUnprocessableEntity || errCode(r) != "idempotency_mismatch" {
		t.Errorf("key reused: %d %v", r.status, r.body)
	}
	if _, err := e.db.PaymentByReference(ctx, "shop-a", "race-2"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("race-2 was created: %v", err)
	}
	// Without a key, the merchant reference is the key.
	first := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, startBody("shop-a", "ref-1"))
	second := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, startBody("shop-a", "ref-1"))
	if first.status != http.StatusCreated || second.status != http.StatusCreated || first.body["paymentId"] != second.body["paymentId"] {
		t.Errorf("by reference: %v / %v", first.body, second.body)
	}
	changed := startBody("shop-a", "ref-1")
	changed["amount"] = "51.00"
	if r := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, changed); r.status != http.StatusUnprocessableEntity {
		t.Errorf("same reference, other amount: %d %v", r.status, r.body)
	}
}

func TestJSONRefusedRequests(t *testing.T) {
	e := newEnv(t)
	with := func(f func(b map[string]any)) map[string]any {
		b := startBody("shop-a", "bad-1")
		f(b)
		return b
	}
	urls := func(b map[string]any) map[string]any { return b["returnUrls"].(map[string]any) }
	for _, c := range []struct {
		note   string
		body   any
		status int
		code   string
	}{
		{"return URL of another site", with(func(b map[string]any) { urls(b)["success"] = "https://evil.example/ok" }), 400, "invalid"},
		{"return URL on a look-alike host", with(func(b map[string]any) { urls(b)["success"] = "https://shop-a.example.evil.example/ok" }), 400, "invalid"},
		{"plain http", with(func(b map[string]any) { urls(b)["cancel"] = "http://shop-a.example/cancel" }), 400, "invalid"},
		{"http on localhost for a merchant not allowed it", with(func(b map[string]any) { urls(b)["cancel"] = "http://localhost/cancel" }), 400, "invalid"},
		{"missing return URL", with(func(b map[string]any) { delete(urls(b), "pending") }), 400, "invalid"},
		{"too many decimals", with(func(b map[string]any) { b["amount"] = "50.001" }), 400, "invalid"},
		{"unknown currency", with(func(b map[string]any) { b["currency"] = "XYZ" }), 400, "invalid"},
		{"unknown kind", with(func(b map[string]any) { b["kind"] = "GIFT" }), 400, "invalid"},
		{"unknown field", with(func(b map[string]any) { b["colour"] = "red" }), 400, "invalid"},
		{"not JSON", "{", 400, "invalid"},
		{"over a MiB", `{"merchantReference":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "too_large"},
	} {
		r := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, c.body)
		if r.status != c.status || errCode(r) != c.code {
			t.Errorf("%s: %d %v; want %d %s", c.note, r.status, r.body, c.status, c.code)
		}
	}
	if _, err := e.db.PaymentByReference(ctx, "shop-a", "bad-1"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("a refused request stored a payment: %v", err)
	}
}

func TestJSONCaptureRefundCancel(t *testing.T) {
	e := newEnv(t)
	p := e.core.Authorized("shop-a", "cap-1", "acquirer-a")
	path := "/api/v1/payments/" + p.ID

	if r := e.call(t, "POST", path+"/capture", "shop-a", secretA, `{"amount":"20.00"}`); r.status != 400 {
		t.Errorf("capture above the authorization: %d %v", r.status, r.body)
	}
	r := e.call(t, "POST", path+"/capture", "shop-a", secretA, nil, "Idempotency-Key", "cap-key")
	if r.status != 200 || r.body["state"] != "COMPLETED" || r.body["capturedAmount"] != "10.00" {
		t.Fatalf("capture: %d %v", r.status, r.body)
	}
	if r := e.call(t, "POST", path+"/capture", "shop-a", secretA, nil, "Idempotency-Key", "cap-key"); r.status != 200 || r.body["version"] != float64(4) {
		t.Errorf("capture replay: %d %v", r.status, r.body)
	}
	if r := e.call(t, "POST", path+"/capture", "shop-a", secretA, nil); r.status != 409 || errCode(r) != "illegal_transition" {
		t.Errorf("second capture: %d %v", r.status, r.body)
	}
	if r := e.call(t, "POST", path+"/refunds", "shop-a", secretA, `{"amount":"3.00"}`); r.status != 201 || r.body["state"] != "PARTIALLY_REFUNDED" || r.body["refundedAmount"] != "3.00" {
		t.Fatalf("partial refund: %d %v", r.status, r.body)
	}
	if r := e.call(t, "POST", path+"/refunds", "shop-a", secretA, `{"amount":"7.01"}`); r.status != 400 {
		t.Errorf("refund above what is left: %d %v", r.status, r.body)
	}
	if r := e.call(t, "POST", path+"/refunds", "shop-a", secretA, `{"amount":"7.00"}`); r.status != 201 || r.body["state"] != "REFUNDED" {
		t.Fatalf("final refund: %d %v", r.status, r.body)
	}
	want := []string{"capture 10.00 EUR", "refund 3.00 EUR", "refund 7.00 EUR"}
	if strings.Join(e.provider.calls, ",") != strings.Join(want, ",") {
		t.Errorf("provider calls %v; want %v", e.provider.calls, want)
	}
	d := e.call(t, "GET", path, "shop-a", secretA, nil)
	if evs, _ := d.body["events"].([]any); len(evs) != 6 {
		t.Errorf("history %v", d.body["events"])
	}

	// Cancelling: a payment not yet paid is cancelled without the provider;
	// an authorization is voided at the provider.
	created := storetest.SeedPayment(t, e.db, "shop-a", "can-1")
	if r := e.call(t, "POST", "/api/v1/payments/"+created.ID+"/cancel", "shop-a", secretA, nil); r.status != 200 || r.body["state"] != "CANCELLED" {
		t.Errorf("cancel: %d %v", r.status, r.body)
	}
	auth := e.core.Authorized("shop-a", "can-2", "acquirer-a")
	if r := e.call(t, "POST", "/api/v1/payments/"+auth.ID+"/cancel", "shop-a", secretA, nil); r.status != 200 || r.body["state"] != "CANCELLED" {
		t.Errorf("void: %d %v", r.status, r.body)
	}
	if last := e.provider.calls[len(e.provider.calls)-1]; last != "void 10.00 EUR" {
		t.Errorf("last provider call %q", last)
	}
	if r := e.call(t, "POST", "/api/v1/payments/"+created.ID+"/capture", "shop-a", secretA, nil); r.status != 409 {
		t.Errorf("capture of a cancelled payment: %d %v", r.status, r.body)
	}
}

func TestJSONPaymentMethods(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, "GET", "/api/v1/payment-methods?kind=DEPOSIT&amount=50.00&currency=EUR&country=DE", "shop-a", secretA, nil)
	ms, _ := r.body["methods"].([]any)
	if r.status != 200 || len(ms) == 0 {
		t.Fatalf("methods: %d %v", r.status, r.body)
	}
	for _, m := range ms {
		mm := m.(map[string]any)
		if mm["method"] == "" || mm["minAmount"] == "" || mm["maxAmount"] == "" {
			t.Errorf("method %v", mm)
		}
	}
	if r := e.call(t, "GET", "/api/v1/payment-methods?kind=DEPOSIT&amount=50.00&currency=EUR&country=germany", "shop-a", secretA, nil); r.status != 400 {
		t.Errorf("bad country: %d %v", r.status, r.body)
	}
}

func timeNow() time.Time { return time.Now() }

// payerProvider takes backend payments with a fixed answer per call.
type payerProvider struct {
	name    string
	answers []adapters.Status
	calls   int
}

func (p *payerProvider) Name() string { return p.name }

func (p *payerProvider) Pay(_ context.Context, pm adapters.Payment) (adapters.Result, error) {
	st := p.answers[min(p.calls, len(p.answers)-1)]
	p.calls++
	return adapters.Result{Status: st, Reference: p.name + "-" + pm.IdempotencyKey}, nil
}

func TestJSONBackendPayment(t *testing.T) {
	e := newEnv(t)
	src := e.core.Authorized("shop-a", "dep-1", "acquirer-a")
	body := func(ref, source string) map[string]any {
		return map[string]any{
			"merchantReference": ref, "kind": "DEPOSIT", "amount": "50.00", "currency": "EUR",
			"endUser":       map[string]any{"id": "u1", "country": "DE", "email": "user@example.com"},
			"paymentMethod": "card", "sourcePaymentId": source,
		}
	}
	// No provider of the route takes backend payments: the payment fails,
	// with its history saying so.
	r := e.call(t, "POST", "/api/v1/backend-payments", "shop-a", secretA, body("wd-1", src.ID))
	if r.status != http.StatusCreated || r.body["state"] != "FAILED" || r.body["paymentMethod"] != "card" {
		t.Fatalf("backend payment without a payer: %d %v", r.status, r.body)
	}
	for _, c := range []struct {
		note, source string
		code         string
	}{
		{"unknown source", "pay_nothing", "invalid"},
		{"no source", "", "invalid"},
	} {
		if r := e.call(t, "POST", "/api/v1/backend-payments", "shop-a", secretA, body("wd-x", c.source)); r.status != 400 || errCode(r) != c.code {
			t.Errorf("%s: %d %v", c.note, r.status, r.body)
		}
	}
	// Another merchant cannot reuse shop-a's payment.
	if r := e.call(t, "POST", "/api/v1/backend-payments", "shop-b", secretB, body("wd-b", src.ID)); r.status != 400 {
		t.Errorf("shop-b with shop-a's source: %d %v", r.status, r.body)
	}
}

func TestJSONNotifications(t *testing.T) {
	e := newEnv(t)
	p := storetest.SeedPayment(t, e.db, "shop-a", "n-1")
	now := time.Now().Add(time.Minute)
	claimed, err := e.db.ClaimOutbox(ctx, "test-worker", now, time.Minute, 100)
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	for _, m := range claimed {
		if err := e.db.FailedOutbox(ctx, m.ID, "test-worker", "merchant answered 503", now.Add(time.Hour), m.PaymentID == p.ID); err != nil {
			t.Fatal(err)
		}
	}
	r := e.call(t, "GET", "/api/v1/notifications?status=undelivered", "shop-a", secretA, nil)
	list, _ := r.body["notifications"].([]any)
	if r.status != 200 || len(list) != 1 {
		t.Fatalf("list: %d %v", r.status, r.body)
	}
	n := list[0].(map[string]any)
	payload, _ := n["payload"].(map[string]any)
	if n["paymentId"] != p.ID || n["status"] != "dead" || n["lastError"] != "merchant answered 503" || payload["newState"] != "CREATED" {
		t.Errorf("notification %v", n)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-b", secretB, nil); len(r.body["notifications"].([]any)) != 0 {
		t.Errorf("shop-b sees shop-a's notifications: %v", r.body)
	}
	id := strconv.FormatInt(int64(n["id"].(float64)), 10)
	if r := e.call(t, "POST", "/api/v1/notifications/"+id+"/resend", "shop-b", secretB, nil); r.status != 404 {
		t.Errorf("shop-b resends shop-a's notification: %d", r.status)
	}
	if r := e.call(t, "POST", "/api/v1/notifications/"+id+"/resend", "shop-a", secretA, nil); r.status != 202 {
		t.Fatalf("resend: %d %v", r.status, r.body)
	}
	due, _ := e.db.ClaimOutbox(ctx, "test-worker", time.Now().Add(time.Second), time.Minute, 100)
	if len(due) != 1 || due[0].PaymentID != p.ID {
		t.Errorf("after the resend, due: %+v", due)
	}
	if r := e.call(t, "GET", "/api/v1/notifications?status=delivered", "shop-a", secretA, nil); r.status != 400 {
		t.Errorf("status=delivered: %d", r.status)
	}
}
