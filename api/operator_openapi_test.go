package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
)

// The tests in this file hold api/operator-openapi.json to what the
// operator API does: the document is valid, documents exactly the routes
// served, and real requests and responses match it.

// operatorSpec is the operator API on a real listener with its document.
type operatorSpec struct {
	srv    *httptest.Server
	doc    *openapi3.T
	routes routers.Router
}

func newOperatorSpec(t *testing.T) *operatorSpec {
	t.Helper()
	srv, _ := operatorEnv(t, operatorToken)
	doc, routes := loadOperatorSpec(t, srv.URL)
	return &operatorSpec{srv: srv, doc: doc, routes: routes}
}

// loadOperatorSpec reads the document from the API itself, without a
// token, validates it and returns it with a router that finds its
// operations.
func loadOperatorSpec(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	res, err := http.Get(base + "/api/v1/operator/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/operator/openapi.json: %s, Content-Type %q", res.Status, res.Header.Get("Content-Type"))
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

// operatorRoutes returns the routes the operator API serves, as
// "METHOD /pattern", from its own router.
func operatorRoutes(t *testing.T) map[string]bool {
	t.Helper()
	r := chi.NewRouter()
	(&api.Operator{Token: operatorToken}).Mount(r)
	served := map[string]bool{}
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return served
}

// compareOperatorRoutes returns the served routes the document lacks and
// the documented operations nobody serves, sorted. chi and OpenAPI both
// write path parameters as {name}, so the patterns compare as text.
func compareOperatorRoutes(doc *openapi3.T, served map[string]bool) (undocumented, unserved []string) {
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

func TestOperatorOpenAPIRoutes(t *testing.T) {
	s := newOperatorSpec(t)
	served := operatorRoutes(t)
	if len(served) == 0 {
		t.Fatal("the operator API serves nothing")
	}
	for r := range served {
		if !strings.HasPrefix(r[strings.IndexByte(r, ' ')+1:], "/api/v1/operator/") {
			t.Errorf("%s is outside /api/v1/operator/", r)
		}
	}
	undocumented, unserved := compareOperatorRoutes(s.doc, served)
	for _, r := range undocumented {
		t.Errorf("%s is served but not in api/operator-openapi.json", r)
	}
	for _, r := range unserved {
		t.Errorf("%s is in api/operator-openapi.json but not served", r)
	}

	// The security the document declares is the one the server enforces:
	// without a token, an operation that needs one is refused with 401 and
	// one that does not is answered.
	path := strings.NewReplacer("{id}", "shop", "{cred}", "cred_unknown")
	for p, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			security := s.doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			// A server of its own per operation: the failed authentications
			// of all of them together pass the limit per address.
			srv, _ := operatorEnv(t, operatorToken)
			req, err := http.NewRequest(method, srv.URL+path.Replace(p), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if refused := res.StatusCode == http.StatusUnauthorized; refused != (len(security) > 0) {
				t.Errorf("%s %s without a token: %s, but the document's security is %v", method, p, res.Status, security)
			}
			if len(security) > 0 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s %s without a token: WWW-Authenticate %q", method, p, res.Header.Get("WWW-Authenticate"))
			}
		}
	}
}

// TestOperatorOpenAPIRouteComparison shows that TestOperatorOpenAPIRoutes
// notices a document that drifted from the router either way.
func TestOperatorOpenAPIRouteComparison(t *testing.T) {
	s := newOperatorSpec(t)
	served := operatorRoutes(t)
	s.doc.Paths.Delete("/api/v1/operator/merchants/{id}/credentials/{cred}")
	s.doc.Paths.Set("/api/v1/operator/merchants/{id}", &openapi3.PathItem{Delete: &openapi3.Operation{OperationID: "deleteMerchant"}})
	undocumented, unserved := compareOperatorRoutes(s.doc, served)
	if !slices.Contains(undocumented, "DELETE /api/v1/operator/merchants/{id}/credentials/{cred}") {
		t.Errorf("a served route missing from the document went unnoticed: undocumented = %q", undocumented)
	}
	if !slices.Contains(unserved, "DELETE /api/v1/operator/merchants/{id}") {
		t.Errorf("a documented operation nobody serves went unnoticed: unserved = %q", unserved)
	}
}

// TestOperatorOpenAPIErrorCodes checks the documented error codes against
// the one error table (paywire.Classify): every code the document gives
// under a status maps to that status, and the Error schema lists the
// table's codes.
func TestOperatorOpenAPIErrorCodes(t *testing.T) {
	s := newOperatorSpec(t)
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
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
				codes := operatorErrorCodes(mt.Schema.Value)
				if len(codes) == 0 {
					t.Errorf("%s %s: response %s lists no error codes", method, path, status)
				}
				for _, c := range codes {
					got, class, _ := paywire.Classify(paywire.Errorf(c, "x"))
					if got != c || class.HTTPStatus != code {
						t.Errorf("%s %s: the document gives code %q under %s; the error table maps it to %d", method, path, c, status, class.HTTPStatus)
					}
				}
			}
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

// operatorErrorCodes returns the codes an error body schema allows at
// error.code: the intersection of the enums there in the schema and its
// allOf parts.
func operatorErrorCodes(s *openapi3.Schema) []string {
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

// operatorSpecCall is one request to the operator API, with what it must
// get.
type operatorSpecCall struct {
	method, path, body string
	token              string // operatorToken when empty; "-" sends none
	status             int
	code               string // the error code, for errors
	// docRejects says the request breaks the document, so that request
	// validation must refuse it: the document and the server agree on it.
	docRejects bool
}

func (c operatorSpecCall) request(t *testing.T, base string) *http.Request {
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
	switch c.token {
	case "":
		req.Header.Set("Authorization", "Bearer "+operatorToken)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req
}

// requireBearer is the document's operatorBearer scheme as request
// validation sees it: a bearer token must be present (whether it is right
// is the server's business).
func requireBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer "); !ok || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// call validates c's request against the document, sends it, checks the
// status and error code, validates the response against the document and
// returns its decoded body (nil for an empty one).
func (s *operatorSpec) call(t *testing.T, c operatorSpecCall) map[string]any {
	t.Helper()
	name := c.method + " " + c.path
	if len(c.body) < 200 {
		name += " " + c.body
	}
	req := c.request(t, s.srv.URL)
	route, params, err := s.routes.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: the document has no such operation: %v", name, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: requireBearer, MultiError: true}}
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
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("%s: %s, body is not a JSON object: %q", name, res.Status, raw)
		}
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
		if len(ref.Value.Content) == 0 && len(raw) > 0 {
			t.Errorf("%s: the document describes no body for %d, the response has %q", name, res.StatusCode, raw)
		}
		if mt := ref.Value.Content.Get(res.Header.Get("Content-Type")); mt != nil && mt.Schema != nil {
			for _, f := range operatorUndocumentedFields(mt.Schema.Value, body, "") {
				t.Errorf("%s: the response has %s, which the document does not describe", name, f)
			}
		}
	}
	return body
}

// operatorUndocumentedFields returns the fields of v that schema s does
// not describe. The document does not forbid unknown response fields
// (clients must ignore them), so response validation alone would not
// notice a field the server added — a secret, say.
func operatorUndocumentedFields(s *openapi3.Schema, v any, at string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if len(s.Properties) == 0 && len(s.AllOf) == 0 {
			return nil // a free-form object
		}
		for k, x := range v {
			p := operatorSchemaProperty(s, k)
			if p == nil {
				out = append(out, at+"."+k)
				continue
			}
			out = append(out, operatorUndocumentedFields(p, x, at+"."+k)...)
		}
	case []any:
		if s.Items != nil {
			for i, x := range v {
				out = append(out, operatorUndocumentedFields(s.Items.Value, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

func operatorSchemaProperty(s *openapi3.Schema, name string) *openapi3.Schema {
	if p := s.Properties[name]; p != nil && p.Value != nil {
		return p.Value
	}
	for _, part := range s.AllOf {
		if p := operatorSchemaProperty(part.Value, name); p != nil {
			return p
		}
	}
	return nil
}

// TestOperatorOpenAPIResponses drives every operation through success and
// error answers and checks requests and responses against the document.
func TestOperatorOpenAPIResponses(t *testing.T) {
	s := newOperatorSpec(t)
	const merchants = "/api/v1/operator/merchants"

	s.call(t, operatorSpecCall{method: "GET", path: "/api/v1/operator/openapi.json", token: "-", status: 200})
	s.call(t, operatorSpecCall{method: "GET", path: merchants, status: 200})

	created := s.call(t, operatorSpecCall{method: "POST", path: merchants, status: 201,
		body: `{"id": "shop", "name": "Shop", "returnUrlPrefixes": ["https://shop.example/return/"], "notificationUrl": "https://shop.example/notify", "notificationFormat": "json"}`})
	secret, _ := created["secret"].(string)
	cred, _ := created["credential"].(map[string]any)
	first, _ := cred["id"].(string)
	if secret == "" || first == "" {
		t.Fatalf("create answered %v", created)
	}
	if merchantStatus(t, s.srv, "shop", secret) != 200 {
		t.Fatal("the new merchant's secret does not work")
	}
	minimal := s.call(t, operatorSpecCall{method: "POST", path: merchants, body: `{"id": "minimal", "name": "Minimal"}`, status: 201})
	if m, _ := minimal["merchant"].(map[string]any); m["notificationFormat"] != "soap" || m["disabled"] != false {
		t.Errorf("a merchant created with defaults: %v", minimal["merchant"])
	}

	long := `{"id": "big", "name": "` + strings.Repeat("n", 70<<10) + `"}`
	prefixes, _ := json.Marshal(slices.Repeat([]string{"https://other.example/"}, 21))
	for _, c := range []operatorSpecCall{
		{method: "POST", path: merchants, body: `{"id": "shop", "name": "Again", "returnUrlPrefixes": ["https://shop.example/"]}`,
			status: 409, code: paywire.ECONFLICT},
		{method: "POST", path: merchants, body: `{"id": "other", "name": "Other", "returnUrlPrefixes": ["http://other.example/"]}`,
			status: 400, code: paywire.EINVALID}, // http only on a loopback host: the document says so in words
		{method: "POST", path: merchants, body: `{"id": "other", "name": "Other", "returnUrlPrefixes": ["https://other.example/a"]}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "other", "name": "Other", "returnUrlPrefixes": ` + string(prefixes) + `}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "other", "name": "Other", "notificationFormat": "xml"}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "other", "name": "Other", "unknown": 1}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "Other!", "name": "Other"}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "other"}`, status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "other", "name": 1}`, status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: `{"id": "other", "name": "Other"`, status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: merchants, body: long, status: 413, code: paywire.ETOOLARGE},
	} {
		s.call(t, c)
	}
	list := s.call(t, operatorSpecCall{method: "GET", path: merchants, status: 200})
	if ms, _ := list["merchants"].([]any); len(ms) < 2 {
		t.Errorf("the merchants after two were created: %v", list)
	}

	credentials := merchants + "/shop/credentials"
	labelled := s.call(t, operatorSpecCall{method: "POST", path: credentials, body: `{"label": "checkout servers"}`, status: 201})
	s.call(t, operatorSpecCall{method: "POST", path: credentials, status: 201}) // the body is optional
	for _, c := range []operatorSpecCall{
		{method: "POST", path: credentials, body: `{"label": "` + strings.Repeat("l", 201) + `"}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: credentials, body: `{"labels": "x"}`, status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: credentials, body: `{"label": "` + strings.Repeat("l", 70<<10) + `"}`,
			status: 413, code: paywire.ETOOLARGE, docRejects: true},
		{method: "POST", path: merchants + "/nobody/credentials", body: `{"label": "x"}`, status: 404, code: paywire.ENOTFOUND},
	} {
		s.call(t, c)
	}

	rotated := s.call(t, operatorSpecCall{method: "POST", path: credentials + "/" + first + "/rotate", body: `{"overlap": "1h"}`, status: 201})
	next, _ := rotated["secret"].(string)
	if rc, _ := rotated["credential"].(map[string]any); rc["label"] != "rotated from "+first {
		t.Errorf("the successor of an unlabelled credential: %v", rotated["credential"])
	}
	if merchantStatus(t, s.srv, "shop", secret) != 200 || merchantStatus(t, s.srv, "shop", next) != 200 {
		t.Error("during the overlap both secrets must work")
	}
	labelledID, _ := labelled["credential"].(map[string]any)["id"].(string)
	s.call(t, operatorSpecCall{method: "POST", path: credentials + "/" + labelledID + "/rotate", status: 201}) // 24h
	for _, c := range []operatorSpecCall{
		{method: "POST", path: credentials + "/" + first + "/rotate", body: `{"overlap": "forever"}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: credentials + "/" + first + "/rotate", body: `{"overlap": 3600}`,
			status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "POST", path: credentials + "/" + first + "/rotate", body: `{"overlap": "-1h"}`, status: 400, code: paywire.EINVALID},
		{method: "POST", path: credentials + "/" + first + "/rotate", body: `{"overlap": "721h"}`, status: 400, code: paywire.EINVALID},
		{method: "POST", path: credentials + "/cred_unknown/rotate", body: `{"overlap": "0s"}`, status: 404, code: paywire.ENOTFOUND},
		{method: "POST", path: merchants + "/nobody/credentials/" + first + "/rotate", status: 404, code: paywire.ENOTFOUND},
	} {
		s.call(t, c)
	}

	listed := s.call(t, operatorSpecCall{method: "GET", path: credentials, status: 200})
	raw, _ := json.Marshal(listed)
	if strings.Contains(string(raw), secret) || strings.Contains(string(raw), next) || strings.Contains(string(raw), "hmac") {
		t.Errorf("the list shows a secret or a hash: %s", raw)
	}
	overlapping := 0
	for _, c := range listed["credentials"].([]any) {
		if _, ok := c.(map[string]any)["revokedAt"]; ok {
			overlapping++
		}
	}
	if cs := listed["credentials"].([]any); len(cs) != 5 || overlapping != 2 {
		t.Errorf("after two rotations: %d credentials, %d of them in their overlap; want 5 and 2: %s", len(cs), overlapping, raw)
	}

	s.call(t, operatorSpecCall{method: "DELETE", path: credentials + "/" + first, status: 204})
	if merchantStatus(t, s.srv, "shop", secret) != 401 || merchantStatus(t, s.srv, "shop", next) != 200 {
		t.Error("after revocation the old secret must fail and the new one work")
	}
	for _, c := range []operatorSpecCall{
		{method: "DELETE", path: credentials + "/" + first, status: 404, code: paywire.ENOTFOUND},
		{method: "DELETE", path: merchants + "/minimal/credentials/" + labelledID, status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: merchants + "/nobody/credentials", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: merchants, token: "wrong", status: 401, code: paywire.EUNAUTHORIZED},
		{method: "GET", path: merchants, token: "-", status: 401, code: paywire.EUNAUTHORIZED, docRejects: true},
		{method: "DELETE", path: credentials + "/" + labelledID, token: "-", status: 401, code: paywire.EUNAUTHORIZED, docRejects: true},
	} {
		s.call(t, c)
	}

	// Ten failed authentications from one address block it for a minute,
	// the right token too.
	for range 10 {
		operatorCall(t, s.srv, "wrong", "GET", merchants, "")
	}
	s.call(t, operatorSpecCall{method: "POST", path: credentials, body: `{"label": "blocked"}`, status: 429, code: paywire.ETOOMANY})
	s.call(t, operatorSpecCall{method: "GET", path: "/api/v1/operator/openapi.json", token: "-", status: 200})
}
