package api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
	"github.com/paywire/paywire/api/wsdl"
	"github.com/paywire/paywire/payment"
)

// The SOAP PaymentService: POST /soap/PaymentService, its WSDL at
// GET /soap/PaymentService?wsdl, and the merchant listener's WSDL at
// GET /soap/PaymentServiceListener?wsdl.

func (h *Handler) mountSOAP(r chi.Router) {
	r.Get("/soap/PaymentService", func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("wsdl") {
			writeError(w, paywire.Errorf(paywire.ENOTFOUND, "the SOAP endpoint takes POST; its WSDL is at ?wsdl"))
			return
		}
		writeXML(w, wsdl.PaymentService(h.BaseURL+"/soap/PaymentService"))
	})
	r.Get("/soap/PaymentServiceListener", func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("wsdl") {
			writeError(w, paywire.Errorf(paywire.ENOTFOUND, "this is the WSDL of the listener merchants implement: ?wsdl"))
			return
		}
		writeXML(w, wsdl.PaymentServiceListener(""))
	})
	r.Post("/soap/PaymentService", h.serveSOAP)
}

func writeXML(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(b)
}

// soapOperation runs one operation on its decoded request body.
type soapOperation func(h *Handler, ctx context.Context, m *paywire.Merchant, body []byte) (any, error)

var soapOperations = map[string]soapOperation{
	"getRedirectData":            (*Handler).soapGetRedirectData,
	"createPayment":              (*Handler).soapCreatePayment,
	"capturePayment":             (*Handler).soapCapturePayment,
	"cancelPayment":              (*Handler).soapCancelPayment,
	"refundPayment":              (*Handler).soapRefundPayment,
	"getPaymentDetails":          (*Handler).soapGetPaymentDetails,
	"getAvailablePaymentMethods": (*Handler).soapGetAvailablePaymentMethods,
}

func (h *Handler) serveSOAP(w http.ResponseWriter, r *http.Request) {
	action, ver := soap.ActionOf(r)
	req, err := soap.Decode(http.MaxBytesReader(w, r.Body, h.MaxBodyBytes), h.MaxDepth)
	if err != nil {
		var se *soap.Error
		if errors.As(err, &se) {
			if se.Version != 0 {
				ver = se.Version
			}
			_ = soap.WriteFault(w, ver, se.Fault())
			return
		}
		h.soapFault(w, r, ver, err)
		return
	}
	ver = req.Version
	op, ok := soapOperations[req.Name.Local]
	if req.Name.Space != message.PaymentNamespace || !ok {
		_ = soap.WriteFault(w, ver, soap.Fault{Code: faultUnknownOperation, Client: true,
			Message: "PaymentService has no operation " + truncated(req.Name.Local) + " in namespace " + message.PaymentNamespace})
		return
	}
	if !actionMatches(action, req.Name.Local) {
		_ = soap.WriteFault(w, ver, soap.Fault{Code: "INVALID_REQUEST", Client: true,
			Message: "the SOAP action does not name the operation in the body (" + req.Name.Local + ")"})
		return
	}
	m, err := h.soapMerchant(r, req)
	if err != nil {
		h.soapFault(w, r, ver, err)
		return
	}
	resp, err := op(h, withMerchant(r.Context(), m), m, req.Body)
	if err != nil {
		h.soapFault(w, r, ver, err)
		return
	}
	if err := soap.WriteResponse(w, ver, resp); err != nil {
		h.logger().ErrorContext(r.Context(), "encoding a SOAP response", "operation", req.Name.Local, "error", err)
	}
}

// actionMatches accepts an empty action (SOAP 1.2 makes it optional), the
// WSDL's action, and the bare operation name some toolkits send.
func actionMatches(action, op string) bool {
	return action == "" || action == message.PaymentActionPrefix+op || action == op
}

// soapMerchant authenticates by WS-Security UsernameToken (PasswordText),
// by HTTP Basic, or by both; given both, both must be right and name the
// same merchant: neither wins over the other.
func (h *Handler) soapMerchant(r *http.Request, req *soap.Request) (*paywire.Merchant, error) {
	t := req.UsernameToken
	id, secret, basic := r.BasicAuth()
	switch {
	case t != nil && basic:
		if t.Username != id {
			// Counted as a failure of the token's merchant id.
			_, err := h.auth.authenticate(r, t.Username, "")
			return nil, err
		}
		m, err := h.auth.authenticate(r, t.Username, t.Password)
		if err != nil || secret == t.Password {
			return m, err
		}
		return h.auth.authenticate(r, id, secret)
	case t != nil:
		return h.auth.authenticate(r, t.Username, t.Password)
	case basic:
		return h.auth.authenticate(r, id, secret)
	}
	return nil, paywire.Errorf(paywire.EUNAUTHORIZED, "authenticate with a WS-Security UsernameToken (PasswordText) or HTTP Basic: merchant id and API secret")
}

func (h *Handler) soapFault(w http.ResponseWriter, r *http.Request, ver soap.Version, err error) {
	h.logFailure(r, err)
	setRetryAfter(w, err)
	_, class, msg := paywire.Classify(err)
	_ = soap.WriteFault(w, ver, soap.Fault{Code: class.Fault, Message: msg, Client: class.Client})
}

func truncated(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// unmarshal reads an operation's body element into v.
func unmarshal(body []byte, v any, op string) error {
	if err := xml.Unmarshal(body, v); err != nil {
		return paywire.Errorf(paywire.EINVALID, "the %s element does not match the schema", op)
	}
	return checkText(v)
}

// toEndUser is the end user of a request as the use cases take it, for
// both transports. The payment use cases check the values.
func toEndUser(u message.EndUser) paywire.EndUser {
	out := paywire.EndUser{ID: u.ID, Email: u.Email, Country: u.Country, Language: u.Language, IP: u.IP,
		DeviceID: u.DeviceID, BillingCountry: u.BillingCountry}
	if u.RegisteredAt != nil {
		out.RegisteredAt = u.RegisteredAt.UTC()
	}
	return out
}

func toPaymentXML(p *paywire.Payment) message.Payment {
	return message.Payment{
		PaymentID: p.ID, MerchantReference: p.MerchantReference, Kind: kindText(p.Kind), State: stateText(p.State),
		Amount: p.Amount.Decimal(), Currency: p.Amount.Currency.Code,
		CapturedAmount: decimal(p, p.Captured), RefundedAmount: decimal(p, p.Refunded),
		PaymentMethod: string(p.Method), Provider: p.Provider,
		CreatedAt: message.DateTime{Time: p.CreatedAt}, UpdatedAt: message.DateTime{Time: p.UpdatedAt}, Version: p.Version,
	}
}

func (h *Handler) soapGetRedirectData(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.GetRedirectDataRequest
	if err := unmarshal(body, &in, "getRedirectData"); err != nil {
		return nil, err
	}
	amount, err := money(strings.TrimSpace(in.Amount), in.Currency)
	if err != nil {
		return nil, err
	}
	rd, err := h.Payments.Start(ctx, m.ID, "ref:"+in.MerchantReference, payment.StartRequest{
		MerchantReference: in.MerchantReference, Kind: kindOf(in.Kind), Amount: amount, EndUser: toEndUser(in.EndUser),
		ReturnURLs: paywire.ReturnURLs(in.ReturnURLs), PaymentMethod: paywire.Method(in.PaymentMethod), NotificationURL: in.NotificationURL,
	})
	if err != nil {
		return nil, err
	}
	out := message.GetRedirectDataResponse{PaymentID: rd.PaymentID, RedirectURL: rd.URL, HTTPMethod: rd.HTTPMethod,
		ExpiresAt: message.DateTime{Time: rd.ExpiresAt}}
	out.PostFields.Field = make([]message.PostField, 0, len(rd.PostFields))
	for _, f := range rd.PostFields {
		out.PostFields.Field = append(out.PostFields.Field, message.PostField{Name: f.Name, Value: f.Value})
	}
	return out, nil
}

func (h *Handler) soapCreatePayment(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.CreatePaymentRequest
	if err := unmarshal(body, &in, "createPayment"); err != nil {
		return nil, err
	}
	amount, err := money(strings.TrimSpace(in.Amount), in.Currency)
	if err != nil {
		return nil, err
	}
	p, err := h.Payments.Create(ctx, m.ID, "ref:"+in.MerchantReference, payment.CreateRequest{
		MerchantReference: in.MerchantReference, Kind: kindOf(in.Kind), Amount: amount, EndUser: toEndUser(in.EndUser),
		PaymentMethod: paywire.Method(in.PaymentMethod), SourcePaymentID: in.SourcePaymentID, NotificationURL: in.NotificationURL,
	})
	if err != nil {
		return nil, err
	}
	return message.CreatePaymentResponse{Payment: toPaymentXML(p)}, nil
}

func (h *Handler) soapCapturePayment(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.CapturePaymentRequest
	if err := unmarshal(body, &in, "capturePayment"); err != nil {
		return nil, err
	}
	amount := ""
	if in.Amount != nil {
		if amount = strings.TrimSpace(*in.Amount); amount == "" {
			return nil, paywire.Errorf(paywire.EINVALID, "amount is empty: omit it to capture the whole authorization")
		}
	}
	p, err := h.Payments.Capture(ctx, m.ID, "", in.PaymentID, amount)
	if err != nil {
		return nil, err
	}
	return message.CapturePaymentResponse{Payment: toPaymentXML(p)}, nil
}

func (h *Handler) soapCancelPayment(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.CancelPaymentRequest
	if err := unmarshal(body, &in, "cancelPayment"); err != nil {
		return nil, err
	}
	p, err := h.Payments.Cancel(ctx, m.ID, "", in.PaymentID)
	if err != nil {
		return nil, err
	}
	return message.CancelPaymentResponse{Payment: toPaymentXML(p)}, nil
}

func (h *Handler) soapRefundPayment(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.RefundPaymentRequest
	if err := unmarshal(body, &in, "refundPayment"); err != nil {
		return nil, err
	}
	key := ""
	if in.RefundReference != "" {
		if len(in.RefundReference) > 128 {
			return nil, paywire.Errorf(paywire.EINVALID, "refundReference is longer than 128 characters")
		}
		key = "refund:" + in.RefundReference
	}
	p, err := h.Payments.Refund(ctx, m.ID, key, in.PaymentID, strings.TrimSpace(in.Amount))
	if err != nil {
		return nil, err
	}
	return message.RefundPaymentResponse{Payment: toPaymentXML(p)}, nil
}

func (h *Handler) soapGetPaymentDetails(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.GetPaymentDetailsRequest
	if err := unmarshal(body, &in, "getPaymentDetails"); err != nil {
		return nil, err
	}
	d, err := h.Payments.Get(ctx, m.ID, in.PaymentID, in.MerchantReference)
	if err != nil {
		return nil, err
	}
	out := message.GetPaymentDetailsResponse{Payment: toPaymentXML(d.Payment)}
	out.Events.Event = make([]message.Event, 0, len(d.Events))
	for _, e := range d.Events {
		ev := message.Event{SequenceNumber: e.Seq, NewState: stateText(e.To), Reason: e.Reason, OccurredAt: message.DateTime{Time: e.OccurredAt}}
		if e.From != "" {
			ev.PreviousState = stateText(e.From)
		}
		if e.Amount != 0 {
			ev.Amount = decimal(d.Payment, e.Amount)
		}
		out.Events.Event = append(out.Events.Event, ev)
	}
	return out, nil
}

func (h *Handler) soapGetAvailablePaymentMethods(ctx context.Context, m *paywire.Merchant, body []byte) (any, error) {
	var in message.GetAvailablePaymentMethodsRequest
	if err := unmarshal(body, &in, "getAvailablePaymentMethods"); err != nil {
		return nil, err
	}
	amount, err := money(strings.TrimSpace(in.Amount), in.Currency)
	if err != nil {
		return nil, err
	}
	ms, err := h.Payments.AvailableMethods(ctx, m.ID, payment.MethodsRequest{
		Kind: kindOf(in.Kind), Amount: amount, Country: in.Country, Language: in.Language, EndUserID: in.EndUserID,
	})
	if err != nil {
		return nil, err
	}
	out := message.GetAvailablePaymentMethodsResponse{}
	out.Methods.Method = make([]message.PaymentMethod, 0, len(ms))
	for _, mj := range methodsJSON(ms, amount.Currency) {
		out.Methods.Method = append(out.Methods.Method, message.PaymentMethod{Name: mj.Method, MinAmount: mj.MinAmount, MaxAmount: mj.MaxAmount})
	}
	return out, nil
}
