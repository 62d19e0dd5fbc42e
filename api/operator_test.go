package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/paywiretest"
)

const operatorToken = "operator-token-for-tests"

// operatorEnv serves the merchant API and the operator API on one router.
func operatorEnv(t *testing.T, token string) (*httptest.Server, *paywiretest.Env) {
	t.Helper()
	core := paywiretest.New(t)
	k, _ := credential.NewKeyed(credential.DevelopmentKey)
	r := chi.NewRouter()
	(&api.Handler{Payments: core.Payments, Merchants: core.DB, BaseURL: "http://localhost"}).Mount(r)
	(&api.Operator{Credentials: &credential.Manager{Merchants: core.DB, Audit: core.DB, Keyed: k, Now: core.Clock.Now},
		Merchants: core.DB, Token: token}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, core
}

func operatorCall(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func merchantStatus(t *testing.T, srv *httptest.Server, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/notifications", nil)
	req.SetBasicAuth(id, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestOperatorAPI(t *testing.T) {
	srv, _ := operatorEnv(t, operatorToken)
	for _, tok := range []string{"", "wrong", operatorToken + "x"} {
		if st, _ := operatorCall(t, srv, tok, "GET", "/api/v1/operator/merchants", ""); st != 401 {
			t.Errorf("token %q: %d", tok, st)
		}
	}
	st, created := operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants",
		`{"id": "shop", "name": "Shop", "returnUrlPrefixes": ["https://shop.example/return/"], "notificationUrl": "https://shop.example/notify", "notificationFormat": "json"}`)
	if st != 201 {
		t.Fatalf("create: %d %v", st, created)
	}
	secret, _ := created["secret"].(string)
	first := created["credential"].(map[string]any)["id"].(string)
	if !strings.HasPrefix(secret, "pw_live_") || created["signingSecret"] == "" {
		t.Fatalf("create answered %v", created)
	}
	if st := merchantStatus(t, srv, "shop", secret); st != 200 {
		t.Fatalf("the new merchant's secret: %d", st)
	}
	for _, bad := range []string{
		`{"id": "shop", "name": "Again", "returnUrlPrefixes": ["https://shop.example/"]}`,
		`{"id": "other", "name": "Other", "returnUrlPrefixes": ["http://other.example/"]}`,
		`{"id": "other", "name": "Other", "returnUrlPrefixes": ["https://other.example/a/../b/"]}`,
		`{"id": "other", "name": "Other", "unknown": 1}`,
	} {
		if st, body := operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants", bad); st != 409 && st != 400 {
			t.Errorf("%s: %d %v", bad, st, body)
		}
	}

	st, rotated := operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants/shop/credentials/"+first+"/rotate", `{"overlap": "1h"}`)
	if st != 201 {
		t.Fatalf("rotate: %d %v", st, rotated)
	}
	next, _ := rotated["secret"].(string)
	if merchantStatus(t, srv, "shop", secret) != 200 || merchantStatus(t, srv, "shop", next) != 200 {
		t.Error("during the overlap both secrets must work")
	}
	st, list := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/merchants/shop/credentials", "")
	raw, _ := json.Marshal(list)
	if st != 200 || len(list["credentials"].([]any)) != 2 || strings.Contains(string(raw), secret) || strings.Contains(string(raw), "hmac") {
		t.Errorf("list: %d %s", st, raw)
	}
	if st, _ := operatorCall(t, srv, operatorToken, "DELETE", "/api/v1/operator/merchants/shop/credentials/"+first, ""); st != 204 {
		t.Errorf("revoke: %d", st)
	}
	if merchantStatus(t, srv, "shop", secret) != 401 || merchantStatus(t, srv, "shop", next) != 200 {
		t.Error("after revocation the old secret must fail and the new one work")
	}
	if st, _ := operatorCall(t, srv, operatorToken, "DELETE", "/api/v1/operator/merchants/shop/credentials/"+first, ""); st != 404 {
		t.Errorf("revoking twice: %d", st)
	}
}

func TestOperatorAPIOffWithoutToken(t *testing.T) {
	srv, _ := operatorEnv(t, "")
	if st, _ := operatorCall(t, srv, "", "GET", "/api/v1/operator/merchants", ""); st != 404 && st != 405 {
		t.Errorf("without a configured token the operator API answers %d", st)
	}
}
