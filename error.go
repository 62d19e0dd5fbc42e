package paywire

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes. A code is stable: transports map it to an HTTP status and a
// SOAP fault code in one table, and clients may branch on it. Anything that
// is not a *Error is reported to clients as EINTERNAL with a generic message.
const (
	ECONFLICT     = "conflict"           // lost a compare-and-set, duplicate key
	EFORBIDDEN    = "forbidden"          // authenticated but not allowed
	EILLEGALMOVE  = "illegal_transition" // the state machine refuses the move
	EINTERNAL     = "internal"           // a fault of ours; the message is generic
	EINVALID      = "invalid"            // the input is malformed or out of range
	ENOTFOUND     = "not_found"          // no such thing, or not visible to the caller
	EUNAUTHORIZED = "unauthorized"       // missing or wrong credentials
	EUNAVAILABLE  = "unavailable"        // a dependency (database, provider) cannot be reached
	ETOOLARGE     = "too_large"          // a body or value exceeds its limit
	EEXPIRED      = "expired"            // a link, token or offer is past its time
	EDECLINED     = "declined"           // a provider refused the operation; final for this request
	EUNSUPPORTED  = "unsupported"        // the payment's provider cannot do this operation
	ETOOMANY      = "too_many_requests"  // a rate or concurrency limit refused the request; retry later

	// Idempotent requests (a conflict each, told apart so that clients can
	// react: a mismatch is a bug of theirs, in-progress a reason to retry).
	EIDEMPOTENCY = "idempotency_mismatch" // the key was used with a different request
	EINPROGRESS  = "in_progress"          // the key's first request is still executing
)

// Error is the one error type of Paywire. Message is safe to show to the
// caller: it never contains card data, secrets or internal detail. Op names
// the operation ("store/DB.ApplyStateChange") for logs; Err keeps the cause
// for logs and errors.Is.
type Error struct {
	Code    string
	Message string
	Op      string
	Err     error
}

// Error renders the error for logs: op, code, message and cause.
func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for anything else.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first *Error in err's
// chain, and a generic message for anything else so that internal detail
// never leaks to a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// truncate shortens s for inclusion in a message, so that a hostile input
// cannot make an error message arbitrarily large.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ErrorClass is how one error code reaches every transport: the HTTP status
// of the JSON API and of pages, the stable SOAP fault code, whether the
// fault is the client's, and the page an end user sees.
type ErrorClass struct {
	HTTPStatus int
	Fault      string // SOAP fault code, stable: merchants branch on it
	Client     bool   // the caller's fault (SOAP Client/Sender, 4xx)
	Page       string // the hosted pages' and listeners' problem page
}

// errorClasses is the one table mapping error codes to transports. api,
// portal, listeners and admin read it through Classify.
var errorClasses = map[string]ErrorClass{
	EINVALID:      {http.StatusBadRequest, "INVALID_REQUEST", true, "badrequest"},
	EUNAUTHORIZED: {http.StatusUnauthorized, "AUTHENTICATION_FAILED", true, "invalid"},
	EFORBIDDEN:    {http.StatusForbidden, "NOT_ALLOWED", true, "invalid"},
	ENOTFOUND:     {http.StatusNotFound, "NOT_FOUND", true, "invalid"},
	ECONFLICT:     {http.StatusConflict, "CONFLICT", true, "badrequest"},
	EIDEMPOTENCY:  {http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", true, "badrequest"},
	EINPROGRESS:   {http.StatusConflict, "REQUEST_IN_PROGRESS", true, "unavailable"},
	EILLEGALMOVE:  {http.StatusConflict, "ILLEGAL_STATE_TRANSITION", true, "badrequest"},
	ETOOLARGE:     {http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", true, "toolarge"},
	EEXPIRED:      {http.StatusGone, "EXPIRED", true, "expired"},
	EDECLINED:     {http.StatusPaymentRequired, "DECLINED", true, "badrequest"},
	EUNSUPPORTED:  {http.StatusUnprocessableEntity, "NOT_SUPPORTED", true, "badrequest"},
	ETOOMANY:      {http.StatusTooManyRequests, "TOO_MANY_REQUESTS", true, "unavailable"},
	EUNAVAILABLE:  {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", false, "unavailable"},
	EINTERNAL:     {http.StatusInternalServerError, "INTERNAL_ERROR", false, "internal"},
}

// ErrorCodes lists every error code, for tests and documentation.
func ErrorCodes() []string {
	out := make([]string, 0, len(errorClasses))
	for c := range errorClasses {
		out = append(out, c)
	}
	return out
}

// Classify returns err's code, its class and its caller-safe message; a
// code the table does not know is internal.
func Classify(err error) (code string, class ErrorClass, message string) {
	code = ErrorCode(err)
	class, ok := errorClasses[code]
	if !ok {
		code, class = EINTERNAL, errorClasses[EINTERNAL]
	}
	return code, class, ErrorMessage(err)
}
