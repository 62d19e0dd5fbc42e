package message_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
	"github.com/paywire/paywire/api/wsdl"
	"github.com/paywire/paywire/api/wsdl/wsdltest"
)

var (
	messageTime  = message.DateTime{Time: time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC)}
	messageLater = message.DateTime{Time: time.Date(2026, 3, 1, 12, 5, 30, 0, time.UTC)}
)

func messagePayment() message.Payment {
	return message.Payment{
		PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", MerchantReference: "order-1001",
		Kind: "DEPOSIT", State: "PARTIALLY_REFUNDED", Amount: "12.34", Currency: "EUR",
		CapturedAmount: "12.34", RefundedAmount: "1.50", PaymentMethod: "card", Provider: "sandbox",
		CreatedAt: messageTime, UpdatedAt: messageLater, Version: 5,
	}
}

func messageEndUser() message.EndUser {
	registered := message.DateTime{Time: time.Date(2024, 7, 15, 9, 30, 0, 0, time.UTC)}
	return message.EndUser{ID: "user-42", Email: "jane@example.com", Country: "DE", Language: "de-AT", IP: "2001:db8::7",
		DeviceID: "dev-7f3a9c", BillingCountry: "AT", RegisteredAt: &registered}
}

// messagePopulated returns a value of every message type with every field
// set, requests and responses of each operation and the listener's.
func messagePopulated() []any {
	five := "5.00"
	yes := true
	return []any{
		&message.GetRedirectDataRequest{
			MerchantReference: "order-1001", Kind: "DEPOSIT", Amount: "12.34", Currency: "EUR",
			EndUser: messageEndUser(),
			ReturnURLs: message.ReturnURLs{
				Success: "https://shop.example/ok?o=1&s=2", Error: "https://shop.example/error",
				Cancel: "https://shop.example/cancel", Refused: "https://shop.example/refused",
				Pending: "https://shop.example/pending",
			},
			PaymentMethod: "card", NotificationURL: "https://shop.example/paywire/listener",
		},
		&message.GetRedirectDataResponse{
			PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", RedirectURL: "https://pay.example/pay/abc",
			HTTPMethod: "POST",
			PostFields: message.PostFields{Field: []message.PostField{{Name: "token", Value: "t<&>1"}, {Name: "lang", Value: "de"}}},
			ExpiresAt:  messageLater,
		},
		&message.CreatePaymentRequest{
			MerchantReference: "payout-77", Kind: "WITHDRAWAL", Amount: "250", Currency: "JPY",
			EndUser: messageEndUser(), PaymentMethod: "card",
			SourcePaymentID: "pay_bcdefghijklmnopqrstuvwxyza", NotificationURL: "https://shop.example/paywire/listener",
		},
		&message.CreatePaymentResponse{Payment: messagePayment()},
		&message.CapturePaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", Amount: &five},
		&message.CapturePaymentResponse{Payment: messagePayment()},
		&message.CancelPaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz"},
		&message.CancelPaymentResponse{Payment: messagePayment()},
		&message.RefundPaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", Amount: "1.50", RefundReference: "refund-1"},
		&message.RefundPaymentResponse{Payment: messagePayment()},
		// Both halves of the choice are set here so that the round trip
		// covers both fields; the schema allows only one at a time.
		&message.GetPaymentDetailsRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", MerchantReference: "order-1001"},
		&message.GetPaymentDetailsResponse{
			Payment: messagePayment(),
			Events: message.Events{Event: []message.Event{
				{SequenceNumber: 1, PreviousState: "CREATED", NewState: "PENDING", Amount: "0", Reason: "sent to provider", OccurredAt: messageTime},
				{SequenceNumber: 2, PreviousState: "PENDING", NewState: "COMPLETED", Amount: "12.34", Reason: "captured", OccurredAt: messageLater},
			}},
		},
		&message.GetAvailablePaymentMethodsRequest{
			Kind: "DEPOSIT", Amount: "99.99", Currency: "EUR", Country: "AT", Language: "de", EndUserID: "user-42",
		},
		&message.GetAvailablePaymentMethodsResponse{Methods: message.PaymentMethods{Method: []message.PaymentMethod{
			{Name: "card", MinAmount: "1.00", MaxAmount: "5000.00"},
			{Name: "bank_redirect", MinAmount: "10", MaxAmount: "100000"},
		}}},
		&message.HandlePaymentStateChangedEventRequest{
			EventID: "evt_abcdefghijklmnopqrstuvwxyz", PaymentID: "pay_abcdefghijklmnopqrstuvwxyz",
			MerchantReference: "order-1001", PreviousState: "PENDING", NewState: "COMPLETED",
			Amount: "12.34", Currency: "EUR", SequenceNumber: 3, OccurredAt: messageTime,
		},
		&message.HandlePaymentStateChangedEventResponse{Acknowledged: &yes},
	}
}

// messageMinimal returns values with only the required fields set: optional
// elements are left out and list wrappers are empty.
func messageMinimal() []any {
	p := messagePayment()
	p.PaymentMethod, p.Provider = "", ""
	p.State, p.CapturedAmount, p.RefundedAmount = "CREATED", "0", "0"
	return []any{
		&message.GetRedirectDataRequest{
			MerchantReference: "r", Kind: "WITHDRAWAL", Amount: "0.01", Currency: "BHD",
			EndUser: message.EndUser{ID: "u", Country: "BH"},
			ReturnURLs: message.ReturnURLs{Success: "https://s.example/", Error: "https://s.example/",
				Cancel: "https://s.example/", Refused: "https://s.example/", Pending: "https://s.example/"},
		},
		&message.GetRedirectDataResponse{PaymentID: "pay_1", RedirectURL: "https://pay.example/p/1", HTTPMethod: "GET", ExpiresAt: messageTime},
		&message.CreatePaymentRequest{MerchantReference: "r", Kind: "DEPOSIT", Amount: "1", Currency: "EUR",
			EndUser: message.EndUser{ID: "u", Country: "DE"}, PaymentMethod: "card"},
		&message.CapturePaymentRequest{PaymentID: "pay_1"},
		&message.RefundPaymentRequest{PaymentID: "pay_1", Amount: "1"},
		&message.GetPaymentDetailsRequest{PaymentID: "pay_1"},
		&message.GetPaymentDetailsRequest{MerchantReference: "order-1001"},
		&message.GetPaymentDetailsResponse{Payment: p, Events: message.Events{Event: []message.Event{{SequenceNumber: 1, NewState: "CREATED", OccurredAt: messageTime}}}},
		&message.GetAvailablePaymentMethodsRequest{Kind: "DEPOSIT", Amount: "1", Currency: "EUR", Country: "DE"},
		&message.GetAvailablePaymentMethodsResponse{},
		&message.HandlePaymentStateChangedEventRequest{EventID: "evt_1", PaymentID: "pay_1", MerchantReference: "r",
			NewState: "CREATED", Amount: "1", Currency: "EUR", SequenceNumber: 1, OccurredAt: messageTime},
		&message.HandlePaymentStateChangedEventResponse{},
	}
}

func messageName(v any) string { return reflect.TypeOf(v).Elem().Name() }

// messageElement returns the namespace and local name of a message type's
// XMLName tag.
func messageElement(t reflect.Type) (string, string) {
	f, ok := t.FieldByName("XMLName")
	if !ok {
		return "", ""
	}
	space, local, _ := strings.Cut(f.Tag.Get("xml"), " ")
	return space, local
}

// checkPopulated fails for any zero field in v, so that the round trip
// covers every field.
func checkPopulated(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	if dt, ok := v.Interface().(message.DateTime); ok {
		if dt.IsZero() {
			t.Errorf("%s is zero", path)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		checkPopulated(t, path, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.Name != "XMLName" {
				checkPopulated(t, path+"."+f.Name, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		for i := range v.Len() {
			checkPopulated(t, path, v.Index(i))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, v := range messagePopulated() {
		t.Run(messageName(v), func(t *testing.T) {
			checkPopulated(t, messageName(v), reflect.ValueOf(v))
			first, err := xml.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := xml.Unmarshal(first, back); err != nil {
				t.Fatalf("Unmarshal %s: %v", first, err)
			}
			// The XMLName read back is the only field the original lacks.
			reflect.ValueOf(v).Elem().FieldByName("XMLName").Set(reflect.ValueOf(back).Elem().FieldByName("XMLName"))
			if !reflect.DeepEqual(v, back) {
				t.Errorf("round trip changed the message:\n got %+v\nwant %+v", back, v)
			}
			second, err := xml.Marshal(back)
			if err != nil || !bytes.Equal(first, second) {
				t.Errorf("marshalled again: %v\n%s\n%s", err, second, first)
			}
		})
	}
}

// TestMessageSchema marshals every message, populated and minimal, as
// Paywire sends and receives them and validates each against the schema
// published in the WSDL, which is what merchants' generated clients trust.
func TestMessageSchema(t *testing.T) {
	var messages []any
	for _, v := range messagePopulated() {
		if r, ok := v.(*message.GetPaymentDetailsRequest); ok {
			r.MerchantReference = "" // a choice: one of the two
		}
		messages = append(messages, v)
	}
	messages = append(messages, messageMinimal()...)
	for i, v := range messages {
		name := messageName(v)
		if i >= len(messagePopulated()) {
			name += "/minimal"
		}
		t.Run(name, func(t *testing.T) {
			doc, err := xml.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			schema := wsdl.Schema()
			if strings.HasPrefix(messageName(v), "HandlePaymentStateChangedEvent") {
				schema = wsdl.ListenerSchema()
			}
			if err := wsdltest.Validate(t, schema, doc); err != nil {
				t.Errorf("%v\n%s", err, doc)
			}
		})
	}
}

// TestMessageSchemaRefusesBadValues shows that the validation above is not
// vacuous: a message with a value outside the schema fails it.
func TestMessageSchemaRefusesBadValues(t *testing.T) {
	p := messagePayment()
	p.State = "completed" // the domain's spelling, not the wire's
	doc, err := xml.Marshal(&message.CancelPaymentResponse{Payment: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := wsdltest.Validate(t, wsdl.Schema(), doc); err == nil {
		t.Errorf("the schema accepted state %q", p.State)
	}
}

// TestMessageOperations matches the Go types to the WSDL: every operation
// has a request type named for its element and a response type for the
// element with "Response" appended, both in PaymentNamespace.
func TestMessageOperations(t *testing.T) {
	var defs struct {
		Operations []struct {
			Name string `xml:"name,attr"`
		} `xml:"portType>operation"`
	}
	types := make(map[string]reflect.Type) // element local name -> Go type
	for _, v := range messagePopulated() {
		typ := reflect.TypeOf(v).Elem()
		space, local := messageElement(typ)
		if space != message.PaymentNamespace {
			t.Errorf("%s is in namespace %q", typ.Name(), space)
		}
		types[local] = typ
	}
	for _, doc := range [][]byte{wsdl.PaymentService(""), wsdl.PaymentServiceListener("")} {
		if err := xml.Unmarshal(doc, &defs); err != nil {
			t.Fatal(err)
		}
		if len(defs.Operations) == 0 {
			t.Fatal("no operations in the WSDL")
		}
		for _, op := range defs.Operations {
			upper := strings.ToUpper(op.Name[:1]) + op.Name[1:]
			if typ := types[op.Name]; typ == nil || typ.Name() != upper+"Request" {
				t.Errorf("operation %s: request type %v, want message.%sRequest", op.Name, typ, upper)
			}
			if typ := types[op.Name+"Response"]; typ == nil || typ.Name() != upper+"Response" {
				t.Errorf("operation %s: response type %v, want message.%sResponse", op.Name, typ, upper)
			}
		}
	}
}

// TestMessageSamples reads the sample envelopes of various SOAP clients
// with package soap and unmarshals their bodies into the message types, as
// the handler does.
func TestMessageSamples(t *testing.T) {
	five, fullCapture := "5.00", (*string)(nil)
	tests := map[string]any{
		"getRedirectData-dotnet-soap11.xml": &message.GetRedirectDataRequest{
			MerchantReference: "order-1001", Kind: "DEPOSIT", Amount: "12.34", Currency: "EUR",
			EndUser: message.EndUser{ID: "user-42", Email: "jane@example.com", Country: "DE", Language: "de-AT", IP: "203.0.113.7"},
			ReturnURLs: message.ReturnURLs{Success: "https://shop.example/pay/success?o=1001&s=1", Error: "https://shop.example/pay/error",
				Cancel: "https://shop.example/pay/cancel", Refused: "https://shop.example/pay/refused", Pending: "https://shop.example/pay/pending"},
			PaymentMethod: "card", NotificationURL: "https://shop.example/paywire/listener",
		},
		"createPayment-php-soap11.xml": &message.CreatePaymentRequest{
			MerchantReference: "payout-77", Kind: "WITHDRAWAL", Amount: "250", Currency: "JPY",
			EndUser: message.EndUser{ID: "user-42", Country: "JP"}, PaymentMethod: "card",
			SourcePaymentID: "pay_abcdefghijklmnopqrstuvwxyz",
		},
		"capturePayment-zeep-wssecurity-soap11.xml":    &message.CapturePaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", Amount: &five},
		"capturePayment-bom-soap11.xml":                &message.CapturePaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", Amount: fullCapture},
		"cancelPayment-wcf-wssecurity-soap12.xml":      &message.CancelPaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz"},
		"refundPayment-nodesoap-soap11.xml":            &message.RefundPaymentRequest{PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", Amount: "1.50", RefundReference: "refund-1"},
		"getPaymentDetails-jaxws-soap12.xml":           &message.GetPaymentDetailsRequest{MerchantReference: "order-1001"},
		"getAvailablePaymentMethods-soapui-soap12.xml": &message.GetAvailablePaymentMethodsRequest{Kind: "DEPOSIT", Amount: "99.99", Currency: "EUR", Country: "AT", Language: "de", EndUserID: "user-42"},
		"handlePaymentStateChangedEvent-soap11.xml": &message.HandlePaymentStateChangedEventRequest{
			EventID: "evt_abcdefghijklmnopqrstuvwxyz", PaymentID: "pay_abcdefghijklmnopqrstuvwxyz", MerchantReference: "order-1001",
			PreviousState: "PENDING", NewState: "COMPLETED", Amount: "12.34", Currency: "EUR", SequenceNumber: 3,
			OccurredAt: message.DateTime{Time: time.Date(2026, 3, 1, 11, 0, 0, 123_000_000, time.UTC)},
		},
	}
	files, err := filepath.Glob(filepath.Join("..", "testdata", "soap", "*.xml"))
	if err != nil || len(files) != len(tests) {
		t.Fatalf("%d sample envelopes, %d expectations: %v", len(files), len(tests), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, ok := tests[filepath.Base(file)]
			if !ok {
				t.Fatal("no expectation for this sample")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			req, err := soap.Decode(bytes.NewReader(data), soap.DefaultMaxDepth)
			if err != nil {
				t.Fatal(err)
			}
			space, local := messageElement(reflect.TypeOf(want).Elem())
			if req.Name != (xml.Name{Space: space, Local: local}) {
				t.Fatalf("body element %v, want %s %s", req.Name, space, local)
			}
			got := reflect.New(reflect.TypeOf(want).Elem()).Interface()
			if err := xml.Unmarshal(req.Body, got); err != nil {
				t.Fatalf("Unmarshal %s: %v", req.Body, err)
			}
			if ev, ok := got.(*message.HandlePaymentStateChangedEventRequest); ok {
				// Times compare as instants; the sample is in +01:00.
				w := want.(*message.HandlePaymentStateChangedEventRequest)
				if !ev.OccurredAt.Equal(w.OccurredAt.Time) {
					t.Errorf("occurredAt %v, want %v", ev.OccurredAt, w.OccurredAt)
				}
				ev.OccurredAt = w.OccurredAt
			}
			reflect.ValueOf(want).Elem().FieldByName("XMLName").Set(reflect.ValueOf(got).Elem().FieldByName("XMLName"))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestMessageCaptureAmount(t *testing.T) {
	tests := []struct {
		body string
		want *string
	}{
		{`<capturePayment xmlns="urn:paywire:payment:1"><paymentId>p</paymentId></capturePayment>`, nil},
		{`<capturePayment xmlns="urn:paywire:payment:1"><paymentId>p</paymentId><amount/></capturePayment>`, new("")},
		{`<capturePayment xmlns="urn:paywire:payment:1"><paymentId>p</paymentId><amount>2.50</amount></capturePayment>`, new("2.50")},
	}
	for _, tt := range tests {
		var got message.CapturePaymentRequest
		if err := xml.Unmarshal([]byte(tt.body), &got); err != nil {
			t.Fatal(err)
		}
		if (got.Amount == nil) != (tt.want == nil) || (got.Amount != nil && *got.Amount != *tt.want) {
			t.Errorf("%s: amount %v, want %v", tt.body, got.Amount, tt.want)
		}
	}
}

func TestMessageDateTime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	out := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "2026-03-01T12:00:00.000Z"},
		{time.Date(2026, 3, 1, 13, 0, 0, 123_456_789, berlin), "2026-03-01T12:00:00.123Z"},
		{time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "1999-12-31T23:59:59.999Z"},
	}
	for _, tt := range out {
		got, err := message.DateTime{Time: tt.in}.MarshalText()
		if err != nil || string(got) != tt.want {
			t.Errorf("MarshalText(%v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := (message.DateTime{}).MarshalText(); err == nil {
		t.Error("a zero DateTime was marshalled")
	}
	if _, err := xml.Marshal(&message.CancelPaymentResponse{}); err == nil {
		t.Error("a payment without times was marshalled")
	}

	in := []struct {
		text string
		want time.Time
		ok   bool
	}{
		{"2026-03-01T12:00:00Z", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), true},
		{"2026-03-01T12:00:00.5Z", time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC), true},
		{"2026-03-01T13:00:00.123456+01:00", time.Date(2026, 3, 1, 12, 0, 0, 123_456_000, time.UTC), true},
		{"\n  2026-03-01T12:00:00Z  \n", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), true},
		{"2026-03-01T12:00:00", time.Time{}, false},
		{"2026-03-01", time.Time{}, false},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range in {
		var got message.DateTime
		err := got.UnmarshalText([]byte(tt.text))
		if (err == nil) != tt.ok || (tt.ok && !got.Equal(tt.want)) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tt.text, got, err, tt.want)
		}
	}
}

func TestMessageSOAPActions(t *testing.T) {
	if message.PaymentActionPrefix+"getRedirectData" != "urn:paywire:payment:1#getRedirectData" ||
		message.ListenerActionPrefix+"handlePaymentStateChangedEvent" != "urn:paywire:listener:1#handlePaymentStateChangedEvent" {
		t.Errorf("action prefixes %q, %q", message.PaymentActionPrefix, message.ListenerActionPrefix)
	}
	// The prefixes are the WSDLs' own: each soapAction there starts with one.
	for prefix, doc := range map[string][]byte{
		message.PaymentActionPrefix:  wsdl.PaymentService(""),
		message.ListenerActionPrefix: wsdl.PaymentServiceListener(""),
	} {
		n := bytes.Count(doc, []byte(`soapAction="`))
		if n == 0 || bytes.Count(doc, []byte(`soapAction="`+prefix)) != n {
			t.Errorf("not every soapAction starts with %s", prefix)
		}
	}
}

// TestMessageJSON: the messages the JSON API and JSON webhooks share with
// SOAP read and write the same values in JSON, times included, and never
// expose the XML element name.
func TestMessageJSON(t *testing.T) {
	ev := message.HandlePaymentStateChangedEventRequest{
		EventID: "evt_1", PaymentID: "pay_1", MerchantReference: "order-1", PreviousState: "PENDING", NewState: "COMPLETED",
		Amount: "12.34", Currency: "EUR", SequenceNumber: 3,
		OccurredAt: message.DateTime{Time: time.Date(2026, 3, 1, 13, 0, 0, 123_456_789, time.FixedZone("CET", 3600))},
	}
	b, err := json.Marshal(ev)
	const want = `{"eventId":"evt_1","paymentId":"pay_1","merchantReference":"order-1","previousState":"PENDING","newState":"COMPLETED",` +
		`"amount":"12.34","currency":"EUR","sequenceNumber":3,"occurredAt":"2026-03-01T12:00:00.123Z"}`
	if err != nil || string(b) != want {
		t.Fatalf("JSON %s, %v\nwant %s", b, err, want)
	}
	var back message.HandlePaymentStateChangedEventRequest
	if err := json.Unmarshal(b, &back); err != nil || !back.OccurredAt.Equal(ev.OccurredAt.Time.Truncate(time.Millisecond)) || back.EventID != "evt_1" {
		t.Errorf("read back %+v, %v", back, err)
	}
	if _, err := json.Marshal(message.HandlePaymentStateChangedEventRequest{}); err == nil {
		t.Error("an event without a time was marshalled")
	}
	for _, bad := range []string{`{"occurredAt":"2026-03-01T12:00:00"}`, `{"occurredAt":1772366400}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("read %s", bad)
		}
	}

	start := `{"merchantReference":"order-1","kind":"DEPOSIT","amount":"50.00","currency":"EUR",` +
		`"endUser":{"id":"u1","email":"u1@example.com","country":"DE","language":"de","ip":"192.0.2.7"},` +
		`"returnUrls":{"success":"https://s.example/ok","error":"https://s.example/error","cancel":"https://s.example/cancel","refused":"https://s.example/refused","pending":"https://s.example/pending"},` +
		`"paymentMethod":"card","notificationUrl":"https://s.example/listener"}`
	var req message.GetRedirectDataRequest
	dec := json.NewDecoder(strings.NewReader(start))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	if out, err := json.Marshal(req); err != nil || string(out) != start {
		t.Errorf("start body written back as %s, %v", out, err)
	}
}

// TestMessageEndUserOptional: the end user's optional fields are left out
// when not set, in XML and JSON, and read back as set; a registration time
// without a time zone is refused in both.
func TestMessageEndUserOptional(t *testing.T) {
	bare := message.EndUser{ID: "u1", Country: "DE"}
	if b, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"urn:paywire:payment:1 endUser"`
		message.EndUser
	}{EndUser: bare}); err != nil || string(b) != `<endUser xmlns="urn:paywire:payment:1"><id>u1</id><country>DE</country></endUser>` {
		t.Errorf("XML %s, %v", b, err)
	}
	if b, err := json.Marshal(bare); err != nil || string(b) != `{"id":"u1","country":"DE"}` {
		t.Errorf("JSON %s, %v", b, err)
	}

	const full = `{"id":"u1","country":"DE","deviceId":"dev-1","billingCountry":"AT","registeredAt":"2024-07-15T11:30:00+02:00"}`
	var u message.EndUser
	dec := json.NewDecoder(strings.NewReader(full))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 7, 15, 9, 30, 0, 0, time.UTC)
	if u.DeviceID != "dev-1" || u.BillingCountry != "AT" || u.RegisteredAt == nil || !u.RegisteredAt.Equal(want) {
		t.Errorf("read %+v", u)
	}
	var x message.EndUser
	if err := xml.Unmarshal([]byte(`<endUser><id>u1</id><country>DE</country><deviceId>dev-1</deviceId>`+
		`<billingCountry>AT</billingCountry><registeredAt>2024-07-15T09:30:00Z</registeredAt></endUser>`), &x); err != nil ||
		x.DeviceID != "dev-1" || x.BillingCountry != "AT" || x.RegisteredAt == nil || !x.RegisteredAt.Equal(want) {
		t.Errorf("read %+v, %v", x, err)
	}

	for _, bad := range []string{`{"id":"u1","country":"DE","registeredAt":"2024-07-15T09:30:00"}`, `{"id":"u1","country":"DE","registeredAt":"2024-07-15"}`} {
		if err := json.Unmarshal([]byte(bad), &u); err == nil {
			t.Errorf("read %s", bad)
		}
	}
	if err := xml.Unmarshal([]byte(`<endUser><id>u1</id><country>DE</country><registeredAt>2024-07-15</registeredAt></endUser>`), &x); err == nil {
		t.Error("read a registration date without a time")
	}
}
