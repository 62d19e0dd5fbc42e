package api

// Fault codes of the SOAP transport itself, before any operation runs.
// Every other error reaches clients through paywire.Classify, the one
// table of HTTP statuses and SOAP fault codes.
const (
	faultMalformed        = "MALFORMED_REQUEST"
	faultUnknownOperation = "UNKNOWN_OPERATION"
)
