package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fuzzDepth is small so that the fuzzer reaches the depth limit easily.
const fuzzDepth = 12

// FuzzDecode feeds arbitrary bytes to Decode, the parser that faces every
// merchant request. The contract: it never panics; a refusal is an *Error
// with one of the package's codes and a message free of Go error text; an
// accepted request has a version, and its body is a standalone element of
// the name Decode reports, no deeper than the limit allows, which reads the
// same after being wrapped in a fresh envelope and decoded again.
func FuzzDecode(f *testing.F) {
	samples, _ := filepath.Glob("../testdata/soap/*.xml")
	for _, file := range samples {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		envelope11("", op),
		envelope12(`<wsse:Security soap:mustUnderstand="true" `+wsse+`>`+usernameToken("u", "p", textType)+`</wsse:Security>`, op),
		envelope11(`<h:T xmlns:h="urn:h" soap:mustUnderstand="1"/>`, op),
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:paywire:payment:1"><s:Body><p:x/></s:Body></s:Envelope>`,
		`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
		envelope11("", strings.Repeat("<a>", 20)),
		"",
		"\xef\xbb\xbf<",
	} {
		f.Add([]byte(s))
	}
	codes := []string{CodeMalformed, CodeTooLarge, CodeVersionMismatch, CodeMustUnderstand, CodeInvalidSecurity, CodeUnsupportedSecurity}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := Decode(bytes.NewReader(data), fuzzDepth)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !slices.Contains(codes, e.Code) {
				t.Fatalf("error %T %v has no known code", err, err)
			}
			if e.Message == "" || req != nil {
				t.Fatalf("message %q, request %v", e.Message, req)
			}
			if e.Err != nil && strings.Contains(e.Message, e.Err.Error()) || strings.Contains(e.Message, "XML syntax error") {
				t.Fatalf("message %q carries the Go error %v", e.Message, e.Err)
			}
			return
		}
		if req.Version != V11 && req.Version != V12 {
			t.Fatalf("accepted with version %v", req.Version)
		}
		first := bodyTokens(t, req.Body, req.Name)

		// Wrapped anew, the body decodes to the same element.
		wrapped := `<e:Envelope xmlns:e="` + req.Version.Namespace() + `"><e:Body>` + string(req.Body) + `</e:Body></e:Envelope>`
		again, err := Decode(strings.NewReader(wrapped), fuzzDepth)
		if err != nil {
			t.Fatalf("the body does not decode again: %v\n%s", err, wrapped)
		}
		if again.Name != req.Name {
			t.Fatalf("name %v, then %v", req.Name, again.Name)
		}
		if second := bodyTokens(t, again.Body, again.Name); !reflect.DeepEqual(first, second) {
			t.Fatalf("the body changed:\n%v\n%v", first, second)
		}
	})
}

// bodyTokens reads a body as a standalone document and returns its tokens
// with namespaces resolved and namespace declarations left out, which is
// what a reader of the body sees. It fails the test unless the document is
// one element named name, no deeper than the Body allows.
func bodyTokens(t *testing.T, body []byte, name xml.Name) []xml.Token {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	var tokens []xml.Token
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name != name {
					t.Fatalf("body element %v, Decode said %v", tok.Name, name)
				}
			}
			depth++
			// The Envelope and Body hold the body element.
			if depth+2 > fuzzDepth {
				t.Fatalf("body nests %d levels under the Body", depth)
			}
			var attrs []xml.Attr
			for _, a := range tok.Attr {
				if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
					attrs = append(attrs, a)
				}
			}
			tok.Attr = attrs
			tokens = append(tokens, tok)
		case xml.EndElement:
			depth--
			tokens = append(tokens, tok)
		case xml.CharData:
			tokens = append(tokens, tok.Copy())
		}
	}
	if roots != 1 {
		t.Fatalf("body %q has %d root elements", body, roots)
	}
	return tokens
}
