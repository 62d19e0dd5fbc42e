package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/api/soap"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/paywiretest"
)

// newLimitedEnv is newEnv with the given authentication limits.
func newLimitedEnv(t *testing.T, limits api.AuthLimits) *env {
	t.Helper()
	prov := &testProvider{}
	core := paywiretest.New(t, paywiretest.Providers(prov), paywiretest.TokenKey([]byte("0123456789abcdef0123456789abcdef")))
	core.Merchant("shop-a", secretA)
	core.Merchant("shop-b", secretB)
	h := &api.Handler{Payments: core.Payments, Merchants: core.DB, BaseURL: "http://localhost:8080", AuthLimits: limits}
	r := chi.NewRouter()
	h.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{core: core, db: core.DB, srv: srv, provider: prov}
}

func TestArgon2CredentialMigratedOnFirstUse(t *testing.T) {
	e := newEnv(t)
	before, _ := e.db.MerchantCredentials(ctx, "shop-a")
	if len(before) != 1 || credential.IsKeyed(before[0].SecretHash) {
		t.Fatalf("set-up: %+v", before)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", "wrong", nil); r.status != 401 {
		t.Fatalf("wrong secret: %d", r.status)
	}
	if after, _ := e.db.MerchantCredentials(ctx, "shop-a"); after[0].SecretHash != before[0].SecretHash {
		t.Fatal("a wrong secret changed the stored hash")
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", secretA, nil); r.status != 200 {
		t.Fatalf("right secret: %d %v", r.status, r.body)
	}
	after, _ := e.db.MerchantCredentials(ctx, "shop-a")
	if len(after) != 1 || after[0].ID != before[0].ID || !credential.IsKeyed(after[0].SecretHash) {
		t.Fatalf("after first use the credential is %+v; want its hash keyed", after)
	}
	for _, c := range []struct {
		secret string
		status int
	}{{secretA, 200}, {"wrong", 401}, {"", 401}} {
		if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", c.secret, nil); r.status != c.status {
			t.Errorf("after migration, secret %q: %d, want %d", c.secret, r.status, c.status)
		}
	}
}

func TestKeyedCredential(t *testing.T) {
	e := newEnv(t)
	k, _ := credential.NewKeyed(credential.DevelopmentKey)
	secret := credential.NewAPISecret()
	if err := e.db.AddMerchantCredential(ctx, &paywire.MerchantCredential{MerchantID: "shop-b", SecretHash: k.Hash(secret)}); err != nil {
		t.Fatal(err)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-b", secret, nil); r.status != 200 {
		t.Errorf("new secret: %d %v", r.status, r.body)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", secret, nil); r.status != 401 {
		t.Errorf("shop-b's secret as shop-a: %d", r.status)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-b", secretB, nil); r.status != 200 {
		t.Errorf("the older secret: %d", r.status)
	}
}

func TestFailedAuthenticationsLimitedPerAddress(t *testing.T) {
	e := newLimitedEnv(t, api.AuthLimits{PerAddress: 3, PerMerchant: 100})
	for i := 0; i < 3; i++ {
		if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", "wrong", nil); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	for _, secret := range []string{"wrong", secretA} {
		r := e.call(t, "GET", "/api/v1/notifications", "shop-b", secret, nil)
		if r.status != 429 || r.header.Get("Retry-After") == "" || errCode(r) != paywire.ETOOMANY {
			t.Errorf("after 3 failures from one address, secret %q: %d, Retry-After %q, %v", secret, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	// SOAP answers a stable fault code.
	r := e.soap(t, soap.V11, "", wsse("shop-a", secretA), `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>pay_x</paymentId></getPaymentDetails>`)
	if r.fault() != "TOO_MANY_REQUESTS" {
		t.Errorf("SOAP after the limit: %s", r.raw)
	}
}

func TestFailedAuthenticationsLimitedPerMerchant(t *testing.T) {
	e := newLimitedEnv(t, api.AuthLimits{PerAddress: 1000, PerMerchant: 3})
	for i := 0; i < 3; i++ {
		if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", "wrong", nil); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", "wrong", nil); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("a 4th wrong secret for shop-a: %d %v", r.status, r.header)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-b", "wrong", nil); r.status != 401 {
		t.Errorf("shop-b is not limited by shop-a's failures: %d", r.status)
	}
	// An unknown id is limited as a known one is, so 429 tells nothing.
	for i := 0; i < 3; i++ {
		e.call(t, "GET", "/api/v1/notifications", "nobody", "wrong", nil)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "nobody", "wrong", nil); r.status != 429 {
		t.Errorf("a 4th wrong secret for an unknown id: %d", r.status)
	}
}

func TestLimitedMerchantKeepsKeyedSecrets(t *testing.T) {
	e := newLimitedEnv(t, api.AuthLimits{PerAddress: 1000, PerMerchant: 2})
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", secretA, nil); r.status != 200 { // migrates to a keyed hash
		t.Fatal(r.status)
	}
	for i := 0; i < 3; i++ {
		e.call(t, "GET", "/api/v1/notifications", "shop-a", "wrong", nil)
	}
	if r := e.call(t, "GET", "/api/v1/notifications", "shop-a", secretA, nil); r.status != 200 {
		t.Errorf("an attacker's failures locked the merchant out: %d", r.status)
	}
}

// soapBoth sends a SOAP request with a WS-Security token and HTTP Basic.
func soapBoth(t *testing.T, e *env, token, basic [2]string) string {
	t.Helper()
	body := envelope(soap.V11, wsse(token[0], token[1]), `<getAvailablePaymentMethods xmlns="urn:paywire:payment:1"><kind>DEPOSIT</kind><amount>10.00</amount><currency>EUR</currency><country>DE</country></getAvailablePaymentMethods>`)
	req, _ := http.NewRequest("POST", e.srv.URL+"/soap/PaymentService", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.SetBasicAuth(basic[0], basic[1])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return string(raw)
}

func TestSOAPTokenAndBasicMustAgree(t *testing.T) {
	e := newEnv(t)
	a, b := [2]string{"shop-a", secretA}, [2]string{"shop-b", secretB}
	for _, c := range []struct {
		note         string
		token, basic [2]string
		ok           bool
	}{
		{"both right, one merchant", a, a, true},
		{"Basic names another merchant", a, b, false},
		{"Basic names an unknown user", a, [2]string{"evil", "x"}, false},
		{"wrong Basic secret, right token", a, [2]string{"shop-a", "wrong"}, false},
		{"right Basic, wrong token secret", [2]string{"shop-a", "wrong"}, a, false},
	} {
		raw := soapBoth(t, e, c.token, c.basic)
		fault := strings.Contains(raw, "<pw:code>AUTHENTICATION_FAILED</pw:code>")
		if c.ok == fault || (c.ok && strings.Contains(raw, "Fault")) {
			t.Errorf("%s: %s", c.note, raw)
		}
	}
}
