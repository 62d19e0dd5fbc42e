package notify

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
)

// Formats of notifications, as Merchant.NotificationFormat names them. An
// empty format is SOAP, as the store defaults it.
const (
	FormatSOAP = "soap"
	FormatJSON = "json"
)

// request is a notification ready to be sent, without its signature.
type request struct {
	body        []byte
	contentType string
	soapAction  string // quoted, for SOAP only
}

// render turns a stored payload into the body the merchant receives, in
// the merchant's format: the listener's message (package api/message) in a
// SOAP 1.1 envelope, or the same message as JSON. States are in upper case
// as the merchant API writes them and occurredAt is an xs:dateTime in UTC
// with milliseconds, so that both formats carry the same values.
func render(format string, stored []byte) (*request, error) {
	var p paywire.NotificationPayload
	if err := json.Unmarshal(stored, &p); err != nil {
		return nil, fmt.Errorf("stored payload is not a notification: %v", err)
	}
	occurred, err := time.Parse(time.RFC3339Nano, p.OccurredAt)
	if err != nil {
		return nil, fmt.Errorf("stored payload has a malformed occurredAt: %v", err)
	}
	// Rows written before states were stored in upper case have them in
	// lower case.
	ev := message.HandlePaymentStateChangedEventRequest{
		EventID: p.EventID, PaymentID: p.PaymentID, MerchantReference: p.MerchantReference,
		PreviousState: strings.ToUpper(p.PreviousState), NewState: strings.ToUpper(p.NewState),
		Amount: p.Amount, Currency: p.Currency, SequenceNumber: p.Seq, OccurredAt: message.DateTime{Time: occurred},
	}

	switch format {
	case FormatJSON:
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		return &request{body: body, contentType: "application/json"}, nil
	case FormatSOAP, "":
		// SOAP 1.1: the version of the listener's WSDL binding, which every
		// toolkit a merchant may generate a listener with understands.
		body, err := soap.Encode(soap.V11, ev)
		if err != nil {
			return nil, err
		}
		return &request{body: body, contentType: soap.V11.ContentType(), soapAction: `"` + message.StateChangedAction + `"`}, nil
	}
	return nil, fmt.Errorf("unknown notification format %q", format)
}

// maxResponse is how much of a merchant's answer is read. The answer
// matters only for SOAP (a fault, acknowledged false); what is beyond is
// ignored.
const maxResponse = 64 << 10

// failure is why a delivery did not count: one of the reason constants
// and a line for people.
type failure struct {
	reason string
	detail string
	// nowhere: there is no URL to send to; retrying cannot help.
	nowhere bool
}

func (f *failure) Error() string { return f.reason + ": " + f.detail }

func fail(reason, format string, args ...any) *failure {
	return &failure{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// judge decides from the merchant's answer whether the notification is
// delivered: a 2xx status, and for SOAP no Fault and no acknowledged
// false. A 2xx answer that is not a SOAP message at all counts as
// delivered: the merchant's server took the notification. Redirects are
// never followed, so a 3xx is a failure like any status outside 2xx.
func judge(format string, status int, body []byte) *failure {
	if format != FormatJSON {
		if f := soapFailure(body); f != nil {
			if status/100 != 2 {
				f.detail = fmt.Sprintf("HTTP %d, %s", status, f.detail)
			}
			return f
		}
	}
	if status/100 != 2 {
		msg := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
		if excerpt := printable(body, 200); excerpt != "" {
			msg += ": " + excerpt
		}
		if status/100 == 3 {
			msg += " (redirects are not followed)"
		}
		return fail(reasonStatus, "%s", msg)
	}
	return nil
}

// soapFailure reads the first element in the Body of a SOAP 1.1 or 1.2
// envelope and returns a failure for a Fault or an acknowledged element
// that is false, nil for anything else.
func soapFailure(body []byte) *failure {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		// A fault is still recognised in an answer declared in another
		// ASCII-compatible encoding; odd bytes only affect the text.
		return r, nil
	}
	inBody := false
	for depth := 0; ; {
		tok, err := d.Token()
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			soapNS := t.Name.Space == soap.NamespaceSOAP11 || t.Name.Space == soap.NamespaceSOAP12
			switch {
			case depth == 1 && !(soapNS && t.Name.Local == "Envelope"):
				return nil
			case depth == 2 && soapNS && t.Name.Local == "Body":
				inBody = true
			case depth == 3 && inBody && soapNS && t.Name.Local == "Fault":
				return fail(reasonFault, "SOAP Fault: %s", faultText(d))
			case depth == 3 && inBody && t.Name.Local == "handlePaymentStateChangedEventResponse":
				if ack, found := acknowledged(d); found && !ack {
					return fail(reasonNotAcknowledged, "the listener answered acknowledged=false")
				}
				return nil
			case depth == 3 && inBody:
				return nil
			}
		case xml.EndElement:
			depth--
			if depth == 1 {
				inBody = false
			}
		}
	}
}

// faultText collects the code and text of a Fault whose start the decoder
// has just read: faultcode and faultstring in SOAP 1.1, Code/Value and
// Reason/Text in SOAP 1.2, and the code and message of Paywire's fault
// detail when a listener built with Paywire's tools sends it.
func faultText(d *xml.Decoder) string {
	var parts []string
	var text strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "faultcode", "faultstring", "Value", "Text", "code", "message":
				if s := strings.TrimSpace(text.String()); s != "" {
					parts = append(parts, s)
				}
			}
			text.Reset()
		}
	}
	s := printable([]byte(strings.Join(parts, " ")), 300)
	if s == "" {
		return "no detail"
	}
	return s
}

// acknowledged reads the children of handlePaymentStateChangedEventResponse
// and reports the value of acknowledged, and whether it was there.
func acknowledged(d *xml.Decoder) (value, found bool) {
	var text strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return false, found
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			depth--
			if depth == 1 && t.Name.Local == "acknowledged" {
				found = true
				switch strings.TrimSpace(text.String()) {
				case "true", "1":
					value = true
				default:
					value = false
				}
				return value, found
			}
		}
	}
	return value, found
}

// printable returns at most n bytes of b as one line of printable text, for
// an error message that people read and a merchant's server wrote.
func printable(b []byte, n int) string {
	var out strings.Builder
	space := false
	for _, r := range string(b) {
		if out.Len() >= n {
			out.WriteString("...")
			break
		}
		switch {
		case unicode.IsSpace(r):
			space = out.Len() > 0
			continue
		case !unicode.IsPrint(r):
			r = '?'
		}
		if space {
			out.WriteByte(' ')
			space = false
		}
		out.WriteRune(r)
	}
	return out.String()
}
