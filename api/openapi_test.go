package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/paywiretest"
)

// The tests in this file hold api/openapi.json to what the JSON API does:
// the document is valid, documents exactly the routes served, and real
// responses (and the requests that caused them) match it.

const specMerchant, specSecret = "shop", "secret-of-shop"

// specServer is the merchant API on a real listener, backed by SQLite, the
// default policy bundle and a provider that approves every operation.
type specServer struct {
	core   *paywiretest.Env
	router chi.Router
	srv    *httptest.Server
	doc    *openapi3.T
	routes routers.Router
}

// approvingProvider pays, captures, voids and refunds whatever it is asked
// to.
type approvingProvider struct{}

func (approvingProvider) Name() string { return "acquirer-a" }

func (approvingProvider) Capture(context.Context, adapters.Operation) (adapters.Result, error) {
	return adapters.Result{Status: adapters.Approved}, nil
}

func (approvingProvider) Void(context.Context, adapters.Operation) (adapters.Result, error) {
	return adapters.Result{Status: adapters.Approved}, nil
}

func (approvingProvider) Refund(context.Context, adapters.Operation) (adapters.Result, error) {
	return adapters.Result{Status: adapters.Approved}, nil
}

func (approvingProvider) Pay(context.Context, adapters.Payment) (adapters.Result, error) {
	return adapters.Result{Status: adapters.Approved, Reference: "pay-1"}, nil
}

func newSpecServer(t *testing.T) *specServer {
	t.Helper()
	core := paywiretest.New(t, paywiretest.Providers(approvingProvider{}))
	core.Merchant(specMerchant, specSecret) // return URLs under https://shop.example/
	h := &Handler{Payments: core.Payments, Merchants: core.DB, BaseURL: "http://localhost:8080"}
	r := chi.NewRouter()
	h.Mount(r)
	// cmd/paywire limits bodies to 1 MiB by default; so does this server.
	srv := httptest.NewServer(http.MaxBytesHandler(r, 1<<20))
	t.Cleanup(srv.Close)
	s := &specServer{core: core, router: r, srv: srv}
	s.doc, s.routes = s.loadSpec(t)
	return s
}

// loadSpec reads the document from the API itself, validates it and
// returns it with a router that finds its operations.
func (s *specServer) loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	res, err := http.Get(s.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %s, Content-Type %q", res.Status, res.Header.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	loader.Context = t.Context()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("loading the served document: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// servedRoutes returns the routes the API serves under /api/v1, as
// "METHOD /pattern".
func servedRoutes(t *testing.T, r chi.Router) map[string]bool {
	t.Helper()
	served := map[string]bool{}
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/v1/") {
			served[method+" "+route] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return served
}

// compareRoutes returns the served routes the document lacks and the
// documented operations nobody serves, sorted. chi and OpenAPI both write
// path parameters as {name}, so the patterns compare as text.
func compareRoutes(doc *openapi3.T, served map[string]bool) (undocumented, unserved []string) {
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for r := range served {
		if !documented[r] {
			undocumented = append(undocumented, r)
		}
	}
	for r := range documented {
		if !served[r] {
			unserved = append(unserved, r)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unserved)
	return undocumented, unserved
}

func TestOpenAPIRoutes(t *testing.T) {
	s := newSpecServer(t)
	served := servedRoutes(t, s.router)
	if len(served) == 0 {
		t.Fatal("the router serves nothing under /api/v1/")
	}
	undocumented, unserved := compareRoutes(s.doc, served)
	for _, r := range undocumented {
		t.Errorf("%s is served but not in api/openapi.json", r)
	}
	for _, r := range unserved {
		t.Errorf("%s is in api/openapi.json but not served", r)
	}

	// The security the document declares is the one the server enforces:
	// without credentials, an operation that needs them is refused with 401
	// and one that does not is answered.
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			security := s.doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			req, err := http.NewRequest(method, s.srv.URL+strings.ReplaceAll(path, "{id}", "pay_unknown"), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if refused := res.StatusCode == http.StatusUnauthorized; refused != (len(security) > 0) {
				t.Errorf("%s %s without credentials: %s, but the document's security is %v", method, path, res.Status, security)
			}
		}
	}
}

// TestOpenAPIRouteComparison shows that TestOpenAPIRoutes notices a
// document that drifted from the router either way.
func TestOpenAPIRouteComparison(t *testing.T) {
	s := newSpecServer(t)
	served := servedRoutes(t, s.router)
	doc, _ := s.loadSpec(t) // a copy of the document to change
	doc.Paths.Delete("/api/v1/payment-methods")
	doc.Paths.Set("/api/v1/payouts", &openapi3.PathItem{Post: &openapi3.Operation{OperationID: "createPayout"}})
	undocumented, unserved := compareRoutes(doc, served)
	if !slices.Contains(undocumented, "GET /api/v1/payment-methods") {
		t.Errorf("a served route missing from the document went unnoticed: undocumented = %q", undocumented)
	}
	if !slices.Contains(unserved, "POST /api/v1/payouts") {
		t.Errorf("a documented operation nobody serves went unnoticed: unserved = %q", unserved)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	s := newSpecServer(t)
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if method != http.MethodPost {
				continue
			}
			p := op.Parameters.GetByInAndName(openapi3.ParameterInHeader, "Idempotency-Key")
			if p == nil {
				t.Errorf("%s %s does not document the Idempotency-Key header", method, path)
			} else if p.Required {
				t.Errorf("%s %s: the Idempotency-Key header is optional, the document requires it", method, path)
			}
		}
	}
}

// TestOpenAPIErrorCodes checks the documented error codes against the
// one error table (paywire.Classify): every code the document gives under a status maps to
// that status, and every code of the table is documented under its status.
func TestOpenAPIErrorCodes(t *testing.T) {
	s := newSpecServer(t)
	documented := map[string]bool{} // "409 in_progress"
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, ref := range op.Responses.Map() {
				code, err := strconv.Atoi(status)
				if err != nil || code < 400 {
					continue
				}
				mt := ref.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil {
					t.Errorf("%s %s: response %s has no JSON error body", method, path, status)
					continue
				}
				codes := documentedErrorCodes(mt.Schema.Value)
				if len(codes) == 0 {
					t.Errorf("%s %s: response %s lists no error codes", method, path, status)
				}
				for _, c := range codes {
					documented[status+" "+c] = true
					if class, ok := errorClass(c); !ok || class.HTTPStatus != code {
						t.Errorf("%s %s: the document gives code %q under %s; the error table maps it to %d", method, path, c, status, class.HTTPStatus)
					}
				}
			}
		}
	}
	// Codes of the error table that the merchant API never answers with:
	// expired links are the hosted pages', forbidden is the back office's.
	notAPI := map[string]bool{paywire.EEXPIRED: true, paywire.EFORBIDDEN: true}
	for _, c := range paywire.ErrorCodes() {
		class, _ := errorClass(c)
		if !notAPI[c] && !documented[strconv.Itoa(class.HTTPStatus)+" "+c] {
			t.Errorf("code %q (%d in the error table) is documented under no operation", c, class.HTTPStatus)
		}
	}
	var all []string
	for _, v := range s.doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value.Enum {
		all = append(all, fmt.Sprint(v))
	}
	table := paywire.ErrorCodes()
	slices.Sort(all)
	slices.Sort(table)
	if !slices.Equal(all, table) {
		t.Errorf("the Error schema lists codes %q, the error table %q", all, table)
	}
}

// errorClass returns the class the error table gives code, and whether
// the table knows it (Classify makes an unknown code internal).
func errorClass(code string) (paywire.ErrorClass, bool) {
	got, class, _ := paywire.Classify(paywire.Errorf(code, "x"))
	return class, got == code
}

// errorCodes returns the codes an error body schema allows at error.code:
// the intersection of the enums there in the schema and its allOf parts.
func documentedErrorCodes(s *openapi3.Schema) []string {
	var allowed []string
	parts := []*openapi3.Schema{s}
	for _, p := range s.AllOf {
		parts = append(parts, p.Value)
	}
	first := true
	for _, p := range parts {
		e := p.Properties["error"]
		if e == nil || e.Value == nil || e.Value.Properties["code"] == nil {
			continue
		}
		var enum []string
		for _, v := range e.Value.Properties["code"].Value.Enum {
			enum = append(enum, fmt.Sprint(v))
		}
		if len(enum) == 0 {
			continue
		}
		if first {
			allowed, first = enum, false
			continue
		}
		allowed = slices.DeleteFunc(allowed, func(c string) bool { return !slices.Contains(enum, c) })
	}
	return allowed
}

// specCall is one request to the API, with what it must get.
type specCall struct {
	method, path, body string
	key                string // the Idempotency-Key header, if any
	secret             string // specSecret when empty; "-" sends no credentials
	status             int
	code               string // the error code, for errors
	// docRejects says the request breaks the document, so that request
	// validation must refuse it: the document and the server agree on it.
	docRejects bool
}

func (c specCall) request(t *testing.T, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
	}
	switch c.secret {
	case "":
		req.SetBasicAuth(specMerchant, specSecret)
	case "-":
	default:
		req.SetBasicAuth(specMerchant, c.secret)
	}
	return req
}

// requireBasicAuth is the document's merchantBasic scheme as request
// validation sees it: credentials must be present (whether they are right
// is the server's business).
func requireBasicAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if _, _, ok := in.RequestValidationInput.Request.BasicAuth(); !ok {
		return errors.New("no HTTP Basic credentials")
	}
	return nil
}

// call validates c's request against the document, sends it, checks the
// status and error code, validates the response against the document and
// returns its decoded body.
func (s *specServer) call(t *testing.T, c specCall) map[string]any {
	t.Helper()
	name := c.method + " " + c.path
	req := c.request(t, s.srv.URL)
	route, params, err := s.routes.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: the document has no such operation: %v", name, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: requireBasicAuth, MultiError: true}}
	if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil && !c.docRejects {
		t.Errorf("%s: the document refuses the request: %v", name, err)
	} else if err == nil && c.docRejects {
		t.Errorf("%s: the document accepts a request the server refuses", name)
	}

	res, err := http.DefaultClient.Do(c.request(t, s.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s: %s, body is not a JSON object: %q", name, res.Status, raw)
	}
	if res.StatusCode != c.status {
		t.Errorf("%s: %s %s, want %d", name, res.Status, raw, c.status)
	}
	if e, _ := body["error"].(map[string]any); c.code != "" && e["code"] != c.code {
		t.Errorf("%s: error %v, want code %q", name, body["error"], c.code)
	}

	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(raw)
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("%s: the response does not match the document: %v\n%s", name, err, raw)
	}
	if ref := route.Operation.Responses.Status(res.StatusCode); ref != nil {
		if mt := ref.Value.Content.Get(res.Header.Get("Content-Type")); mt != nil && mt.Schema != nil {
			for _, f := range undocumentedFields(mt.Schema.Value, body, "") {
				t.Errorf("%s: the response has %s, which the document does not describe", name, f)
			}
		}
	}
	return body
}

// undocumentedFields returns the fields of v that schema s does not describe.
// The document does not forbid unknown fields (clients must ignore them),
// so response validation alone would not notice a field the server added.
func undocumentedFields(s *openapi3.Schema, v any, at string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if len(s.Properties) == 0 && len(s.AllOf) == 0 {
			return nil // a free-form object
		}
		for k, x := range v {
			p := schemaProperty(s, k)
			if p == nil {
				out = append(out, at+"."+k)
				continue
			}
			out = append(out, undocumentedFields(p, x, at+"."+k)...)
		}
	case []any:
		if s.Items != nil {
			for i, x := range v {
				out = append(out, undocumentedFields(s.Items.Value, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

func schemaProperty(s *openapi3.Schema, name string) *openapi3.Schema {
	if p := s.Properties[name]; p != nil && p.Value != nil {
		return p.Value
	}
	for _, part := range s.AllOf {
		if p := schemaProperty(part.Value, name); p != nil {
			return p
		}
	}
	return nil
}

func depositBody(reference, amount, currency, successURL string) string {
	b, _ := json.Marshal(map[string]any{
		"merchantReference": reference, "kind": "DEPOSIT", "amount": amount, "currency": currency,
		"endUser": map[string]any{"id": "customer-881", "email": "anna@example.com", "country": "DE", "language": "de", "ip": "192.0.2.7"},
		"returnUrls": map[string]any{
			"success": successURL, "error": "https://shop.example/checkout/error", "cancel": "https://shop.example/checkout/cancel",
			"refused": "https://shop.example/checkout/refused", "pending": "https://shop.example/checkout/pending",
		},
	})
	return string(b)
}

// withEndUser returns a JSON body with fields added to its endUser.
func withEndUser(t *testing.T, body string, fields map[string]any) string {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	u := b["endUser"].(map[string]any)
	for k, v := range fields {
		u[k] = v
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestOpenAPIEndUserFacts: the document and the server agree on the end
// user's optional facts.
func TestOpenAPIEndUserFacts(t *testing.T) {
	s := newSpecServer(t)
	const success = "https://shop.example/checkout/success"
	for i, c := range []struct {
		fields     map[string]any
		status     int
		docRejects bool
	}{
		{map[string]any{"deviceId": "dev-7f3a9c21", "billingCountry": "AT", "registeredAt": "2024-07-15T11:30:00+02:00"}, 201, false},
		{map[string]any{"registeredAt": "2024-07-15"}, 400, true},
		{map[string]any{"registeredAt": "2024-07-15T09:30:00"}, 400, true},
		{map[string]any{"billingCountry": "at"}, 400, true},
		{map[string]any{"deviceId": strings.Repeat("d", 129)}, 400, true},
		// The future is the server's to know, not the document's.
		{map[string]any{"registeredAt": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}, 400, false},
	} {
		call := specCall{method: "POST", path: "/api/v1/payments", status: c.status, docRejects: c.docRejects,
			body: withEndUser(t, depositBody("facts-"+strconv.Itoa(i), "50.00", "EUR", success), c.fields)}
		if c.status != 201 {
			call.code = paywire.EINVALID
		}
		s.call(t, call)
	}
}

// TestOpenAPIResponses drives every operation through success and error
// answers and checks requests and responses against the document.
func TestOpenAPIResponses(t *testing.T) {
	s := newSpecServer(t)
	const success = "https://shop.example/checkout/success"
	deposit := depositBody("order-1", "50.00", "EUR", success)

	redirect := s.call(t, specCall{method: "POST", path: "/api/v1/payments", body: deposit, key: "order-1-a", status: 201})
	id, _ := redirect["paymentId"].(string)
	if id == "" {
		t.Fatalf("no paymentId in %v", redirect)
	}
	again := s.call(t, specCall{method: "POST", path: "/api/v1/payments", body: deposit, key: "order-1-a", status: 201})
	if !reflect.DeepEqual(again, redirect) {
		t.Errorf("a retry with the same key got %v, the first request %v", again, redirect)
	}
	// Without the header, the merchant reference is the key.
	byReference := depositBody("order-6", "50.00", "EUR", success)
	first := s.call(t, specCall{method: "POST", path: "/api/v1/payments", body: byReference, status: 201})
	if again := s.call(t, specCall{method: "POST", path: "/api/v1/payments", body: byReference, status: 201}); !reflect.DeepEqual(again, first) {
		t.Errorf("a retry with the same merchant reference got %v, the first request %v", again, first)
	}

	for _, c := range []specCall{
		{method: "POST", path: "/api/v1/payments", body: depositBody("order-1", "60.00", "EUR", success), key: "order-1-a",
			status: 422, code: paywire.EIDEMPOTENCY},
		{method: "POST", path: "/api/v1/payments", body: deposit, key: "order-1-b", status: 409, code: paywire.ECONFLICT},
		{method: "POST", path: "/api/v1/payments", body: depositBody("order-6", "70.00", "EUR", success),
			status: 422, code: paywire.EIDEMPOTENCY},
		{method: "POST", path: "/api/v1/payments", body: depositBody("order-2", "50.00", "eur", success),
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: "/api/v1/payments", body: `{"merchantReference": "order-3", "kind": "DEPOSIT", "amount": 50}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: "/api/v1/payments", body: depositBody("order-4", "50.00", "EUR", "https://elsewhere.example/ok"),
			status: 400, code: paywire.EINVALID}, // the allowlist is the merchant's, not the document's

		{method: "GET", path: "/api/v1/payments/" + id, status: 200},
		{method: "GET", path: "/api/v1/payments/pay_unknown", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: "/api/v1/payments/" + id, secret: "-", status: 401, code: paywire.EUNAUTHORIZED, docRejects: true},
		{method: "GET", path: "/api/v1/payments/" + id, secret: "wrong", status: 401, code: paywire.EUNAUTHORIZED},

		{method: "GET", path: "/api/v1/payment-methods?kind=DEPOSIT&amount=50.00&currency=EUR&country=DE&language=de&endUserId=customer-881", status: 200},
		{method: "GET", path: "/api/v1/payment-methods?kind=deposit&amount=50.00&currency=EUR&country=DE",
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "GET", path: "/api/v1/payment-methods?kind=DEPOSIT&amount=50.00&currency=EUR&country=de",
			status: 400, code: paywire.EINVALID, docRejects: true},

		{method: "POST", path: "/api/v1/payments/" + id + "/capture", key: "capture-1", status: 409, code: paywire.EILLEGALMOVE},
		{method: "POST", path: "/api/v1/payments/" + id + "/cancel", key: "cancel-1", status: 200},
		{method: "POST", path: "/api/v1/payments/pay_unknown/cancel", status: 404, code: paywire.ENOTFOUND},

		{method: "GET", path: "/api/v1/openapi.json", secret: "-", status: 200},
	} {
		s.call(t, c)
	}

	details := s.call(t, specCall{method: "GET", path: "/api/v1/payments/" + id, status: 200})
	if events, _ := details["events"].([]any); len(events) != 2 || details["state"] != "CANCELLED" {
		t.Errorf("after cancelling: state %v, events %v; want CANCELLED after two events", details["state"], details["events"])
	}

	auth := s.core.Authorized(specMerchant, "order-5", "acquirer-a").ID
	captured := s.call(t, specCall{method: "POST", path: "/api/v1/payments/" + auth + "/capture", body: `{"amount": "4.00"}`,
		key: "capture-2", status: 200})
	refunded := s.call(t, specCall{method: "POST", path: "/api/v1/payments/" + auth + "/refunds", body: `{"amount": "1.50"}`,
		key: "refund-1", status: 201})
	if captured["state"] != "COMPLETED" || refunded["state"] != "PARTIALLY_REFUNDED" || refunded["refundedAmount"] != "1.50" {
		t.Errorf("capture then refund: %v, then %v", captured, refunded)
	}
	payout := func(reference, source string) string {
		return `{"merchantReference": "` + reference + `", "kind": "WITHDRAWAL", "amount": "20.00", "currency": "EUR",
			"endUser": {"id": "u1", "country": "DE"}, "paymentMethod": "card", "sourcePaymentId": "` + source + `"}`
	}
	paidOut := s.call(t, specCall{method: "POST", path: "/api/v1/backend-payments", body: payout("payout-1", auth), status: 201})
	if paidOut["kind"] != "WITHDRAWAL" || paidOut["paymentId"] == auth {
		t.Errorf("backend payment: %v", paidOut)
	}
	for _, c := range []specCall{
		{method: "POST", path: "/api/v1/backend-payments", body: payout("payout-2", id), status: 400, code: paywire.EINVALID},
		{method: "POST", path: "/api/v1/backend-payments", body: `{"merchantReference": "payout-3", "kind": "WITHDRAWAL"}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: "/api/v1/payments/" + auth + "/capture", key: "capture-3", status: 400, code: paywire.EINVALID,
			body: `{"amount": "4.00", "currency": "EUR"}`, docRejects: true},
		{method: "POST", path: "/api/v1/payments/" + auth + "/refunds", key: "refund-2", status: 400, code: paywire.EINVALID,
			body: `{"amount": "99.00"}`},
		{method: "POST", path: "/api/v1/payments/" + auth + "/refunds", key: "refund-3", status: 413, code: paywire.ETOOLARGE,
			body: `{"amount": "` + strings.Repeat("1", 2<<20) + `"}`, docRejects: true},
	} {
		s.call(t, c)
	}
}
