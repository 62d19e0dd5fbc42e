package soap_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paywire/paywire/api/soap"
)

type ping struct {
	XMLName xml.Name `xml:"urn:test ping"`
	Text    string   `xml:"text"`
}

type pong struct {
	XMLName xml.Name `xml:"urn:test pong"`
	Text    string   `xml:"text"`
}

// Call sends the credentials as a UsernameToken and the body as the
// server reads them, and returns the answer or the fault's code.
func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := soap.Decode(r.Body, 0)
		if err != nil {
			_ = soap.WriteFault(w, soap.V11, err.(*soap.Error).Fault())
			return
		}
		var in ping
		if err := xml.Unmarshal(req.Body, &in); err != nil || r.Header.Get("SOAPAction") != `"urn:test#ping"` {
			t.Errorf("body %s, action %q: %v", req.Body, r.Header.Get("SOAPAction"), err)
		}
		if req.UsernameToken == nil || req.UsernameToken.Username != "m<1>" || req.UsernameToken.Password != "s&cret" {
			_ = soap.WriteFault(w, req.Version, soap.Fault{Code: "AUTHENTICATION_FAILED", Message: "who are you", Client: true})
			return
		}
		_ = soap.WriteResponse(w, req.Version, pong{Text: in.Text + "!"})
	}))
	defer srv.Close()
	var out pong
	if err := soap.Call(context.Background(), nil, srv.URL, "urn:test#ping", "m<1>", "s&cret", ping{Text: "hi"}, &out); err != nil || out.Text != "hi!" {
		t.Fatalf("answer %+v, %v", out, err)
	}
	err := soap.Call(context.Background(), nil, srv.URL, "urn:test#ping", "m<1>", "wrong", ping{Text: "hi"}, &out)
	var fe *soap.FaultError
	if !errors.As(err, &fe) || fe.Code != "AUTHENTICATION_FAILED" || fe.Message != "who are you" || fe.Status != 500 {
		t.Fatalf("fault %#v", err)
	}
}
