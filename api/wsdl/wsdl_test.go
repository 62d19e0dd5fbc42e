package wsdl

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paywire/paywire/api/wsdl/wsdltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	paymentNamespace  = "urn:paywire:payment:1"
	listenerNamespace = "urn:paywire:listener:1"
)

// operations are PaymentService's operations, in the order of the WSDL.
var operations = []string{
	"getRedirectData", "createPayment", "capturePayment", "cancelPayment",
	"refundPayment", "getPaymentDetails", "getAvailablePaymentMethods",
}

// definitions is as much of a WSDL 1.1 document as the tests check.
type definitions struct {
	Name            string `xml:"name,attr"`
	TargetNamespace string `xml:"targetNamespace,attr"`
	Schema          struct {
		TargetNamespace    string `xml:"targetNamespace,attr"`
		ElementFormDefault string `xml:"elementFormDefault,attr"`
		Elements           []struct {
			Name string `xml:"name,attr"`
		} `xml:"http://www.w3.org/2001/XMLSchema element"`
		SimpleTypes []simpleType `xml:"http://www.w3.org/2001/XMLSchema simpleType"`
	} `xml:"types>schema"`
	Messages []struct {
		Name  string `xml:"name,attr"`
		Parts []struct {
			Name    string `xml:"name,attr"`
			Element string `xml:"element,attr"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/ part"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ message"`
	PortTypes []struct {
		Name       string `xml:"name,attr"`
		Operations []struct {
			Name   string `xml:"name,attr"`
			Input  ref    `xml:"http://schemas.xmlsoap.org/wsdl/ input"`
			Output ref    `xml:"http://schemas.xmlsoap.org/wsdl/ output"`
			Faults []ref  `xml:"http://schemas.xmlsoap.org/wsdl/ fault"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/ operation"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ portType"`
	Bindings []struct {
		Name       string    `xml:"name,attr"`
		Type       string    `xml:"type,attr"`
		Soap11     *protocol `xml:"http://schemas.xmlsoap.org/wsdl/soap/ binding"`
		Soap12     *protocol `xml:"http://schemas.xmlsoap.org/wsdl/soap12/ binding"`
		Operations []struct {
			Name   string    `xml:"name,attr"`
			Soap11 *protocol `xml:"http://schemas.xmlsoap.org/wsdl/soap/ operation"`
			Soap12 *protocol `xml:"http://schemas.xmlsoap.org/wsdl/soap12/ operation"`
			Input  bodies    `xml:"http://schemas.xmlsoap.org/wsdl/ input"`
			Output bodies    `xml:"http://schemas.xmlsoap.org/wsdl/ output"`
			Faults []ref     `xml:"http://schemas.xmlsoap.org/wsdl/ fault"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/ operation"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ binding"`
	Services []struct {
		Name  string `xml:"name,attr"`
		Ports []struct {
			Name      string    `xml:"name,attr"`
			Binding   string    `xml:"binding,attr"`
			Address11 *protocol `xml:"http://schemas.xmlsoap.org/wsdl/soap/ address"`
			Address12 *protocol `xml:"http://schemas.xmlsoap.org/wsdl/soap12/ address"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/ port"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ service"`
}

type ref struct {
	Name    string `xml:"name,attr"`
	Message string `xml:"message,attr"`
}

// bodies are the soap:body or soap12:body elements of a bound input or
// output.
type bodies struct {
	Body []struct {
		Use string `xml:"use,attr"`
	} `xml:"body"`
}

// literal reports whether b is one literal body, without the parts or
// encodingStyle that rpc/encoded bindings carry.
func (b bodies) literal() bool { return len(b.Body) == 1 && b.Body[0].Use == "literal" }

type protocol struct {
	Style      string `xml:"style,attr"`
	Transport  string `xml:"transport,attr"`
	SoapAction string `xml:"soapAction,attr"`
	Location   string `xml:"location,attr"`
}

type simpleType struct {
	Name        string `xml:"name,attr"`
	Restriction struct {
		Base   string `xml:"base,attr"`
		Facets string `xml:",innerxml"`
	} `xml:"http://www.w3.org/2001/XMLSchema restriction"`
}

func parse(t *testing.T, doc []byte) definitions {
	t.Helper()
	var d definitions
	if err := xml.Unmarshal(doc, &d); err != nil {
		t.Fatalf("the WSDL is not well-formed: %v", err)
	}
	return d
}

func TestGolden(t *testing.T) {
	tests := []struct {
		file string
		doc  []byte
	}{
		{"PaymentService.wsdl.golden", PaymentService("http://localhost:8080/soap/PaymentService")},
		{"PaymentServiceListener.wsdl.golden", PaymentServiceListener("http://localhost:8080/soap/PaymentServiceListener")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, tt.doc, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./api/wsdl -update to create it)", err)
			}
			if !bytes.Equal(tt.doc, want) {
				t.Errorf("%s is stale; run go test ./api/wsdl -update and review the diff", path)
			}
		})
	}
}

func TestWellFormed(t *testing.T) {
	for name, doc := range map[string][]byte{
		"PaymentService":         PaymentService("http://localhost:8080/soap/PaymentService"),
		"PaymentServiceListener": PaymentServiceListener(""),
		"Schema":                 Schema(),
		"ListenerSchema":         ListenerSchema(),
	} {
		t.Run(name, func(t *testing.T) {
			d := xml.NewDecoder(bytes.NewReader(doc))
			for {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("encoding/xml: %v", err)
				}
			}
			if err := wsdltest.WellFormed(t, doc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSchemasCompile(t *testing.T) {
	for name, schema := range map[string][]byte{"Schema": Schema(), "ListenerSchema": ListenerSchema()} {
		t.Run(name, func(t *testing.T) {
			if err := wsdltest.CompileSchema(t, schema); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSchemaConstrains validates sample instances: the valid ones pass and
// each invalid one fails, so the schema states the contract rather than
// accepting anything.
func TestSchemaConstrains(t *testing.T) {
	const payment = `<paymentId>pay_1</paymentId><merchantReference>order-1</merchantReference><kind>DEPOSIT</kind>` +
		`<state>COMPLETED</state><amount>12.34</amount><currency>EUR</currency><capturedAmount>12.34</capturedAmount>` +
		`<refundedAmount>0</refundedAmount><createdAt>2026-03-01T12:00:00.000Z</createdAt>` +
		`<updatedAt>2026-03-01T12:00:01.000Z</updatedAt><version>2</version>`
	capture := func(amount string) string {
		return `<capturePayment xmlns="urn:paywire:payment:1"><paymentId>pay_1</paymentId><amount>` + amount + `</amount></capturePayment>`
	}
	backend := func(endUser string) string {
		return `<createPayment xmlns="urn:paywire:payment:1"><merchantReference>r</merchantReference><kind>DEPOSIT</kind><amount>1</amount>` +
			`<currency>EUR</currency><endUser><id>u1</id><country>DE</country>` + endUser + `</endUser><paymentMethod>card</paymentMethod></createPayment>`
	}
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		{"response", `<cancelPaymentResponse xmlns="urn:paywire:payment:1"><payment>` + payment + `</payment></cancelPaymentResponse>`, true},
		{"prefixed elements", `<p:cancelPayment xmlns:p="urn:paywire:payment:1"><p:paymentId>pay_1</p:paymentId></p:cancelPayment>`, true},
		{"capture without amount", `<capturePayment xmlns="urn:paywire:payment:1"><paymentId>pay_1</paymentId></capturePayment>`, true},
		{"capture of 5", capture("5"), true},
		{"details by reference", `<getPaymentDetails xmlns="urn:paywire:payment:1"><merchantReference>order-1</merchantReference></getPaymentDetails>`, true},
		{"fault", `<fault xmlns="urn:paywire:payment:1"><code>NOT_FOUND</code><message>no such payment</message></fault>`, true},
		{"unqualified children", `<p:cancelPayment xmlns:p="urn:paywire:payment:1"><paymentId>pay_1</paymentId></p:cancelPayment>`, false},
		{"another namespace", `<cancelPayment xmlns="urn:paywire:payment:2"><paymentId>pay_1</paymentId></cancelPayment>`, false},
		{"unknown state", `<cancelPaymentResponse xmlns="urn:paywire:payment:1"><payment>` + strings.Replace(payment, "COMPLETED", "DONE", 1) + `</payment></cancelPaymentResponse>`, false},
		{"lower-case currency", `<cancelPaymentResponse xmlns="urn:paywire:payment:1"><payment>` + strings.Replace(payment, "EUR", "eur", 1) + `</payment></cancelPaymentResponse>`, false},
		{"time without date", `<cancelPaymentResponse xmlns="urn:paywire:payment:1"><payment>` + strings.Replace(payment, "2026-03-01T12:00:00.000Z", "12:00", 1) + `</payment></cancelPaymentResponse>`, false},
		{"capture of 0", capture("0.00"), false},
		{"negative amount", capture("-1"), false},
		{"exponent", capture("1E3"), false},
		{"plus sign", capture("+1"), false},
		{"no whole part", capture(".5"), false},
		{"empty amount", capture(""), false},
		{"details by both", `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>pay_1</paymentId><merchantReference>order-1</merchantReference></getPaymentDetails>`, false},
		{"reference too long", `<getPaymentDetails xmlns="urn:paywire:payment:1"><merchantReference>` + strings.Repeat("r", 129) + `</merchantReference></getPaymentDetails>`, false},
		{"end user's optional facts", backend(`<ip>192.0.2.7</ip><deviceId>dev-1</deviceId><billingCountry>AT</billingCountry><registeredAt>2024-07-15T09:30:00Z</registeredAt>`), true},
		{"registration time alone", backend(`<registeredAt>2024-07-15T11:30:00+02:00</registeredAt>`), true},
		{"lower-case billing country", backend(`<billingCountry>at</billingCountry>`), false},
		{"device id too long", backend(`<deviceId>` + strings.Repeat("d", 129) + `</deviceId>`), false},
		{"registration date without a time", backend(`<registeredAt>2024-07-15</registeredAt>`), false},
		{"optional facts before ip", backend(`<deviceId>dev-1</deviceId><ip>192.0.2.7</ip>`), false},
		{"missing endUser", `<createPayment xmlns="urn:paywire:payment:1"><merchantReference>r</merchantReference><kind>DEPOSIT</kind><amount>1</amount><currency>EUR</currency><paymentMethod>card</paymentMethod></createPayment>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wsdltest.Validate(t, Schema(), []byte(tt.doc))
			if tt.valid && err != nil {
				t.Errorf("refused a valid document: %v", err)
			}
			if !tt.valid && err == nil {
				t.Errorf("accepted an invalid document: %s", tt.doc)
			}
		})
	}
}

func TestListenerSchemaConstrains(t *testing.T) {
	event := `<handlePaymentStateChangedEvent xmlns="urn:paywire:payment:1"><eventId>evt_1</eventId><paymentId>pay_1</paymentId>` +
		`<merchantReference>order-1</merchantReference><previousState>PENDING</previousState><newState>COMPLETED</newState>` +
		`<amount>12.34</amount><currency>EUR</currency><sequenceNumber>3</sequenceNumber><occurredAt>2026-03-01T12:00:00.000Z</occurredAt>` +
		`</handlePaymentStateChangedEvent>`
	for _, doc := range []string{
		event,
		`<handlePaymentStateChangedEventResponse xmlns="urn:paywire:payment:1"/>`,
		`<handlePaymentStateChangedEventResponse xmlns="urn:paywire:payment:1"><acknowledged>true</acknowledged></handlePaymentStateChangedEventResponse>`,
	} {
		if err := wsdltest.Validate(t, ListenerSchema(), []byte(doc)); err != nil {
			t.Errorf("refused a valid document: %v", err)
		}
	}
	for _, doc := range []string{
		strings.Replace(event, "<sequenceNumber>3", "<sequenceNumber>three", 1),
		strings.Replace(event, "<newState>COMPLETED</newState>", "", 1),
		`<handlePaymentStateChangedEventResponse xmlns="urn:paywire:payment:1"><acknowledged>maybe</acknowledged></handlePaymentStateChangedEventResponse>`,
		`<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>pay_1</paymentId></getPaymentDetails>`,
	} {
		if err := wsdltest.Validate(t, ListenerSchema(), []byte(doc)); err == nil {
			t.Errorf("accepted an invalid document: %s", doc)
		}
	}
}

// TestPaymentServiceContract checks what generated clients depend on:
// document/literal wrapped operations with their fault, SOAP 1.1 and 1.2
// bindings with the agreed SOAPActions, and one address per port.
func TestPaymentServiceContract(t *testing.T) {
	const endpoint = "https://pay.example/soap/PaymentService"
	d := parse(t, PaymentService(endpoint))
	if d.TargetNamespace != paymentNamespace || d.Schema.TargetNamespace != paymentNamespace || d.Schema.ElementFormDefault != "qualified" {
		t.Errorf("namespaces: definitions %q, schema %q, elementFormDefault %q", d.TargetNamespace, d.Schema.TargetNamespace, d.Schema.ElementFormDefault)
	}
	checkOperations(t, d, "tns:", operations, "PaymentServiceFault", "fault")

	if len(d.Bindings) != 2 {
		t.Fatalf("%d bindings, want SOAP 1.1 and SOAP 1.2", len(d.Bindings))
	}
	for _, b := range d.Bindings {
		soap12 := b.Soap12 != nil
		if (b.Soap11 == nil) == (b.Soap12 == nil) {
			t.Errorf("binding %s is not exactly one of SOAP 1.1 and SOAP 1.2", b.Name)
			continue
		}
		transport := b.Soap11
		if soap12 {
			transport = b.Soap12
		}
		if transport.Style != "document" || transport.Transport != "http://schemas.xmlsoap.org/soap/http" {
			t.Errorf("binding %s: %+v", b.Name, *transport)
		}
		var names []string
		for _, op := range b.Operations {
			names = append(names, op.Name)
			action := op.Soap11
			if soap12 {
				action = op.Soap12
			}
			if action == nil || action.SoapAction != paymentNamespace+"#"+op.Name {
				t.Errorf("binding %s, %s: SOAPAction %+v", b.Name, op.Name, action)
			}
			if len(op.Faults) != 1 || op.Faults[0].Name != "PaymentServiceFault" {
				t.Errorf("binding %s, %s: faults %+v", b.Name, op.Name, op.Faults)
			}
			if !op.Input.literal() || !op.Output.literal() {
				t.Errorf("binding %s, %s: input %+v, output %+v, want one literal body each", b.Name, op.Name, op.Input, op.Output)
			}
		}
		if !slices.Equal(names, operations) {
			t.Errorf("binding %s binds %v, want %v", b.Name, names, operations)
		}
	}

	if len(d.Services) != 1 || len(d.Services[0].Ports) != 2 {
		t.Fatalf("services %+v, want one with two ports", d.Services)
	}
	for _, p := range d.Services[0].Ports {
		switch {
		case p.Address11 != nil && p.Address12 == nil && p.Address11.Location == endpoint:
		case p.Address12 != nil && p.Address11 == nil && p.Address12.Location == endpoint:
		default:
			t.Errorf("port %s has no single address at %s", p.Name, endpoint)
		}
	}
}

func TestListenerContract(t *testing.T) {
	const endpoint = "https://shop.example/paywire/listener"
	d := parse(t, PaymentServiceListener(endpoint))
	if d.TargetNamespace != listenerNamespace || d.Schema.TargetNamespace != paymentNamespace || d.Schema.ElementFormDefault != "qualified" {
		t.Errorf("namespaces: definitions %q, schema %q, elementFormDefault %q", d.TargetNamespace, d.Schema.TargetNamespace, d.Schema.ElementFormDefault)
	}
	checkOperations(t, d, "pw:", []string{"handlePaymentStateChangedEvent"}, "PaymentServiceListenerFault", "fault")
	if len(d.Bindings) != 1 || d.Bindings[0].Soap11 == nil || len(d.Bindings[0].Operations) != 1 ||
		d.Bindings[0].Operations[0].Soap11 == nil ||
		d.Bindings[0].Operations[0].Soap11.SoapAction != listenerNamespace+"#handlePaymentStateChangedEvent" {
		t.Errorf("binding %+v", d.Bindings)
	}
	if len(d.Services) != 1 || len(d.Services[0].Ports) != 1 || d.Services[0].Ports[0].Address11 == nil ||
		d.Services[0].Ports[0].Address11.Location != endpoint {
		t.Errorf("service %+v", d.Services)
	}
}

// checkOperations checks the portType and messages of a WSDL: each
// operation's input is the element named for it, its output the element
// with "Response" appended, and it declares the one fault; every element is
// declared in the schema.
func checkOperations(t *testing.T, d definitions, prefix string, ops []string, faultMessage, faultElement string) {
	t.Helper()
	parts := make(map[string]string) // message name -> element of its one part
	for _, m := range d.Messages {
		if len(m.Parts) != 1 {
			t.Errorf("message %s has %d parts, want 1", m.Name, len(m.Parts))
			continue
		}
		want := "parameters"
		if m.Name == faultMessage {
			want = "fault"
		}
		if m.Parts[0].Name != want {
			t.Errorf("message %s: part %q, want %q", m.Name, m.Parts[0].Name, want)
		}
		parts["tns:"+m.Name] = m.Parts[0].Element
	}
	declared := make(map[string]bool)
	for _, e := range d.Schema.Elements {
		declared[prefix+e.Name] = true
	}
	if len(d.PortTypes) != 1 {
		t.Fatalf("%d port types, want 1", len(d.PortTypes))
	}
	var names []string
	for _, op := range d.PortTypes[0].Operations {
		names = append(names, op.Name)
		if got := parts[op.Input.Message]; got != prefix+op.Name {
			t.Errorf("%s: input element %q, want %s%s", op.Name, got, prefix, op.Name)
		}
		if got := parts[op.Output.Message]; got != prefix+op.Name+"Response" {
			t.Errorf("%s: output element %q, want %s%sResponse", op.Name, got, prefix, op.Name)
		}
		if len(op.Faults) != 1 || op.Faults[0].Name != faultMessage || parts[op.Faults[0].Message] != prefix+faultElement {
			t.Errorf("%s: faults %+v", op.Name, op.Faults)
		}
	}
	if !slices.Equal(names, ops) {
		t.Errorf("operations %v, want %v", names, ops)
	}
	for _, element := range parts {
		if !declared[element] {
			t.Errorf("element %s is used by a message but not declared in the schema", element)
		}
	}
}

// TestSharedTypesAgree checks that the simple types both schemas declare
// are the same, so that a state or amount the listener receives is one
// PaymentService would return.
func TestSharedTypesAgree(t *testing.T) {
	payment := parse(t, PaymentService(""))
	listener := parse(t, PaymentServiceListener(""))
	facets := func(st simpleType) string {
		return st.Restriction.Base + " " + strings.Join(strings.Fields(st.Restriction.Facets), " ")
	}
	types := make(map[string]string)
	for _, st := range payment.Schema.SimpleTypes {
		types[st.Name] = facets(st)
	}
	if len(listener.Schema.SimpleTypes) == 0 {
		t.Fatal("the listener schema declares no simple types")
	}
	for _, st := range listener.Schema.SimpleTypes {
		if want, ok := types[st.Name]; !ok || facets(st) != want {
			t.Errorf("listener type %s is %q, PaymentService's is %q", st.Name, facets(st), want)
		}
	}
}

// TestPlain keeps the WSDLs within what every client generator reads: no
// imports or includes of other documents, no WS-Policy, no dots in names.
func TestPlain(t *testing.T) {
	for name, doc := range map[string][]byte{"PaymentService": PaymentService(""), "PaymentServiceListener": PaymentServiceListener("")} {
		t.Run(name, func(t *testing.T) {
			d := xml.NewDecoder(bytes.NewReader(doc))
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				start, ok := tok.(xml.StartElement)
				if !ok {
					continue
				}
				switch start.Name.Local {
				case "import", "include", "redefine", "Policy", "PolicyReference", "UsingPolicy":
					t.Errorf("element %v", start.Name)
				}
				for _, a := range start.Attr {
					if a.Name.Local == "name" && strings.Contains(a.Value, ".") {
						t.Errorf("name %q contains a dot", a.Value)
					}
				}
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	const tricky = `https://pay.example/soap/PaymentService?a=1&b="2"<3>`
	d := parse(t, PaymentService(tricky))
	for _, p := range d.Services[0].Ports {
		for _, a := range []*protocol{p.Address11, p.Address12} {
			if a != nil && a.Location != tricky {
				t.Errorf("port %s: location %q, want %q", p.Name, a.Location, tricky)
			}
		}
	}
	if err := wsdltest.WellFormed(t, PaymentService(tricky)); err != nil {
		t.Error(err)
	}

	// Without an endpoint the placeholders stay, and rendering never
	// changes the embedded documents.
	if !bytes.Equal(PaymentService(""), []byte(paymentService)) || !bytes.Equal(PaymentServiceListener(""), []byte(paymentServiceListener)) {
		t.Error("an empty endpoint changed the document")
	}
	if n := strings.Count(paymentService, `location="`+paymentServicePlaceholder+`"`); n != 2 {
		t.Errorf("PaymentService has %d placeholder addresses, want 2", n)
	}
	if n := strings.Count(paymentServiceListener, `location="`+listenerEndpointPlaceholder+`"`); n != 1 {
		t.Errorf("the listener has %d placeholder addresses, want 1", n)
	}
	b := PaymentService("x")
	b[0] = 'X'
	if PaymentService("x")[0] != '<' {
		t.Error("callers can modify the embedded document")
	}
}
