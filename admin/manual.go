package admin

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// Manual payments: an operator creates a payment for a merchant's end
// user and gets the link to send them; the hosted pages take it from
// there. The payment's history and the audit log name the operator.

// ManualPayments creates payments with a link (*payment.Service).
type ManualPayments interface {
	StartManual(ctx context.Context, who paywire.Actor, merchantID, key string, req payment.ManualRequest) (*payment.PaymentLink, error)
}

// manualForm is the new payment form as typed.
type manualForm struct {
	Merchant, Reference, Kind, Amount, Currency string
	EndUserID, Email, Country, Language, Method string
	ValidHours                                  string
	Key                                         string
}

type manualView struct {
	Form      manualForm
	Merchants []string // to choose from; none: typed
	Methods   []paywire.Method
	Link      *payment.PaymentLink
	Detail    string // the new payment's page
	MaxHours  int
}

// defaultLinkHours is how long a new link works unless the operator says.
const defaultLinkHours = 72

func (a *App) manualForm(w http.ResponseWriter, r *http.Request) {
	ref := "manual-" + a.Now().UTC().Format("20060102") + "-" + newKey()[:10]
	a.renderManual(w, r, http.StatusOK, manualView{Form: manualForm{Reference: ref, Kind: "deposit", Currency: "EUR",
		ValidHours: strconv.Itoa(defaultLinkHours), Key: newKey(), Merchant: r.URL.Query().Get("merchant")}}, "")
}

func (a *App) renderManual(w http.ResponseWriter, r *http.Request, status int, v manualView, problem string) {
	v.Methods, v.MaxHours = paywire.Methods, int(payment.MaxLinkValidity/time.Hour)
	if a.Merchants != nil {
		ms, err := a.Merchants.Merchants(r.Context())
		if err != nil {
			a.problem(w, r, err)
			return
		}
		for _, m := range ms {
			if !m.Disabled {
				v.Merchants = append(v.Merchants, m.ID)
			}
		}
	}
	title := "New payment"
	notice := ""
	if v.Link != nil {
		title, notice = "Payment link", "Payment "+v.Link.PaymentID+" created. Send the link below to the end user: it pays this payment once, until it expires."
	}
	a.render(w, r, status, "manual", page{Title: title, Data: v, Problem: problem, Notice: notice})
}

func (a *App) createManual(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	f := r.PostForm
	form := manualForm{
		Merchant: strings.TrimSpace(f.Get("merchant")), Reference: strings.TrimSpace(f.Get("reference")), Kind: f.Get("kind"),
		Amount: strings.TrimSpace(f.Get("amount")), Currency: strings.ToUpper(strings.TrimSpace(f.Get("currency"))),
		EndUserID: strings.TrimSpace(f.Get("end_user_id")), Email: strings.TrimSpace(f.Get("email")),
		Country: strings.ToUpper(strings.TrimSpace(f.Get("country"))), Language: strings.TrimSpace(f.Get("language")),
		Method: f.Get("method"), ValidHours: strings.TrimSpace(f.Get("valid_hours")), Key: f.Get("key"),
	}
	refuse := func(problem string) {
		a.renderManual(w, r, http.StatusBadRequest, manualView{Form: form}, problem)
	}
	if !validKey(form.Key) {
		refuse("The form is incomplete: open the new payment page again.")
		return
	}
	hours, err := strconv.Atoi(form.ValidHours)
	if err != nil || hours < 1 || time.Duration(hours)*time.Hour > payment.MaxLinkValidity {
		refuse("The link's validity must be a whole number of hours from 1 to " + strconv.Itoa(int(payment.MaxLinkValidity/time.Hour)) + ".")
		return
	}
	kind := paywire.Kind(form.Kind)
	if !kind.Valid() {
		refuse("Choose a deposit or a withdrawal.")
		return
	}
	amount, err := paywire.ParseMoney(form.Amount, form.Currency)
	if err != nil {
		refuse("The amount must be a number in the currency's units, such as 25.00, and the currency an ISO 4217 code such as EUR.")
		return
	}
	req := payment.ManualRequest{MerchantReference: form.Reference, Kind: kind, Amount: amount, PaymentMethod: paywire.Method(form.Method),
		EndUser:  paywire.EndUser{ID: form.EndUserID, Email: form.Email, Country: form.Country, Language: form.Language},
		ValidFor: time.Duration(hours) * time.Hour}
	link, err := a.Manual.StartManual(r.Context(), paywire.AdminActor(c.user.Username), form.Merchant, actionKey(form.Key), req)
	switch code := paywire.ErrorCode(err); {
	case err == nil:
	case code == paywire.ENOTFOUND:
		refuse("There is no merchant " + strconv.Quote(form.Merchant) + ".")
		return
	case code == paywire.EINVALID:
		refuse(readable(err))
		return
	case code == paywire.ECONFLICT || code == paywire.EIDEMPOTENCY:
		a.renderManual(w, r, http.StatusConflict, manualView{Form: form}, readable(err))
		return
	default:
		a.problem(w, r, err)
		return
	}
	a.Logger.InfoContext(r.Context(), "manual payment created", "payment_id", link.PaymentID, "merchant_id", form.Merchant, "user", c.user.Username)
	a.renderManual(w, r, http.StatusCreated, manualView{Form: form, Link: link, Detail: detailPath(form.Merchant, link.PaymentID)}, "")
}
