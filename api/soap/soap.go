// Package soap reads and writes SOAP 1.1 and SOAP 1.2 envelopes over HTTP
// for Paywire's document/literal services: it decodes a request envelope
// into its version, WS-Security UsernameToken and body element, and writes
// response and fault envelopes with the status and Content-Type each version
// requires. It knows nothing about operations, authentication or payments:
// callers unmarshal the body element into their own types, check the
// credentials and map their errors to a Fault.
package soap

import (
	"encoding/xml"
	"fmt"
	"unicode/utf8"
)

// Version is a SOAP version. The zero Version is unknown: writers answer it
// as SOAP 1.1, the version every client understands.
type Version int

// The SOAP versions Paywire speaks.
const (
	V11 Version = 1 // SOAP 1.1, envelope namespace NamespaceSOAP11, Content-Type text/xml
	V12 Version = 2 // SOAP 1.2, envelope namespace NamespaceSOAP12, Content-Type application/soap+xml
)

// Namespaces and URIs of the envelope and of WS-Security.
const (
	NamespaceSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NamespaceSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	NamespaceWSSE   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

	// PasswordText and PasswordDigest are the password types of the
	// WS-Security UsernameToken Profile 1.0.
	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

	// DetailNamespace is the namespace of the fault element in every fault's
	// detail: the namespace of PaymentService's messages, whose WSDL declares
	// the element.
	DetailNamespace = "urn:paywire:payment:1"
)

// Fault codes that this package produces. Every code is stable: clients
// branch on the code in the fault detail, never on the message. Callers add
// their own codes in the same UPPER_SNAKE_CASE style.
const (
	CodeMalformed           = "MALFORMED_REQUEST"          // not well-formed XML, a DTD, too deep, or not a SOAP envelope with one body element
	CodeTooLarge            = "REQUEST_TOO_LARGE"          // the body exceeded the limit of an http.MaxBytesReader
	CodeVersionMismatch     = "VERSION_MISMATCH"           // the root is an Envelope in neither SOAP namespace
	CodeMustUnderstand      = "MUST_UNDERSTAND"            // a mandatory header block this package does not process
	CodeInvalidSecurity     = "INVALID_SECURITY"           // a WS-Security header that cannot be read as one UsernameToken
	CodeUnsupportedSecurity = "UNSUPPORTED_SECURITY_TOKEN" // a UsernameToken with PasswordDigest or another password type
	CodeInvalidRequest      = "INVALID_REQUEST"            // the default code of a client fault that names none
	CodeInternal            = "INTERNAL_ERROR"             // the default code of a server fault that names none
)

// String returns "SOAP 1.1", "SOAP 1.2" or "unknown SOAP version".
func (v Version) String() string {
	switch v {
	case V11:
		return "SOAP 1.1"
	case V12:
		return "SOAP 1.2"
	}
	return "unknown SOAP version"
}

// Namespace returns the envelope namespace of v, that of SOAP 1.1 for an
// unknown version.
func (v Version) Namespace() string {
	if v == V12 {
		return NamespaceSOAP12
	}
	return NamespaceSOAP11
}

// ContentType returns the Content-Type of a message of version v, without
// an action parameter, that of SOAP 1.1 for an unknown version.
func (v Version) ContentType() string {
	if v == V12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// Error is a request envelope that Decode refuses. Every error Decode
// returns is an *Error. Code is one of the Code constants and Message is
// written for the client: neither carries Go error text or internal detail,
// which only Err keeps, for logs.
type Error struct {
	Code    string
	Message string

	// Version is the version of the envelope when Decode got far enough to
	// know it, and zero otherwise; a caller then answers in the version the
	// Content-Type announced (see ActionOf).
	Version Version

	// NotUnderstood lists the mandatory header blocks of a MUST_UNDERSTAND
	// error.
	NotUnderstood []xml.Name

	Err error
}

// Error renders the error for logs.
func (e *Error) Error() string {
	s := "soap: " + e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Fault returns the fault that answers e. Every Decode error is the
// client's fault: the request could not be read as asked.
func (e *Error) Fault() Fault {
	return Fault{Code: e.Code, Message: e.Message, Client: true, NotUnderstood: e.NotUnderstood}
}

// Fault is a SOAP fault to send back. Code goes into the detail element
// pw:fault, Message into the faultstring (SOAP 1.1) or Reason Text (SOAP
// 1.2) and into the detail, so both must be safe to show the client.
//
// Client selects soap:Client (SOAP 1.1) or Sender (SOAP 1.2) rather than
// soap:Server or Receiver. Two codes override it, because SOAP defines fault
// codes of their own for them: CodeVersionMismatch is sent as VersionMismatch
// and CodeMustUnderstand as MustUnderstand.
type Fault struct {
	Code    string
	Message string
	Client  bool
	// RequestID goes into the detail; WriteFault takes it from the
	// response's Request-Id header when empty.
	RequestID string

	// NotUnderstood names the header blocks of a MustUnderstand fault. SOAP
	// 1.2 reports each in a NotUnderstood header block; SOAP 1.1 has no
	// place for them.
	NotUnderstood []xml.Name
}

// code and message return the fault's code and message, with defaults so
// that a fault is never sent without either.
func (f Fault) code() string {
	switch {
	case f.Code != "":
		return f.Code
	case f.Client:
		return CodeInvalidRequest
	}
	return CodeInternal
}

func (f Fault) message() string {
	switch {
	case f.Message != "":
		return f.Message
	case f.Client:
		return "invalid request"
	}
	return "internal error"
}

// faultKind is the SOAP-defined fault code of a fault: Client or Server in
// SOAP 1.1 terms, or one of the two codes SOAP reserves for envelope and
// header problems.
type faultKind int

const (
	kindServer faultKind = iota // zero: a fault that names no side is ours
	kindClient
	kindVersionMismatch
	kindMustUnderstand
)

func (f Fault) kind() faultKind {
	switch {
	case f.Code == CodeVersionMismatch:
		return kindVersionMismatch
	case f.Code == CodeMustUnderstand:
		return kindMustUnderstand
	case f.Client:
		return kindClient
	}
	return kindServer
}

// errorf returns an *Error with a formatted message.
func errorf(code string, v Version, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Version: v, Err: cause}
}

// shorten bounds a name taken from the request before it goes into a
// message, so that a hostile request cannot make its fault arbitrarily
// large.
func shorten(s string) string {
	n := 64
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
