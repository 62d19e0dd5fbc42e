package soap

import (
	"net/http/httptest"
	"testing"
)

func TestActionOf(t *testing.T) {
	const action = "urn:paywire:payment:1#capturePayment"
	tests := []struct {
		name, contentType, soapAction string
		action                        string
		version                       Version
	}{
		{"SOAP 1.1 quoted", "text/xml; charset=utf-8", `"` + action + `"`, action, V11},
		{"SOAP 1.1 unquoted", "text/xml; charset=utf-8", action, action, V11},
		{"SOAP 1.1 padded", "text/xml", `  "` + action + `"  `, action, V11},
		{"SOAP 1.1 empty action", "text/xml; charset=utf-8", `""`, "", V11},
		{"SOAP 1.1 no action", "text/xml", "", "", V11},
		{"SOAP 1.1 upper-case media type", "Text/XML; Charset=UTF-8", `"` + action + `"`, action, V11},
		{"SOAP 1.2 quoted action parameter", `application/soap+xml; charset=utf-8; action="` + action + `"`, "", action, V12},
		{"SOAP 1.2 unquoted action parameter", `application/soap+xml;charset=utf-8;action=` + action, "", action, V12},
		{"SOAP 1.2 parameter name in upper case", `application/soap+xml; ACTION="` + action + `"`, "", action, V12},
		{"SOAP 1.2 parameter wins over header", `application/soap+xml; action="` + action + `"`, `"urn:other"`, action, V12},
		{"SOAP 1.2 falls back to the SOAPAction header", "application/soap+xml; charset=utf-8", `"` + action + `"`, action, V12},
		{"SOAP 1.2 no action", "application/soap+xml", "", "", V12},
		{"other media type", "application/json", `"` + action + `"`, action, 0},
		{"no Content-Type", "", action, action, 0},
		{"garbage Content-Type", ";;;=", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/soap/PaymentService", nil)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.soapAction != "" {
				r.Header.Set("SOAPAction", tt.soapAction)
			}
			action, version := ActionOf(r)
			if action != tt.action || version != tt.version {
				t.Errorf("ActionOf = %q, %v; want %q, %v", action, version, tt.action, tt.version)
			}
		})
	}
}
