// Package wsdl holds the published contract of Paywire's SOAP services: the
// WSDL of PaymentService, which merchants call, and the WSDL of
// PaymentServiceListener, which merchants implement to be told about state
// changes. Both are embedded and rendered for an endpoint; their XML Schemas
// are available alone for validating messages. The package owns the text of
// the contract only: it must not encode, decode or serve messages.
package wsdl

import (
	_ "embed"
	"encoding/xml"
	"strings"
	"sync"
)

var (
	//go:embed PaymentService.wsdl
	paymentService string

	//go:embed PaymentServiceListener.wsdl
	paymentServiceListener string
)

// The embedded documents carry these addresses in their soap:address
// elements, so that each file is a complete WSDL on its own; rendering
// replaces them with the endpoint asked for.
const (
	paymentServicePlaceholder   = "https://paywire.invalid/soap/PaymentService"
	listenerEndpointPlaceholder = "https://merchant.invalid/paywire/PaymentServiceListener"
)

// PaymentService returns the WSDL of PaymentService with endpoint as the
// address of both ports, SOAP 1.1 and SOAP 1.2. The endpoint is escaped for
// XML, so any string is safe, but it should be the configured public URL of
// the service rather than one derived from request headers. An empty
// endpoint keeps the placeholder https://paywire.invalid/soap/PaymentService.
// The caller may modify the returned slice.
func PaymentService(endpoint string) []byte {
	return render(paymentService, paymentServicePlaceholder, endpoint)
}

// PaymentServiceListener returns the WSDL of the listener service that
// merchants implement, with endpoint as the address of its SOAP 1.1 port.
// Merchants replace the address with their own, so an empty endpoint keeps
// the placeholder https://merchant.invalid/paywire/PaymentServiceListener.
// The caller may modify the returned slice.
func PaymentServiceListener(endpoint string) []byte {
	return render(paymentServiceListener, listenerEndpointPlaceholder, endpoint)
}

// Schema returns the XML Schema embedded in the PaymentService WSDL as a
// standalone document (target namespace urn:paywire:payment:1), for
// validating requests and responses with tools such as xmllint.
func Schema() []byte { return []byte(paymentSchema()) }

// ListenerSchema returns the XML Schema embedded in the listener WSDL as a
// standalone document. Its target namespace is urn:paywire:payment:1 too, but
// it declares only the listener's elements and the types they use.
func ListenerSchema() []byte { return []byte(listenerSchema()) }

var (
	paymentSchema  = sync.OnceValue(func() string { return extractSchema(paymentService) })
	listenerSchema = sync.OnceValue(func() string { return extractSchema(paymentServiceListener) })
)

func render(doc, placeholder, endpoint string) []byte {
	if endpoint == "" {
		return []byte(doc)
	}
	var escaped strings.Builder
	_ = xml.EscapeText(&escaped, []byte(endpoint)) // a strings.Builder never fails to write
	return []byte(strings.ReplaceAll(doc,
		`location="`+placeholder+`"`,
		`location="`+escaped.String()+`"`))
}

// extractSchema cuts the xs:schema element out of a WSDL document. The
// schemas declare every namespace prefix they use on the xs:schema element
// itself, so the cut text is a complete document; cutting text rather than
// re-encoding keeps it byte for byte what the WSDL publishes. The documents
// are embedded constants and the tests compile both schemas, so a missing
// schema is a programming error.
func extractSchema(doc string) string {
	start := strings.Index(doc, "<xs:schema")
	const closing = "</xs:schema>"
	end := strings.Index(doc, closing)
	if start < 0 || end < start {
		panic("wsdl: embedded WSDL has no xs:schema element")
	}
	lineStart := strings.LastIndexByte(doc[:start], '\n') + 1
	indent := doc[lineStart:start]
	lines := strings.Split(doc[lineStart:end+len(closing)], "\n")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	for _, line := range lines {
		b.WriteString(strings.TrimPrefix(line, indent))
		b.WriteByte('\n')
	}
	return b.String()
}
