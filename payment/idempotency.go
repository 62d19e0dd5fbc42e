package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

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

// idemRequest is a merchant's request under an idempotency key while it
// executes: the change that answers it stores its outcome in the same
// transaction, so that a retry after a crash gets the outcome of what was
// committed, never a second execution.
type idemRequest struct {
	merchantID, key, hash string
	// encode turns the request's result (the payment as the change leaves
	// it, or an error) into the stored outcome.
	encode func(p *paywire.Payment, err error) ([]byte, error)
	stored bool // a committed change holds the outcome
	// first: the key was not claimed; the change that creates the
	// payment stores the first answer, refused if the key is taken.
	first bool
}

// answer is the stored outcome for the payment p a change leaves, or for
// the request's final error.
func (r *idemRequest) answer(p *paywire.Payment, err error) (*paywire.IdempotentResult, error) {
	if r == nil {
		return nil, nil
	}
	text, merr := r.encode(p, err)
	if merr != nil {
		return nil, merr
	}
	return &paywire.IdempotentResult{MerchantID: r.merchantID, Key: r.key, RequestHash: r.hash, Result: text, First: r.first && !r.stored}, nil
}

// answerWith is the stored outcome for a result that is not a payment.
func (r *idemRequest) answerWith(result any) (*paywire.IdempotentResult, error) {
	text, err := json.Marshal(outcome[any]{Result: result})
	if err != nil {
		return nil, err
	}
	return &paywire.IdempotentResult{MerchantID: r.merchantID, Key: r.key, RequestHash: r.hash, Result: text, First: r.first && !r.stored}, nil
}

// committed notes that a change holding the outcome was written.
func (r *idemRequest) committed() {
	if r != nil {
		r.stored = true
	}
}

// idempotent runs fn once per merchant and key, with Stripe's semantics:
// the outcome of a request that changed something — its result, or a
// provider's refusal — is stored with the change, and every retry with the
// same request gets it back without executing anything; the same key with
// a different request is refused (EIDEMPOTENCY), and so is a retry while
// the first is still running (EINPROGRESS). A request that ended in an
// error before it changed anything releases the key, so that a retry —
// corrected or not — runs again. fn gets nil for an empty key.
func idempotent[T any](ctx context.Context, s *Service, merchantID, key string, request any, fn func(*idemRequest) (T, error)) (T, error) {
	var zero T
	if key == "" {
		return fn(nil)
	}
	if len(key) > 300 {
		return zero, paywire.Errorf(paywire.EINVALID, "the idempotency key is too long")
	}
	hash, err := requestHash(request)
	if err != nil {
		return zero, err
	}
	stored, err := s.Idempotency.ClaimIdempotencyKey(ctx, merchantID, key, hash)
	if err != nil {
		return zero, err
	}
	if stored != nil {
		return decodeOutcome[T](stored)
	}

	req := newIdemRequest[T](merchantID, key, hash)
	result, err := fn(req)
	if req.stored {
		return result, err
	}
	if err != nil {
		// Nothing was changed: a retry runs again. A fresh context: the
		// request's may be what failed.
		if rerr := s.Idempotency.ReleaseIdempotencyKey(context.WithoutCancel(ctx), merchantID, key); rerr != nil {
			s.logger().ErrorContext(ctx, "releasing an idempotency key", "merchant_id", merchantID, "error", rerr)
		}
		return zero, err
	}
	// A request that changed nothing but succeeded (a resend) keeps its
	// answer too.
	text, merr := json.Marshal(outcome[T]{Result: result})
	if merr != nil {
		return zero, merr
	}
	if serr := s.Idempotency.SaveIdempotentResult(context.WithoutCancel(ctx), merchantID, key, text); serr != nil {
		s.logger().ErrorContext(ctx, "saving an idempotent result", "merchant_id", merchantID, "error", serr)
	}
	return result, nil
}

// requestHash is the SHA-256 of a request's canonical JSON.
func requestHash(request any) (string, error) {
	body, err := json.Marshal(request)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

func newIdemRequest[T any](merchantID, key, hash string) *idemRequest {
	return &idemRequest{merchantID: merchantID, key: key, hash: hash, encode: func(p *paywire.Payment, err error) ([]byte, error) {
		if err != nil {
			return json.Marshal(outcome[T]{Error: &errorText{Code: paywire.ErrorCode(err), Message: paywire.ErrorMessage(err)}})
		}
		var result any = p
		if r, ok := result.(T); ok {
			return json.Marshal(outcome[T]{Result: r})
		}
		return nil, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error"}
	}}
}

// decodeOutcome returns a stored outcome as the request's answer.
func decodeOutcome[T any](stored []byte) (T, error) {
	var zero T
	var o outcome[T]
	if err := json.Unmarshal(stored, &o); err != nil {
		return zero, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	if o.Error != nil {
		return zero, paywire.Errorf(o.Error.Code, "%s", o.Error.Message)
	}
	return o.Result, nil
}

// idempotentCreate runs a request that creates a payment once per
// merchant and key, without claiming the key first: its answer is stored
// in the transaction that creates the payment, so a crash leaves either
// both or neither, and a retry gets the answer at once. Nor is the key
// read first: a first request — nearly every one — reads nothing more
// than it would without a key; a request that fails, a retry included
// (its creation is refused: the key, or the merchant reference, is
// taken), then reads the key and answers with what is stored under it.
// Of two concurrent requests with the same key, the one whose creation
// commits first wins and the other returns its answer. Semantics
// otherwise as idempotent's.
func idempotentCreate[T any](ctx context.Context, s *Service, merchantID, key string, request any, fn func(*idemRequest) (T, error)) (T, error) {
	var zero T
	if key == "" {
		return fn(nil)
	}
	if len(key) > 300 {
		return zero, paywire.Errorf(paywire.EINVALID, "the idempotency key is too long")
	}
	hash, err := requestHash(request)
	if err != nil {
		return zero, err
	}
	replay := func() (T, bool, error) {
		h, stored, err := s.Idempotency.IdempotentResult(ctx, merchantID, key)
		switch {
		case paywire.ErrorCode(err) == paywire.ENOTFOUND:
			return zero, false, nil
		case err != nil:
			return zero, false, err
		case h != hash:
			return zero, false, paywire.Errorf(paywire.EIDEMPOTENCY, "this idempotency key was used with a different request")
		case stored == nil:
			return zero, false, paywire.Errorf(paywire.EINPROGRESS, "a request with this idempotency key is still in progress; retry later")
		}
		v, err := decodeOutcome[T](stored)
		return v, true, err
	}
	req := newIdemRequest[T](merchantID, key, hash)
	req.first = true
	result, err := fn(req)
	if err != nil && !req.stored {
		// A retry, the same key with another request, or a request
		// that failed on its own: what is stored under the key decides.
		if v, ok, rerr := replay(); ok || rerr != nil {
			return v, rerr
		}
	}
	return result, err
}
