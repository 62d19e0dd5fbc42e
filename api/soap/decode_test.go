package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	env11 = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`
	env12 = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">`
	end   = `</soap:Envelope>`
	op    = `<cancelPayment xmlns="urn:paywire:payment:1"><paymentId>pay_1</paymentId></cancelPayment>`

	wsse     = `xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`
	textType = `Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"`
)

// envelope11 wraps header blocks and body content in a SOAP 1.1 envelope.
func envelope11(header, body string) string {
	h := ""
	if header != "" {
		h = "<soap:Header>" + header + "</soap:Header>"
	}
	return env11 + h + "<soap:Body>" + body + "</soap:Body>" + end
}

func envelope12(header, body string) string {
	h := ""
	if header != "" {
		h = "<soap:Header>" + header + "</soap:Header>"
	}
	return env12 + h + "<soap:Body>" + body + "</soap:Body>" + end
}

func usernameToken(user, password, passwordAttrs string) string {
	return `<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username><wsse:Password ` + passwordAttrs + `>` +
		password + `</wsse:Password></wsse:UsernameToken>`
}

var payment = xml.Name{Space: "urn:paywire:payment:1", Local: "cancelPayment"}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		version Version
		token   *UsernameToken
	}{
		{"SOAP 1.1", envelope11("", op), V11, nil},
		{"SOAP 1.2", envelope12("", op), V12, nil},
		{"XML declaration, comments and white space",
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n" + env11 + "\n <!-- c -->\n<soap:Body>\n" + op + "\n</soap:Body>\n" + end + "\n<!-- c -->\n",
			V11, nil},
		{"declared encoding in another case", `<?xml version="1.0" encoding="Utf-8"?>` + envelope11("", op), V11, nil},
		{"ASCII encoding", `<?xml version="1.0" encoding="US-ASCII"?>` + envelope11("", op), V11, nil},
		{"empty Header", envelope11("", op)[:len(env11)] + "<soap:Header/>" + envelope11("", op)[len(env11):], V11, nil},
		{"self-closing operation element", envelope11("", `<cancelPayment xmlns="urn:paywire:payment:1"/>`), V11, nil},
		{"UsernameToken with PasswordText",
			envelope11(`<wsse:Security soap:mustUnderstand="1" `+wsse+`>`+usernameToken("demo", "s3cret &amp; &lt;more&gt; ", textType)+`</wsse:Security>`, op),
			V11, &UsernameToken{Username: "demo", Password: "s3cret & <more> ", PasswordType: PasswordText}},
		{"UsernameToken without password Type, SOAP 1.2",
			envelope12(`<wsse:Security soap:mustUnderstand="true" `+wsse+`>`+usernameToken("demo", "pw", "")+`</wsse:Security>`, op),
			V12, &UsernameToken{Username: "demo", Password: "pw", PasswordType: PasswordText}},
		{"UsernameToken with Nonce, Created and a Timestamp",
			envelope11(`<wsse:Security `+wsse+` xmlns:wsu="urn:wsu"><wsu:Timestamp><wsu:Created>2026-01-01T00:00:00Z</wsu:Created></wsu:Timestamp>`+
				`<wsse:UsernameToken><wsse:Username>demo</wsse:Username><wsse:Password>pw</wsse:Password><wsse:Nonce>abc</wsse:Nonce><wsu:Created>2026-01-01T00:00:00Z</wsu:Created></wsse:UsernameToken></wsse:Security>`, op),
			V11, &UsernameToken{Username: "demo", Password: "pw", PasswordType: PasswordText}},
		{"empty Security header",
			envelope11(`<wsse:Security `+wsse+`/>`, op), V11, nil},
		{"Security header for another actor is not ours",
			envelope11(`<wsse:Security soap:actor="urn:elsewhere" soap:mustUnderstand="1" `+wsse+`>`+usernameToken("x", "y", "")+`</wsse:Security>`, op),
			V11, nil},
		{"optional unknown header",
			envelope11(`<h:Trace xmlns:h="urn:h">1</h:Trace><h:Other xmlns:h="urn:h" soap:mustUnderstand="0"/>`, op), V11, nil},
		{"mandatory header for another SOAP 1.1 actor",
			envelope11(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="1" soap:actor="urn:somebody-else"/>`, op), V11, nil},
		{"mandatory header for SOAP 1.2 role none",
			envelope12(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="true" soap:role="http://www.w3.org/2003/05/soap-envelope/role/none"/>`, op), V12, nil},
		{"mustUnderstand of the other SOAP version is just an attribute",
			envelope11(`<h:Trace xmlns:h="urn:h" xmlns:s12="http://www.w3.org/2003/05/soap-envelope" s12:mustUnderstand="true"/>`, op), V11, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode(strings.NewReader(tt.in), 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if req.Version != tt.version {
				t.Errorf("version %v, want %v", req.Version, tt.version)
			}
			if req.Name != payment {
				t.Errorf("name %v, want %v", req.Name, payment)
			}
			switch {
			case tt.token == nil && req.UsernameToken != nil:
				t.Errorf("token %+v, want none", *req.UsernameToken)
			case tt.token != nil && (req.UsernameToken == nil || *req.UsernameToken != *tt.token):
				t.Errorf("token %+v, want %+v", req.UsernameToken, *tt.token)
			}
			checkStandalone(t, req)
		})
	}
}

// checkStandalone asserts that the body of a decoded request is an element
// of its own, named as Decode says, that xml.Unmarshal can read.
func checkStandalone(t *testing.T, req *Request) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(req.Body))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("body %q: %v", req.Body, err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			if start.Name != req.Name {
				t.Fatalf("body element %v, Decode said %v", start.Name, req.Name)
			}
			break
		}
	}
	if err := d.Skip(); err != nil {
		t.Fatalf("body %q: %v", req.Body, err)
	}
	if _, err := d.Token(); err != io.EOF {
		t.Fatalf("body %q goes on after its element: %v", req.Body, err)
	}
}

// TestDecodeBodyKeepsNamespaces unmarshals the cut-out body of envelopes
// whose prefixes are declared on the Envelope and Body, as PHP SoapClient,
// SoapUI and many hand-written clients do.
func TestDecodeBodyKeepsNamespaces(t *testing.T) {
	type cancel struct {
		XMLName   xml.Name `xml:"urn:paywire:payment:1 cancelPayment"`
		PaymentID string   `xml:"paymentId"`
		Note      struct {
			Lang string `xml:"urn:other lang,attr"`
			Text string `xml:",chardata"`
		} `xml:"urn:other note"`
	}
	tests := []struct{ name, in string }{
		{"prefix on the Envelope",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paywire:payment:1" xmlns:o="urn:other">` +
				`<soap:Body><p:cancelPayment><p:paymentId>pay_1</p:paymentId><o:note o:lang="en">hi</o:note></p:cancelPayment></soap:Body>` + end},
		{"prefix on the Body",
			env11 + `<soap:Body xmlns:p="urn:paywire:payment:1" xmlns:o="urn:other"><p:cancelPayment><p:paymentId>pay_1</p:paymentId><o:note o:lang="en">hi</o:note></p:cancelPayment></soap:Body>` + end},
		{"the Body overrides the Envelope",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:wrong" xmlns:o="urn:wrong">` +
				`<soap:Body xmlns:p="urn:paywire:payment:1" xmlns:o="urn:other"><p:cancelPayment><p:paymentId>pay_1</p:paymentId><o:note o:lang="en">hi</o:note></p:cancelPayment></soap:Body>` + end},
		{"the element overrides its ancestors",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:wrong" xmlns="urn:wrong">` +
				`<soap:Body xmlns:o="urn:wrong"><p:cancelPayment xmlns:p="urn:paywire:payment:1" xmlns:o="urn:other"><p:paymentId>pay_1</p:paymentId><o:note o:lang="en">hi</o:note></p:cancelPayment></soap:Body>` + end},
		{"default namespace on the Body",
			env11 + `<soap:Body xmlns="urn:paywire:payment:1"><cancelPayment><paymentId>pay_1</paymentId><note xmlns="urn:other" xmlns:o="urn:other" o:lang="en">hi</note></cancelPayment></soap:Body>` + end},
		{"the envelope's own prefix reused inside the body",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:cancelPayment xmlns:soap="urn:paywire:payment:1"><soap:paymentId>pay_1</soap:paymentId><o:note xmlns:o="urn:other" o:lang="en">hi</o:note></soap:cancelPayment></soap:Body>` + end},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode(strings.NewReader(tt.in), 0)
			if err != nil {
				t.Fatal(err)
			}
			checkStandalone(t, req)
			var got cancel
			if err := xml.Unmarshal(req.Body, &got); err != nil {
				t.Fatalf("Unmarshal %s: %v", req.Body, err)
			}
			if got.PaymentID != "pay_1" || got.Note.Text != "hi" || got.Note.Lang != "en" {
				t.Errorf("got %+v from %s", got, req.Body)
			}
		})
	}
}

func TestDecodeSamples(t *testing.T) {
	files, err := filepath.Glob("../testdata/soap/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample envelopes: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			req, err := Decode(bytes.NewReader(data), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := V11
			if strings.Contains(file, "soap12") {
				want = V12
			}
			if req.Version != want {
				t.Errorf("version %v, want %v", req.Version, want)
			}
			// Sample files are named after their operation.
			opName, _, _ := strings.Cut(filepath.Base(file), "-")
			if req.Name != (xml.Name{Space: "urn:paywire:payment:1", Local: opName}) {
				t.Errorf("name %v, want %s", req.Name, opName)
			}
			if strings.Contains(file, "wssecurity") != (req.UsernameToken != nil) {
				t.Errorf("token %+v", req.UsernameToken)
			}
			checkStandalone(t, req)
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	deep := env11 + "<soap:Body>" + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</soap:Body>" + end
	tests := []struct {
		name    string
		in      string
		code    string
		version Version
	}{
		{"empty input", "", CodeMalformed, 0},
		{"white space only", " \n\t", CodeMalformed, 0},
		{"garbage", "hello, world", CodeMalformed, 0},
		{"binary", "\x00\x01\x02\xff\xfe", CodeMalformed, 0},
		{"JSON", `{"paymentId":"pay_1"}`, CodeMalformed, 0},
		{"not an envelope", op, CodeMalformed, 0},
		{"envelope without namespace", `<Envelope><Body>` + op + `</Body></Envelope>`, CodeVersionMismatch, 0},
		{"envelope in another namespace", `<s:Envelope xmlns:s="http://example.com/soap"><s:Body>` + op + `</s:Body></s:Envelope>`, CodeVersionMismatch, 0},
		{"missing Body", env11 + end, CodeMalformed, V11},
		{"only a Header", env11 + "<soap:Header/>" + end, CodeMalformed, V11},
		{"empty Body", envelope11("", ""), CodeMalformed, V11},
		{"empty Body, SOAP 1.2", envelope12("", " \n "), CodeMalformed, V12},
		{"self-closing Body", env12 + "<soap:Body/>" + end, CodeMalformed, V12},
		{"two elements in the Body", envelope11("", op+op), CodeMalformed, V11},
		{"text in the Body", envelope11("", "text"+op), CodeMalformed, V11},
		{"Body in the wrong namespace", env11 + `<Body>` + op + `</Body>` + end, CodeMalformed, V11},
		{"SOAP 1.1 Body in a SOAP 1.2 envelope", env12 + `<s11:Body xmlns:s11="http://schemas.xmlsoap.org/soap/envelope/">` + op + `</s11:Body>` + end, CodeMalformed, V12},
		{"two Bodies", env11 + "<soap:Body>" + op + "</soap:Body><soap:Body>" + op + "</soap:Body>" + end, CodeMalformed, V11},
		{"Header after Body", env11 + "<soap:Body>" + op + "</soap:Body><soap:Header/>" + end, CodeMalformed, V11},
		{"two Headers", env11 + "<soap:Header/><soap:Header/><soap:Body>" + op + "</soap:Body>" + end, CodeMalformed, V11},
		{"element after Body", env11 + "<soap:Body>" + op + "</soap:Body><x/>" + end, CodeMalformed, V11},
		{"text in the Envelope", env11 + "text<soap:Body>" + op + "</soap:Body>" + end, CodeMalformed, V11},
		{"text in the Header", envelope11("text", op), CodeMalformed, V11},
		{"text before the Envelope", "text" + envelope11("", op), CodeMalformed, 0},
		{"second root element", envelope11("", op) + envelope11("", op), CodeMalformed, V11},
		{"text after the Envelope", envelope11("", op) + "trailing", CodeMalformed, V11},
		{"truncated", envelope11("", op)[:len(envelope11("", op))-20], CodeMalformed, V11},
		{"truncated in the Envelope tag", envelope11("", op)[:40], CodeMalformed, 0},
		{"truncated inside the Header", env11 + "<soap:Header><h:x xmlns:h=\"urn:h\">", CodeMalformed, V11},
		{"mismatched tags", env11 + "<soap:Body><a></b></soap:Body>" + end, CodeMalformed, V11},
		{"undefined entity", envelope11("", "<a>&undefined;</a>"), CodeMalformed, V11},
		{"DOCTYPE", `<!DOCTYPE soap:Envelope>` + envelope11("", op), CodeMalformed, 0},
		{"entity declarations (billion laughs)",
			`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>` +
				envelope11("", "<a>&lol2;</a>"), CodeMalformed, 0},
		{"external entity", `<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + envelope11("", "<a>&xxe;</a>"), CodeMalformed, 0},
		{"DOCTYPE inside the envelope", env11 + "<!DOCTYPE x><soap:Body>" + op + "</soap:Body>" + end, CodeMalformed, V11},
		{"processing instruction", envelope11("", "<?php echo 1; ?>"+op), CodeMalformed, V11},
		{"XML declaration not first", "<!-- c --><?xml version=\"1.0\"?>" + envelope11("", op), CodeMalformed, 0},
		{"ISO-8859-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + envelope11("", op), CodeMalformed, 0},
		{"UTF-16 declared", `<?xml version="1.0" encoding="UTF-16"?>` + envelope11("", op), CodeMalformed, 0},
		{"invalid UTF-8", envelope11("", "<a>\xff\xfe</a>"), CodeMalformed, V11},
		{"too deep", deep, CodeMalformed, V11},
		{"too deep in the Header", envelope11(strings.Repeat("<h:a xmlns:h=\"urn:h\">", 40)+strings.Repeat("</h:a>", 40), op), CodeMalformed, V11},
		{"mandatory unknown header, SOAP 1.1", envelope11(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="1"/>`, op), CodeMustUnderstand, V11},
		{"mandatory unknown header for the next actor", envelope11(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="1" soap:actor="http://schemas.xmlsoap.org/soap/actor/next"/>`, op), CodeMustUnderstand, V11},
		{"mandatory unknown header, SOAP 1.2", envelope12(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="true"/>`, op), CodeMustUnderstand, V12},
		{"mandatory unknown header for the ultimate receiver", envelope12(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="1" soap:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"/>`, op), CodeMustUnderstand, V12},
		{"WS-Addressing Action must be understood", envelope12(`<a:Action xmlns:a="http://www.w3.org/2005/08/addressing" soap:mustUnderstand="1">urn:paywire:payment:1#cancelPayment</a:Action>`, op), CodeMustUnderstand, V12},
		{"invalid mustUnderstand", envelope11(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="yes"/>`, op), CodeMalformed, V11},
		{"PasswordDigest", envelope11(`<wsse:Security `+wsse+`>`+usernameToken("demo", "aGFzaA==", `Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"`)+`</wsse:Security>`, op), CodeUnsupportedSecurity, V11},
		{"unknown password type", envelope11(`<wsse:Security `+wsse+`>`+usernameToken("demo", "pw", `Type="urn:plain"`)+`</wsse:Security>`, op), CodeUnsupportedSecurity, V11},
		{"UsernameToken without Password", envelope11(`<wsse:Security `+wsse+`><wsse:UsernameToken><wsse:Username>demo</wsse:Username></wsse:UsernameToken></wsse:Security>`, op), CodeInvalidSecurity, V11},
		{"UsernameToken without Username", envelope11(`<wsse:Security `+wsse+`><wsse:UsernameToken><wsse:Password>pw</wsse:Password></wsse:UsernameToken></wsse:Security>`, op), CodeInvalidSecurity, V11},
		{"two Usernames", envelope11(`<wsse:Security `+wsse+`><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Username>b</wsse:Username><wsse:Password>pw</wsse:Password></wsse:UsernameToken></wsse:Security>`, op), CodeInvalidSecurity, V11},
		{"element inside the Password", envelope11(`<wsse:Security `+wsse+`><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password><x/></wsse:Password></wsse:UsernameToken></wsse:Security>`, op), CodeInvalidSecurity, V11},
		{"two UsernameTokens", envelope11(`<wsse:Security `+wsse+`>`+usernameToken("a", "b", "")+usernameToken("c", "d", "")+`</wsse:Security>`, op), CodeInvalidSecurity, V11},
		{"two Security headers", envelope11(`<wsse:Security `+wsse+`>`+usernameToken("a", "b", "")+`</wsse:Security><wsse:Security `+wsse+`/>`, op), CodeInvalidSecurity, V11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode(strings.NewReader(tt.in), DefaultMaxDepth)
			checkRefused(t, req, err, tt.code)
			if e := err.(*Error); e.Version != tt.version {
				t.Errorf("error version %v, want %v", e.Version, tt.version)
			}
		})
	}
}

// checkRefused asserts that Decode refused with code, and that the message
// meant for the client says something without carrying Go error text.
func checkRefused(t *testing.T, req *Request, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Decode accepted it: %+v", req)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *soap.Error", err, err)
	}
	if req != nil {
		t.Errorf("Decode returned a request with its error")
	}
	if e.Code != code {
		t.Errorf("code %s (%s), want %s", e.Code, e.Message, code)
	}
	if e.Message == "" || strings.Contains(e.Message, "xml:") || strings.Contains(e.Message, "soap:") {
		t.Errorf("message %q is empty or carries Go error text", e.Message)
	}
}

func TestDecodeMustUnderstandNames(t *testing.T) {
	in := envelope12(`<h:Trace xmlns:h="urn:h" soap:mustUnderstand="true"/><h:Optional xmlns:h="urn:h"/><g:Lock xmlns:g="urn:g" soap:mustUnderstand="1"/>`, op)
	_, err := Decode(strings.NewReader(in), 0)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeMustUnderstand {
		t.Fatalf("error %v, want %s", err, CodeMustUnderstand)
	}
	want := []xml.Name{{Space: "urn:h", Local: "Trace"}, {Space: "urn:g", Local: "Lock"}}
	if len(e.NotUnderstood) != len(want) || e.NotUnderstood[0] != want[0] || e.NotUnderstood[1] != want[1] {
		t.Errorf("not understood %v, want %v", e.NotUnderstood, want)
	}
	if f := e.Fault(); !f.Client || f.Code != CodeMustUnderstand || len(f.NotUnderstood) != 2 {
		t.Errorf("fault %+v", f)
	}
}

// endless yields an envelope whose body opens elements forever.
type endless struct{ started bool }

func (r *endless) Read(p []byte) (int, error) {
	if !r.started {
		r.started = true
		return copy(p, env11+"<soap:Body>"), nil
	}
	n := 0
	for n+3 <= len(p) {
		n += copy(p[n:], "<a>")
	}
	return n, nil
}

// TestDecodeRefusesDeepDocumentsEarly feeds an endless document: Decode
// must stop at the depth limit rather than read on.
func TestDecodeRefusesDeepDocumentsEarly(t *testing.T) {
	_, err := Decode(&endless{}, 10)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeMalformed || !strings.Contains(e.Message, "deeper than 10") {
		t.Fatalf("error %v, want a depth error", err)
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	// Envelope, Body, cancelPayment and paymentId: 4 levels.
	in := envelope11("", op)
	if _, err := Decode(strings.NewReader(in), 4); err != nil {
		t.Errorf("depth 4: %v", err)
	}
	_, err := Decode(strings.NewReader(in), 3)
	checkRefused(t, nil, err, CodeMalformed)
}

// TestDecodeLargeAttribute shows how callers bound the input: a huge
// attribute is cut off by io.LimitReader, which leaves the document
// truncated, or refused by http.MaxBytesReader, which Decode reports as too
// large.
func TestDecodeLargeAttribute(t *testing.T) {
	huge := envelope11("", `<cancelPayment xmlns="urn:paywire:payment:1" a="`+strings.Repeat("x", 1<<20)+`"/>`)
	const limit = 64 << 10

	_, err := Decode(io.LimitReader(strings.NewReader(huge), limit), 0)
	checkRefused(t, nil, err, CodeMalformed)

	rec := httptest.NewRecorder()
	_, err = Decode(http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(huge)), limit), 0)
	checkRefused(t, nil, err, CodeTooLarge)
	if e := err.(*Error); !strings.Contains(e.Message, "65536") {
		t.Errorf("message %q does not state the limit", e.Message)
	}

	// The same document is fine within a larger limit.
	if _, err := Decode(io.LimitReader(strings.NewReader(huge), 2<<20), 0); err != nil {
		t.Errorf("within the limit: %v", err)
	}
}

// failingReader fails after yielding a prefix, as a broken connection does.
type failingReader struct{ prefix io.Reader }

func (r failingReader) Read(p []byte) (int, error) {
	n, err := r.prefix.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}

func TestDecodeReadError(t *testing.T) {
	_, err := Decode(failingReader{strings.NewReader(env11 + "<soap:Body>")}, 0)
	checkRefused(t, nil, err, CodeMalformed)
	if e := err.(*Error); strings.Contains(e.Message, "reset") || e.Err == nil {
		t.Errorf("message %q leaks the cause, or the cause %v is lost", e.Message, e.Err)
	}
}
