package traffic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
)

// The ways a merchant starts a payment.
const (
	APIJSON = "json" // POST /api/v1/payments
	APISOAP = "soap" // getRedirectData
)

// Answers an end user gives on a provider's page, and ways to give up.
const (
	Approve = "approve" // the 3-D Secure challenge
	Deny    = "deny"    // the 3-D Secure challenge
	PayNow  = "pay"     // the bank login
	Cancel  = "cancel"  // any page's Cancel
	Leave   = "leave"   // the end user closes the window
)

// Card is what an end user types into the card form.
type Card struct {
	Number      string
	ExpiryMonth int
	ExpiryYear  int
	CVC         string
	Holder      string
}

// EndUser is what an end user does on the pages.
type EndUser struct {
	// Method is chosen on the method selection ("card", "bank_redirect",
	// "ewallet"); when it is not offered, the card, else the first
	// method on offer.
	Method string
	Card   Card
	Bank   string // a bank id; "" or one not on offer: the first offered
	Wallet string // the e-wallet account
	// OnMethods is what the end user does on the method selection instead
	// of choosing: "" (choose), Leave or Cancel.
	OnMethods string
	// Challenge answers the 3-D Secure page: Approve, Deny, Cancel or
	// Leave. Empty approves.
	Challenge string
	// BankLogin answers the bank's login page: PayNow, Cancel or Leave.
	// Empty pays.
	BankLogin string
	// CheckAgain is how often the end user presses "Check again" on the
	// processing page, a second apart, before leaving it.
	CheckAgain int
}

// Order is one payment from its start to its end: how the merchant starts
// it, what its end user does, and whether the merchant captures it.
type Order struct {
	// Label says what the order stands for (a simulation's scenario);
	// it is reported, not sent.
	Label   string
	API     string // APIJSON or APISOAP
	Request message.GetRedirectDataRequest
	// Key is the JSON API's Idempotency-Key; empty uses the merchant
	// reference. SOAP always uses the reference.
	Key  string
	User EndUser
	// Capture captures the payment in full when the flow leaves it
	// authorized, as a merchant who ships the goods does.
	Capture bool
}

// Result is what came of an order.
type Result struct {
	Order     *Order
	PaymentID string
	// ReturnPage is the merchant page the end user came back to
	// ("success", "error", "cancel", "refused", "pending"), "" when they
	// did not come back; Returned is the state that page was told.
	ReturnPage, Returned string
	// Payment is the payment as the merchant read it last (after the
	// capture, if there was one); nil when it could not be read.
	Payment  *message.PaymentJSON
	Captured bool
	Steps    []Step
	Took     time.Duration
}

// Pay runs order o: the merchant starts the payment, its end user pays on
// the hosted pages in browser b (its Merchant is set to o's return URLs),
// and the merchant reads the payment and, with o.Capture, captures it.
// The error is the first step that went wrong; r holds what was done and
// timed until then (never nil).
func Pay(ctx context.Context, m *Merchant, b *Browser, o *Order) (r *Result, err error) {
	begin := time.Now()
	r = &Result{Order: o}
	b.Merchant = o.returnPage
	defer func() {
		r.Steps = slices.Clone(b.Steps)
		r.Took = time.Since(begin)
	}()
	if o.Request.PaymentMethod != "" {
		// The merchant's checkout offers what Paywire offers this end
		// user; a method it does not offer is left to the pages.
		var offered []string
		err = timed(&b.Steps, "GET /api/v1/payment-methods", func() error {
			var e error
			offered, e = m.Methods(ctx, o.Request)
			return e
		})
		if err != nil {
			return r, fmt.Errorf("listing the payment methods: %w", err)
		}
		if !slices.Contains(offered, o.Request.PaymentMethod) {
			o.Request.PaymentMethod = ""
		}
	}
	var rd *Redirect
	switch o.API {
	case APISOAP:
		err = timed(&b.Steps, "SOAP getRedirectData", func() error {
			var e error
			rd, e = m.StartSOAP(ctx, o.Request)
			return e
		})
	case APIJSON, "":
		err = timed(&b.Steps, "POST /api/v1/payments", func() error {
			var e error
			rd, e = m.StartJSON(ctx, o.Request, o.Key)
			return e
		})
	default:
		return r, fmt.Errorf("unknown API %q", o.API)
	}
	if err != nil {
		return r, fmt.Errorf("starting the payment: %w", err)
	}
	r.PaymentID = rd.PaymentID
	target, err := url.Parse(rd.URL)
	if err != nil || rd.Method != http.MethodPost {
		return r, fmt.Errorf("the redirect %s %q cannot be followed", rd.Method, rd.URL)
	}
	page, err := b.Navigate(ctx, http.MethodPost, target, rd.Fields)
	if err != nil {
		return r, fmt.Errorf("opening the hosted pages: %w", err)
	}
	if page, err = walk(ctx, b, page, &o.User); err != nil {
		return r, err
	}
	if page != nil && page.Left != nil {
		r.ReturnPage = o.pageName(page.Left)
		r.Returned = page.Left.Query().Get("state")
	}
	err = timed(&b.Steps, "GET /api/v1/payments/{id}", func() error {
		var e error
		r.Payment, e = m.Payment(ctx, r.PaymentID)
		return e
	})
	if err != nil {
		return r, fmt.Errorf("reading the payment: %w", err)
	}
	if o.Capture && r.Payment.State == "AUTHORIZED" {
		if err = capture(ctx, m, &b.Steps, r); err != nil {
			return r, fmt.Errorf("capturing the payment: %w", err)
		}
	}
	return r, nil
}

// capture captures r's authorized payment in full. A payment captured
// meanwhile by Paywire itself (the merchant's auto-capture) is not
// captured again, and is no error.
func capture(ctx context.Context, m *Merchant, steps *[]Step, r *Result) error {
	var err error
	// As the integration manual says to: a capture the provider did not
	// answer (503 unavailable, the node's own capture of the payment
	// perhaps under way) is sent again with the same key, a few times.
	for wait := 200 * time.Millisecond; ; wait *= 2 {
		err = timed(steps, "POST /api/v1/payments/{id}/capture", func() error {
			p, e := m.Capture(ctx, r.PaymentID, "capture-"+r.PaymentID)
			if e == nil {
				r.Payment, r.Captured = p, true
			}
			return e
		})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "unavailable" || wait > 2*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == "illegal_transition" {
		p, rerr := m.Payment(ctx, r.PaymentID)
		if rerr == nil && p.State != "AUTHORIZED" {
			r.Payment = p
			(*steps)[len(*steps)-1].Err = nil
			return nil
		}
	}
	return err
}

// maxPages bounds the pages one end user goes through.
const maxPages = 12

// walk is the end user on the pages from page on, until they are back at
// the merchant's or leave (nil page).
func walk(ctx context.Context, b *Browser, page *Page, u *EndUser) (*Page, error) {
	checks := 0
	for range maxPages {
		if page.Left != nil {
			return page, nil
		}
		if page.Status >= 400 && page.Status != http.StatusUnprocessableEntity {
			return nil, fmt.Errorf("%s answered %d", page.URL.Path, page.Status)
		}
		var next *Page
		var err error
		switch {
		case page.Form("/pay/method") != nil:
			switch u.OnMethods {
			case Leave:
				return nil, nil
			case Cancel:
				next, err = cancel(ctx, b, page)
			default:
				f := page.Form("/pay/method")
				method := u.Method
				if !f.HasButton("method", method) {
					method = "card"
				}
				if !f.HasButton("method", method) && len(f.Buttons) > 0 {
					method = f.Buttons[0].Value
				}
				next, err = b.Submit(ctx, page, f, url.Values{"method": {method}})
			}
		case page.Form("/pay/submit") != nil:
			f := page.Form("/pay/submit")
			if page.Status == http.StatusUnprocessableEntity {
				return nil, fmt.Errorf("the %s form was refused", f.Fields.Get("method"))
			}
			next, err = b.Submit(ctx, page, f, details(f, u))
		case page.Form("/pay/status") != nil:
			if checks >= u.CheckAgain {
				return nil, nil // the end user leaves the processing page
			}
			checks++
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Second):
			}
			next, err = b.Submit(ctx, page, page.Form("/pay/status"), nil)
		case providerForm(page, "decision") != nil:
			answer := u.Challenge
			if answer == "" {
				answer = Approve
			}
			if answer == Leave {
				return nil, nil
			}
			next, err = b.Submit(ctx, page, providerForm(page, "decision"), url.Values{"decision": {answer}})
		case providerForm(page, "action") != nil:
			answer := u.BankLogin
			if answer == "" {
				answer = PayNow
			}
			if answer == Leave {
				return nil, nil
			}
			next, err = b.Submit(ctx, page, providerForm(page, "action"),
				url.Values{"action": {answer}, "username": {"simulated"}, "password": {"simulated"}})
		case len(page.Forms) == 0 && len(page.Links) == 1:
			// "Continue to the provider": a link where the pages could
			// not redirect.
			var to *url.URL
			if to, err = page.URL.Parse(page.Links[0]); err == nil {
				next, err = b.Navigate(ctx, http.MethodGet, to, nil)
			}
		case len(page.Forms) == 0 || (len(page.Forms) == 1 && page.Form("/pay/cancel") != nil):
			return nil, nil // a page that says how the payment ended, with nowhere to go
		default:
			return nil, fmt.Errorf("%s: a page the end user does not know what to do with (HTTP %d)", page.URL.Path, page.Status)
		}
		if err != nil {
			return nil, fmt.Errorf("on %s: %w", page.URL.Path, err)
		}
		page = next
	}
	return nil, errors.New("the end user went through too many pages")
}

// cancel presses the page's Cancel button.
func cancel(ctx context.Context, b *Browser, page *Page) (*Page, error) {
	f := page.Form("/pay/cancel")
	if f == nil {
		return nil, errors.New("the page has no Cancel button")
	}
	return b.Submit(ctx, page, f, nil)
}

// providerForm returns the provider page's form with a button named name.
func providerForm(page *Page, name string) *Form {
	for i := range page.Forms {
		for _, bt := range page.Forms[i].Buttons {
			if bt.Name == name {
				return &page.Forms[i]
			}
		}
	}
	return nil
}

// details fills in the details form of f's method.
func details(f *Form, u *EndUser) url.Values {
	switch f.Fields.Get("method") {
	case "bank_redirect":
		bank := u.Bank
		if opts := f.Options["bank"]; !slices.Contains(opts, bank) && len(opts) > 0 {
			bank = opts[0]
		}
		return url.Values{"bank": {bank}}
	case "ewallet":
		return url.Values{"wallet": {u.Wallet}}
	}
	c := u.Card
	return url.Values{"card_number": {c.Number}, "card_expiry_month": {strconv.Itoa(c.ExpiryMonth)},
		"card_expiry_year": {strconv.Itoa(c.ExpiryYear)}, "card_cvc": {c.CVC}, "card_holder": {c.Holder}}
}

// returnPage reports whether u is one of the order's return pages.
func (o *Order) returnPage(u *url.URL) bool { return o.pageName(u) != "" }

// pageName names the return page u is ("success", ...), "" for none.
func (o *Order) pageName(u *url.URL) string {
	rs := o.Request.ReturnURLs
	for _, p := range []struct{ name, url string }{{"success", rs.Success}, {"error", rs.Error}, {"cancel", rs.Cancel},
		{"refused", rs.Refused}, {"pending", rs.Pending}} {
		r, err := url.Parse(p.url)
		if err == nil && r.Scheme == u.Scheme && r.Host == u.Host && r.Path == u.Path {
			return p.name
		}
	}
	return ""
}

// timed runs call as a step named name.
func timed(steps *[]Step, name string, call func() error) error {
	start := time.Now()
	err := call()
	st := Step{Name: name, Took: time.Since(start), Err: err, Status: http.StatusOK}
	var ae *APIError
	var fe *soap.FaultError
	switch {
	case errors.As(err, &ae):
		st.Status = ae.Status
	case errors.As(err, &fe):
		st.Status = fe.Status
	case err != nil:
		st.Status = 0
	}
	*steps = append(*steps, st)
	return err
}
