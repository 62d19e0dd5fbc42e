package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/engine"
)

// Reviewer decides payments held for review (payment.Service).
type Reviewer interface {
	Review(ctx context.Context, merchantID, paymentID string, approve bool, who paywire.Actor, why string) (*paywire.Payment, error)
	ReviewQueue(ctx context.Context, merchantID string, limit int) ([]*paywire.Payment, error)
}

// OperatorReview is a payment in the review queue.
type OperatorReview struct {
	MerchantID string              `json:"merchantId"`
	RiskScore  int                 `json:"riskScore"`
	RiskAction string              `json:"riskAction"`
	Payment    message.PaymentJSON `json:"payment"`
}

// OperatorReviewDecision is the body of a review decision.
type OperatorReviewDecision struct {
	Decision string `json:"decision"` // approve or decline
	Reason   string `json:"reason"`
}

func (o *Operator) mountReviews(r chi.Router) {
	r.Get("/reviews", o.json(o.withReviews(o.listReviews)))
	r.Post("/merchants/{id}/payments/{payment}/review", o.json(o.withReviews(o.decideReview)))
	r.Get("/merchants/{id}/payments/{payment}/risk", o.json(o.explainRisk))
}

// withReviews answers 503 on a node built without the payment use cases.
func (o *Operator) withReviews(fn func(r *http.Request) (int, any, error)) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		if o.Reviews == nil {
			return 0, nil, paywire.Errorf(paywire.EUNAVAILABLE, "this node does not serve reviews")
		}
		return fn(r)
	}
}

func (o *Operator) listReviews(r *http.Request) (int, any, error) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, nil, paywire.Errorf(paywire.EINVALID, "limit must be a whole number from 1 to 1000")
		}
		limit = n
	}
	ps, err := o.Reviews.ReviewQueue(r.Context(), r.URL.Query().Get("merchantId"), limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]OperatorReview, 0, len(ps))
	for _, p := range ps {
		out = append(out, OperatorReview{MerchantID: p.MerchantID, RiskScore: p.RiskScore, RiskAction: string(p.RiskAction), Payment: toPaymentJSON(p, nil)})
	}
	return http.StatusOK, map[string]any{"reviews": out}, nil
}

func (o *Operator) decideReview(r *http.Request) (int, any, error) {
	var in OperatorReviewDecision
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	var approve bool
	switch in.Decision {
	case "approve":
		approve = true
	case "decline":
	default:
		return 0, nil, paywire.Errorf(paywire.EINVALID, "decision must be approve or decline")
	}
	p, err := o.Reviews.Review(r.Context(), chi.URLParam(r, "id"), chi.URLParam(r, "payment"), approve, paywire.OperatorActor("api"), in.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, OperatorReview{MerchantID: p.MerchantID, RiskScore: p.RiskScore, RiskAction: string(p.RiskAction), Payment: toPaymentJSON(p, nil)}, nil
}

// explainRisk answers the payment's latest risk decision broken down: each
// rule's score and what it read, the features the decision knew.
func (o *Operator) explainRisk(r *http.Request) (int, any, error) {
	if o.Decisions == nil {
		return 0, nil, paywire.Errorf(paywire.EUNAVAILABLE, "this node does not serve decisions")
	}
	merchantID, paymentID := chi.URLParam(r, "id"), chi.URLParam(r, "payment")
	recs, err := o.Decisions.Decisions(r.Context(), merchantID, paymentID)
	if err != nil {
		return 0, nil, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Point != engine.PointRisk {
			continue
		}
		var b *engine.Bundle
		if o.ActiveBundle != nil {
			b = o.ActiveBundle()
		}
		x, err := engine.ExplainRisk(recs[i], b)
		if err != nil {
			return 0, nil, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err}
		}
		return http.StatusOK, x, nil
	}
	return 0, nil, paywire.Errorf(paywire.ENOTFOUND, "payment %s has no risk decision", paymentID)
}
