package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/paywire/paywire"
)

// outcome is what the idempotency store keeps of a request: its result, or
// the error it ended with once it had started executing.
type outcome[T any] struct {
	Result T          `json:"result,omitempty"`
	Error  *errorText `json:"error,omitempty"`
}

type errorText struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// idempotent runs fn once per merchant and key, with Stripe's semantics:
// the outcome of a request that changed something — its result, or a
// provider's refusal — is stored, and every retry with the same request
// gets it back without executing anything; the same key with a different
// request is refused (EIDEMPOTENCY), and so is a retry while the first is
// still running (EINPROGRESS). A request that ended in an error before it
// changed anything (invalid, not found, a conflict, an illegal transition,
// unavailable, internal) releases the key, so that a retry — corrected or
// not — runs again. An empty key runs fn as is.
func idempotent[T any](ctx context.Context, s *Service, merchantID, key string, request any, fn func() (T, error)) (T, error) {
	var zero T
	if key == "" {
		return fn()
	}
	if len(key) > 300 {
		return zero, paywire.Errorf(paywire.EINVALID, "the idempotency key is too long")
	}
	body, err := json.Marshal(request)
	if err != nil {
		return zero, err
	}
	sum := sha256.Sum256(body)
	stored, err := s.Idempotency.ClaimIdempotencyKey(ctx, merchantID, key, hex.EncodeToString(sum[:]))
	if err != nil {
		return zero, err
	}
	if stored != nil {
		var o outcome[T]
		if err := json.Unmarshal(stored, &o); err != nil {
			return zero, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err}
		}
		if o.Error != nil {
			return zero, paywire.Errorf(o.Error.Code, "%s", o.Error.Message)
		}
		return o.Result, nil
	}

	result, err := fn()
	o := outcome[T]{Result: result}
	if err != nil {
		if !changedSomething(err) {
			// Use a fresh context: the request's may be what failed.
			if rerr := s.Idempotency.ReleaseIdempotencyKey(context.WithoutCancel(ctx), merchantID, key); rerr != nil {
				s.logger().Error("releasing an idempotency key", "merchant", merchantID, "error", rerr)
			}
			return zero, err
		}
		o = outcome[T]{Error: &errorText{Code: paywire.ErrorCode(err), Message: paywire.ErrorMessage(err)}}
	}
	text, merr := json.Marshal(o)
	if merr != nil {
		return zero, merr
	}
	if serr := s.Idempotency.SaveIdempotentResult(context.WithoutCancel(ctx), merchantID, key, text); serr != nil {
		s.logger().Error("saving an idempotent result", "merchant", merchantID, "error", serr)
	}
	return result, err
}

// providerRefusal marks the error of an operation a provider refused: the
// request executed (the provider was asked), so its outcome is final.
type providerRefusal struct{ err *paywire.Error }

func (r providerRefusal) Error() string { return r.err.Error() }

func (r providerRefusal) Unwrap() error { return r.err }

// changedSomething reports whether a request that failed with err had
// already executed something that a retry must not repeat.
func changedSomething(err error) bool {
	var r providerRefusal
	return errors.As(err, &r)
}
