package paywire

import (
	"errors"
	"fmt"
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
