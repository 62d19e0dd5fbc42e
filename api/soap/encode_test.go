package soap

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paywire/paywire/api/wsdl"
	"github.com/paywire/paywire/api/wsdl/wsdltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// cancelled stands for an operation's response: a body type as the api
// package declares them.
type cancelled struct {
	XMLName   xml.Name `xml:"urn:paywire:payment:1 cancelPaymentResponse"`
	PaymentID string   `xml:"paymentId"`
	Note      string   `xml:"note,omitempty"`
}

// recorded renders what a handler wrote as a golden file holds it: status,
// Content-Type and body.
func recorded(rec *httptest.ResponseRecorder) []byte {
	return fmt.Appendf(nil, "HTTP %d\nContent-Type: %s\n\n%s\n",
		rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api/soap -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale or the output changed; run go test ./api/soap -update and review the diff\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestWriteResponse(t *testing.T) {
	for _, v := range []Version{V11, V12} {
		t.Run(v.String(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := WriteResponse(rec, v, cancelled{PaymentID: "pay_1", Note: `a <b> & "c"`}); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != v.ContentType() {
				t.Errorf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			checkGolden(t, fmt.Sprintf("response-soap%d", 10+int(v)), recorded(rec))

			// What Paywire writes, Paywire reads back.
			req, err := Decode(rec.Body, 0)
			if err != nil {
				t.Fatal(err)
			}
			var back cancelled
			if err := xml.Unmarshal(req.Body, &back); err != nil || req.Version != v || back.Note != `a <b> & "c"` {
				t.Errorf("read back %+v, version %v: %v", back, req.Version, err)
			}
		})
	}
}

func TestWriteResponseEmptyBody(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := WriteResponse(rec, V11, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.Body.String(), "<soap:Body></soap:Body>") {
		t.Errorf("body %s", rec.Body)
	}
}

// TestWriteResponseUnencodable shows that a body encoding/xml cannot write
// becomes a server fault, with the cause returned for the log.
func TestWriteResponseUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	err := WriteResponse(rec, V12, map[string]string{"a": "b"})
	if err == nil {
		t.Fatal("no error for a map body")
	}
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "<pw:code>INTERNAL_ERROR</pw:code>") {
		t.Errorf("status %d, body %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "map") {
		t.Errorf("the fault leaks the cause: %s", rec.Body)
	}
}

func TestWriteFault(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		status [2]int // SOAP 1.1, SOAP 1.2
		code   [2]string
	}{
		{"client", Fault{Code: "INVALID_REQUEST", Message: `amount "1.234" has too many decimals for EUR`, Client: true},
			[2]int{500, 400}, [2]string{"soap:Client", "soap:Sender"}},
		{"server", Fault{Code: "UNAVAILABLE", Message: "the provider cannot be reached; try again later"},
			[2]int{500, 500}, [2]string{"soap:Server", "soap:Receiver"}},
		{"version-mismatch", (&Error{Code: CodeVersionMismatch, Message: "wrong envelope"}).Fault(),
			[2]int{500, 500}, [2]string{"soap:VersionMismatch", "soap:VersionMismatch"}},
		{"must-understand", (&Error{Code: CodeMustUnderstand, Message: "header not understood",
			NotUnderstood: []xml.Name{{Space: "urn:h", Local: "Trace"}, {Local: "Bare"}, {Space: "x", Local: "a:b"}}}).Fault(),
			[2]int{500, 500}, [2]string{"soap:MustUnderstand", "soap:MustUnderstand"}},
		{"defaults", Fault{}, [2]int{500, 500}, [2]string{"soap:Server", "soap:Receiver"}},
		{"escaping", Fault{Code: "X<&>", Message: "bad \"<value>\" & \xff invalid UTF-8 \x01", Client: true},
			[2]int{500, 400}, [2]string{"soap:Client", "soap:Sender"}},
	}
	for _, tt := range tests {
		for i, v := range []Version{V11, V12} {
			t.Run(tt.name+"/"+v.String(), func(t *testing.T) {
				rec := httptest.NewRecorder()
				if err := WriteFault(rec, v, tt.fault); err != nil {
					t.Fatal(err)
				}
				if rec.Code != tt.status[i] {
					t.Errorf("status %d, want %d", rec.Code, tt.status[i])
				}
				if ct := rec.Header().Get("Content-Type"); ct != v.ContentType() {
					t.Errorf("Content-Type %q", ct)
				}
				body := rec.Body.String()
				if !strings.Contains(body, ">"+tt.code[i]+"<") {
					t.Errorf("fault code is not %s: %s", tt.code[i], body)
				}
				checkGolden(t, fmt.Sprintf("fault-%s-soap%d", tt.name, 10+int(v)), recorded(rec))

				// The envelope is well-formed, and a client reading it with
				// the same codec finds a Fault in the Body.
				req, err := Decode(strings.NewReader(body), 0)
				if err != nil {
					t.Fatalf("the fault does not decode: %v", err)
				}
				if req.Name != (xml.Name{Space: v.Namespace(), Local: "Fault"}) {
					t.Errorf("body element %v", req.Name)
				}
				checkDetail(t, v, tt.fault, body)
			})
		}
	}
}

// checkDetail asserts that the detail of a fault envelope carries the
// fault's code and message and is valid against the WSDL's schema, the
// contract clients generate their fault classes from.
func checkDetail(t *testing.T, v Version, f Fault, body string) {
	t.Helper()
	start := strings.Index(body, "<pw:fault ")
	if start < 0 {
		if v == V11 && f.Code == CodeMustUnderstand {
			return // SOAP 1.1 keeps detail for errors of the Body
		}
		t.Fatalf("no detail in %s", body)
	}
	const closing = "</pw:fault>"
	detail := body[start : strings.Index(body, closing)+len(closing)]
	var got struct {
		XMLName xml.Name `xml:"urn:paywire:payment:1 fault"`
		Code    string   `xml:"urn:paywire:payment:1 code"`
		Message string   `xml:"urn:paywire:payment:1 message"`
	}
	if err := xml.Unmarshal([]byte(detail), &got); err != nil {
		t.Fatalf("detail %s: %v", detail, err)
	}
	if got.Code != xmlText(f.code()) || got.Message != xmlText(f.message()) {
		t.Errorf("detail %+v for fault %+v", got, f)
	}
	if err := wsdltest.Validate(t, wsdl.Schema(), []byte(detail)); err != nil {
		t.Error(err)
	}
}

// xmlText is s as it reads back from XML that Paywire wrote: invalid UTF-8
// and characters XML cannot carry replaced by U+FFFD.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000 {
			return r
		}
		return '\uFFFD'
	}, s)
}

func TestWriteFaultFromDecodeError(t *testing.T) {
	_, err := Decode(strings.NewReader("<nope/>"), 0)
	rec := httptest.NewRecorder()
	if err := WriteFault(rec, V12, err.(*Error).Fault()); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "<pw:code>MALFORMED_REQUEST</pw:code>") {
		t.Errorf("status %d, body %s", rec.Code, rec.Body)
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		v                         Version
		str, namespace, mediaType string
	}{
		{V11, "SOAP 1.1", NamespaceSOAP11, "text/xml; charset=utf-8"},
		{V12, "SOAP 1.2", NamespaceSOAP12, "application/soap+xml; charset=utf-8"},
		{0, "unknown SOAP version", NamespaceSOAP11, "text/xml; charset=utf-8"},
	}
	for _, tt := range tests {
		if tt.v.String() != tt.str || tt.v.Namespace() != tt.namespace || tt.v.ContentType() != tt.mediaType {
			t.Errorf("%d: %q %q %q", tt.v, tt.v.String(), tt.v.Namespace(), tt.v.ContentType())
		}
	}
}

// TestFaultRequestID: a fault's detail carries the response's Request-Id,
// so that a merchant's complaint about a fault leads to its log lines.
func TestFaultRequestID(t *testing.T) {
	for _, v := range []Version{V11, V12} {
		w := httptest.NewRecorder()
		w.Header().Set("Request-Id", "req-0123456789")
		f := Fault{Code: "UNAUTHORIZED", Message: "wrong secret", Client: true}
		if err := WriteFault(w, v, f); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if !strings.Contains(body, "<pw:requestId>req-0123456789</pw:requestId>") {
			t.Errorf("SOAP %v fault without the request id:\n%s", v, body)
		}
		checkDetail(t, v, f, body)
	}
}
