package soap

import (
	"mime"
	"net/http"
	"strings"
)

// ActionOf returns the SOAP action of an HTTP request and the version its
// Content-Type announces.
//
// For text/xml (SOAP 1.1) the action is the SOAPAction header, quoted as
// SOAP 1.1 requires or unquoted as some clients send it. For
// application/soap+xml (SOAP 1.2) it is the Content-Type's action
// parameter, or the SOAPAction header when the parameter is missing, which
// some SOAP 1.2 clients send instead. For any other or no Content-Type the
// version is zero and the action is the SOAPAction header.
//
// The action is "" when the client sent none; callers then dispatch on the
// name of the body element, which document/literal wrapped makes unique.
// The version announced here may differ from the envelope's, which Decode
// reports and which should win.
func ActionOf(r *http.Request) (string, Version) {
	action := unquote(r.Header.Get("SOAPAction"))
	mediaType, params := parseContentType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "text/xml":
		return action, V11
	case "application/soap+xml":
		if a, ok := params["action"]; ok {
			return strings.TrimSpace(a), V12
		}
		return action, V12
	}
	return action, 0
}

// parseContentType returns the media type and parameters of a Content-Type
// header. mime.ParseMediaType refuses an unquoted action such as
// action=urn:paywire:payment:1#capturePayment, whose ':' is not allowed in
// a MIME token; clients send it all the same, so parameters are then split
// by hand.
func parseContentType(header string) (string, map[string]string) {
	mediaType, params, err := mime.ParseMediaType(header)
	if err == nil {
		return mediaType, params
	}
	parts := strings.Split(header, ";")
	mediaType = strings.ToLower(strings.TrimSpace(parts[0]))
	params = make(map[string]string)
	for _, p := range parts[1:] {
		key, value, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		params[strings.ToLower(strings.TrimSpace(key))] = unquote(value)
	}
	return mediaType, params
}

// unquote trims white space and one pair of surrounding double quotes.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}
