package api

import (
	"net/http"

	"github.com/paywire/paywire"
)

// status is how one domain error code reaches clients: the HTTP status of
// the JSON API, and the stable fault code and side (client or server) of
// SOAP faults. It is the one table of the mapping.
type status struct {
	http   int
	fault  string
	client bool
}

var statuses = map[string]status{
	paywire.EINVALID:      {http.StatusBadRequest, "INVALID_REQUEST", true},
	paywire.EUNAUTHORIZED: {http.StatusUnauthorized, "AUTHENTICATION_FAILED", true},
	paywire.EFORBIDDEN:    {http.StatusForbidden, "NOT_ALLOWED", true},
	paywire.ENOTFOUND:     {http.StatusNotFound, "NOT_FOUND", true},
	paywire.ECONFLICT:     {http.StatusConflict, "CONFLICT", true},
	paywire.EIDEMPOTENCY:  {http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", true},
	paywire.EINPROGRESS:   {http.StatusConflict, "REQUEST_IN_PROGRESS", true},
	paywire.EILLEGALMOVE:  {http.StatusConflict, "ILLEGAL_STATE_TRANSITION", true},
	paywire.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", true},
	paywire.EUNAVAILABLE:  {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", false},
	paywire.EINTERNAL:     {http.StatusInternalServerError, "INTERNAL_ERROR", false},
}

// Fault codes of the SOAP transport itself, before any operation runs.
const (
	faultMalformed        = "MALFORMED_REQUEST"
	faultUnknownOperation = "UNKNOWN_OPERATION"
)

// statusOf returns the mapping of err's code; anything unknown is internal.
func statusOf(err error) (status, string, string) {
	code := paywire.ErrorCode(err)
	st, ok := statuses[code]
	if !ok {
		code, st = paywire.EINTERNAL, statuses[paywire.EINTERNAL]
	}
	return st, code, paywire.ErrorMessage(err)
}
