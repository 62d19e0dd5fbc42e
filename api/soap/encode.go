package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Encode returns the envelope of version v whose Body holds body encoded by
// encoding/xml, or an empty Body when body is nil. Body types name their
// element and namespace with an XMLName field; children without a
// namespace of their own inherit it, as elementFormDefault="qualified"
// requires.
func Encode(v Version, body any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<soap:Envelope xmlns:soap="` + v.Namespace() + `"><soap:Body>`)
	if body != nil {
		if err := xml.NewEncoder(&b).Encode(body); err != nil {
			return nil, fmt.Errorf("soap: encoding the body: %w", err)
		}
	}
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return b.Bytes(), nil
}

// WriteResponse answers with status 200 and the envelope of version v
// around body, encoded as Encode does. If body cannot be encoded, which is
// a programming error, it answers with a server fault (CodeInternal)
// instead and returns the encoding error for the caller to log; it also
// returns the error of writing to w.
func WriteResponse(w http.ResponseWriter, v Version, body any) error {
	b, err := Encode(v, body)
	if err != nil {
		_ = WriteFault(w, v, Fault{Code: CodeInternal, Message: "internal error"})
		return err
	}
	w.Header().Set("Content-Type", v.ContentType())
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// WriteFault answers with the fault envelope of version v and the status
// its HTTP binding requires: 500 for every SOAP 1.1 fault (SOAP 1.1 section
// 6.2, WS-I Basic Profile R1126), and for SOAP 1.2 400 for a Sender fault
// and 500 for the others (the SOAP 1.2 HTTP binding, part 2 section 7). It
// returns the error of writing to w.
func WriteFault(w http.ResponseWriter, v Version, f Fault) error {
	status := http.StatusInternalServerError
	if v == V12 && f.kind() == kindClient {
		status = http.StatusBadRequest
	}
	if f.RequestID == "" {
		f.RequestID = w.Header().Get("Request-Id")
	}
	w.Header().Set("Content-Type", v.ContentType())
	w.WriteHeader(status)
	_, err := w.Write(encodeFault(v, f))
	return err
}

// maxNotUnderstood bounds the NotUnderstood header blocks of a fault, so
// that a request with many mandatory headers cannot make its answer large.
const maxNotUnderstood = 16

// encodeFault renders the fault envelope by hand rather than through
// encoding/xml, which cannot declare the prefixes that the QName values of
// faultcode and Value need.
func encodeFault(v Version, f Fault) []byte {
	var b bytes.Buffer
	esc := func(s string) { _ = xml.EscapeText(&b, []byte(s)) } // a bytes.Buffer never fails to write
	detail := func() {
		b.WriteString(`<pw:fault xmlns:pw="` + DetailNamespace + `"><pw:code>`)
		esc(f.code())
		b.WriteString(`</pw:code><pw:message>`)
		esc(f.message())
		b.WriteString(`</pw:message>`)
		if f.RequestID != "" {
			b.WriteString(`<pw:requestId>`)
			esc(f.RequestID)
			b.WriteString(`</pw:requestId>`)
		}
		b.WriteString(`</pw:fault>`)
	}
	kind := f.kind()

	b.WriteString(xml.Header)
	b.WriteString(`<soap:Envelope xmlns:soap="` + v.Namespace() + `">`)
	if v != V12 {
		b.WriteString(`<soap:Body><soap:Fault><faultcode>soap:`)
		b.WriteString([...]string{kindServer: "Server", kindClient: "Client",
			kindVersionMismatch: "VersionMismatch", kindMustUnderstand: "MustUnderstand"}[kind])
		b.WriteString(`</faultcode><faultstring>`)
		esc(f.message())
		b.WriteString(`</faultstring>`)
		// SOAP 1.1 section 4.4 keeps detail for errors of the Body: a
		// header that was not understood is reported by the faultcode only.
		if kind != kindMustUnderstand {
			b.WriteString(`<detail>`)
			detail()
			b.WriteString(`</detail>`)
		}
		b.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
		return b.Bytes()
	}

	switch kind {
	case kindVersionMismatch:
		// SOAP 1.2 part 1 section 5.4.7: say which envelopes are supported.
		b.WriteString(`<soap:Header><soap:Upgrade>` +
			`<soap:SupportedEnvelope qname="ns1:Envelope" xmlns:ns1="` + NamespaceSOAP12 + `"/>` +
			`<soap:SupportedEnvelope qname="ns2:Envelope" xmlns:ns2="` + NamespaceSOAP11 + `"/>` +
			`</soap:Upgrade></soap:Header>`)
	case kindMustUnderstand:
		// SOAP 1.2 part 1 section 5.4.8: name each header not understood.
		var blocks []xml.Name
		for _, n := range f.NotUnderstood {
			// A name the decoder could not resolve to a namespace, or whose
			// local part is not an NCName, cannot be written as a QName.
			if n.Local != "" && !strings.Contains(n.Local, ":") && len(blocks) < maxNotUnderstood {
				blocks = append(blocks, n)
			}
		}
		if len(blocks) > 0 {
			b.WriteString(`<soap:Header>`)
			for _, n := range blocks {
				b.WriteString(`<soap:NotUnderstood qname="`)
				if n.Space == "" {
					esc(n.Local)
					b.WriteString(`"/>`)
					continue
				}
				b.WriteString(`h:`)
				esc(n.Local)
				b.WriteString(`" xmlns:h="`)
				esc(n.Space)
				b.WriteString(`"/>`)
			}
			b.WriteString(`</soap:Header>`)
		}
	}
	b.WriteString(`<soap:Body><soap:Fault><soap:Code><soap:Value>soap:`)
	b.WriteString([...]string{kindServer: "Receiver", kindClient: "Sender",
		kindVersionMismatch: "VersionMismatch", kindMustUnderstand: "MustUnderstand"}[kind])
	b.WriteString(`</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">`)
	esc(f.message())
	b.WriteString(`</soap:Text></soap:Reason><soap:Detail>`)
	detail()
	b.WriteString(`</soap:Detail></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}
