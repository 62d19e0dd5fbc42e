package api_test

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
)

// The end user's optional facts (deviceId, billingCountry, registeredAt)
// reach the stored payment from every request that starts one, on both
// transports; a bad value is refused before anything is stored.

// facts are the optional facts as a merchant writes them; empty ones are
// left out of the request.
type facts struct{ deviceID, billingCountry, registeredAt string }

// xml returns the facts as elements of endUser, in schema order.
func (f facts) xml() string {
	var b strings.Builder
	for _, el := range []struct{ name, value string }{
		{"deviceId", f.deviceID}, {"billingCountry", f.billingCountry}, {"registeredAt", f.registeredAt},
	} {
		if el.value != "" {
			b.WriteString("<" + el.name + ">" + el.value + "</" + el.name + ">")
		}
	}
	return b.String()
}

// addTo adds the facts to the endUser object of a JSON body.
func (f facts) addTo(body map[string]any) map[string]any {
	u := maps.Clone(body["endUser"].(map[string]any))
	for name, value := range map[string]string{"deviceId": f.deviceID, "billingCountry": f.billingCountry, "registeredAt": f.registeredAt} {
		if value != "" {
			u[name] = value
		}
	}
	body["endUser"] = u
	return body
}

// outcome is what a request that starts a payment got: created, or
// refused as invalid (JSON 400 invalid; a SOAP INVALID_REQUEST client
// fault), or something else, described.
type outcome string

const (
	created outcome = "created"
	refused outcome = "invalid"
)

// startChannel is one request that starts a payment of shop-a with the
// given merchant reference and end user facts.
type startChannel struct {
	name string
	send func(t *testing.T, e *env, reference string, f facts) outcome
}

func soapStart(v soap.Version, op string) startChannel {
	return startChannel{name: v.String() + " " + op, send: func(t *testing.T, e *env, reference string, f facts) outcome {
		t.Helper()
		var body string
		switch op {
		case "getRedirectData":
			body = strings.Replace(redirectBody("shop-a", reference), "<ip>192.0.2.7</ip></endUser>", "<ip>192.0.2.7</ip>"+f.xml()+"</endUser>", 1)
		case "createPayment":
			src := e.core.Authorized("shop-a", "source-"+reference, "acquirer-a")
			body = `<createPayment xmlns="urn:paywire:payment:1"><merchantReference>` + reference + `</merchantReference>` +
				`<kind>DEPOSIT</kind><amount>10.00</amount><currency>EUR</currency>` +
				`<endUser><id>u1</id><country>DE</country>` + f.xml() + `</endUser>` +
				`<paymentMethod>card</paymentMethod><sourcePaymentId>` + src.ID + `</sourcePaymentId></createPayment>`
		}
		auth := wsse("shop-a", secretA)
		if v == soap.V12 {
			auth = basic("shop-a", secretA)
		}
		r := e.soap(t, v, message.PaymentActionPrefix+op, auth, body)
		clientStatus := http.StatusInternalServerError // SOAP 1.1 sends every fault with 500
		if v == soap.V12 {
			clientStatus = http.StatusBadRequest // a Sender fault
		}
		switch {
		case r.status == http.StatusOK && r.fault() == "" && r.body.Name.Local == op+"Response":
			valid(t, r)
			return created
		case r.status == clientStatus && r.fault() == "INVALID_REQUEST":
			return refused
		}
		return outcome(r.raw)
	}}
}

func jsonStart(path string) startChannel {
	return startChannel{name: "JSON POST " + path, send: func(t *testing.T, e *env, reference string, f facts) outcome {
		t.Helper()
		var body map[string]any
		switch path {
		case "/api/v1/payments":
			body = startBody("shop-a", reference)
		case "/api/v1/backend-payments":
			src := e.core.Authorized("shop-a", "source-"+reference, "acquirer-a")
			body = map[string]any{
				"merchantReference": reference, "kind": "DEPOSIT", "amount": "10.00", "currency": "EUR",
				"endUser": map[string]any{"id": "u1", "country": "DE"}, "paymentMethod": "card", "sourcePaymentId": src.ID,
			}
		}
		r := e.call(t, "POST", path, "shop-a", secretA, f.addTo(body))
		switch {
		case r.status == http.StatusCreated:
			return created
		case r.status == http.StatusBadRequest && errCode(r) == "invalid":
			return refused
		}
		return outcome(http.StatusText(r.status) + " " + errCode(r))
	}}
}

var startChannels = []startChannel{
	soapStart(soap.V11, "getRedirectData"),
	soapStart(soap.V12, "getRedirectData"),
	soapStart(soap.V11, "createPayment"),
	soapStart(soap.V12, "createPayment"),
	jsonStart("/api/v1/payments"),
	jsonStart("/api/v1/backend-payments"),
}

func TestEndUserFacts(t *testing.T) {
	for _, ch := range startChannels {
		t.Run(ch.name, func(t *testing.T) {
			e := newEnv(t)
			// A clock a little ahead of ours is not the future: the
			// merchant's clock may be ahead by seconds.
			soon := e.core.Clock.Now().Add(30 * time.Second).Truncate(time.Millisecond)
			for i, c := range []struct {
				note string
				f    facts
				want paywire.EndUser // the facts as stored
			}{
				{"all three", facts{"dev-7f3a9c21", "AT", "2024-07-15T11:30:00+02:00"},
					paywire.EndUser{DeviceID: "dev-7f3a9c21", BillingCountry: "AT", RegisteredAt: time.Date(2024, 7, 15, 9, 30, 0, 0, time.UTC)}},
				{"a device id of 128 characters", facts{deviceID: strings.Repeat("é", 128)},
					paywire.EndUser{DeviceID: strings.Repeat("é", 128)}},
				{"registered 30 seconds ahead of the server's clock", facts{registeredAt: soon.Format(time.RFC3339Nano)},
					paywire.EndUser{RegisteredAt: soon.UTC()}},
				{"none: a request written before the facts existed", facts{}, paywire.EndUser{}},
			} {
				reference := "facts-" + string(rune('a'+i))
				if got := ch.send(t, e, reference, c.f); got != created {
					t.Errorf("%s: %s; want the payment created", c.note, got)
					continue
				}
				p, err := e.db.PaymentByReference(ctx, "shop-a", reference)
				if err != nil {
					t.Fatalf("%s: %v", c.note, err)
				}
				u := p.EndUser
				if u.DeviceID != c.want.DeviceID || u.BillingCountry != c.want.BillingCountry || !u.RegisteredAt.Equal(c.want.RegisteredAt) {
					t.Errorf("%s: stored device %q, billing country %q, registered %v; want %q, %q, %v", c.note,
						u.DeviceID, u.BillingCountry, u.RegisteredAt, c.want.DeviceID, c.want.BillingCountry, c.want.RegisteredAt)
				}
				if u.ID == "" || u.Country != "DE" {
					t.Errorf("%s: the facts displaced the end user: %+v", c.note, u)
				}
			}
		})
	}
}

func TestEndUserFactsRefused(t *testing.T) {
	for _, ch := range startChannels {
		t.Run(ch.name, func(t *testing.T) {
			e := newEnv(t)
			for i, c := range []struct {
				note  string
				f     facts
				ahead time.Duration // registeredAt this far ahead of the server's clock
			}{
				{note: "a malformed registration date", f: facts{registeredAt: "15.07.2024"}},
				{note: "a registration date without a time", f: facts{registeredAt: "2024-07-15"}},
				{note: "a registration time without a time zone", f: facts{registeredAt: "2024-07-15T09:30:00"}},
				{note: "a lower-case billing country", f: facts{billingCountry: "at"}},
				{note: "a billing country by name", f: facts{billingCountry: "Austria"}},
				{note: "a device id of 129 characters", f: facts{deviceID: strings.Repeat("d", 129)}},
				{note: "a registration 2 minutes in the future", ahead: 2 * time.Minute},
				{note: "a registration next year", ahead: 365 * 24 * time.Hour},
			} {
				if c.ahead != 0 {
					c.f.registeredAt = e.core.Clock.Now().Add(c.ahead).Format(time.RFC3339)
				}
				reference := "refused-" + string(rune('a'+i))
				if got := ch.send(t, e, reference, c.f); got != refused {
					t.Errorf("%s: %s; want it refused as invalid", c.note, got)
				}
				if _, err := e.db.PaymentByReference(ctx, "shop-a", reference); paywire.ErrorCode(err) != paywire.ENOTFOUND {
					t.Errorf("%s: a refused request stored a payment: %v", c.note, err)
				}
			}
		})
	}
}

// TestEndUserFactsMessage: a JSON client learns what is wrong with a
// registration time, in the JSON API's terms.
func TestEndUserFactsMessage(t *testing.T) {
	e := newEnv(t)
	r := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, facts{registeredAt: "2024-07-15"}.addTo(startBody("shop-a", "msg-1")))
	body, _ := r.body["error"].(map[string]any)
	msg, _ := body["message"].(string)
	if r.status != http.StatusBadRequest || !strings.Contains(msg, "RFC 3339 date-time with a time zone") || strings.Contains(msg, "message:") {
		t.Errorf("%d %q", r.status, msg)
	}
}
