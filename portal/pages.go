package portal

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

//go:embed templates/*.html
var templateFS embed.FS

// templates maps a page name to its template: the layout and partials
// with the page's "content" block.
var templates = mustParseTemplates()

// The page templates; the details forms are named after their method.
var pageNames = []string{"methods", methodCard, methodBank, methodWallet, "status", "continue", "problem"}

func mustParseTemplates() map[string]*template.Template {
	base := template.Must(template.New("").ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t := template.Must(base.Clone())
		out[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	return out
}

// page is what a template renders. Text is translated before it gets here,
// except the fixed labels the templates look up with T.
type page struct {
	loc     *locale
	name    string   // template
	origins []string // form-action origins beyond 'self'

	Lang  string
	Title string
	Text  string
	Token string // empty on pages that have no payment

	// The order: empty Amount hides the summary.
	Merchant, Reference, Amount string
	Withdrawal                  bool

	Notice    string
	Errors    []summaryError
	CanCancel bool
	Retry     bool // offer to start over from /pay with the token

	// The method selection.
	Methods []methodView

	// A details form.
	Method                                   string
	ChangeMethod                             bool
	Submit                                   string
	Number, Month, Year, CVC, Holder, Wallet input
	Expiry, Bank                             group
	Banks                                    []bankOption

	// A status page.
	CheckAgain bool
	CloseHint  bool

	// The continue page.
	ContinueURL  string
	ContinueLink string
}

// T translates a fixed label; kv are placeholder name, value pairs.
func (p *page) T(key string, kv ...string) string { return p.loc.text(key, kv...) }

type summaryError struct {
	Href    string // "#" + the id of the field to fix
	Message string
}

type methodView struct {
	ID, Name, Limits string
}

// input is one text input with its label, hint and error.
type input struct {
	ID, Name, Type, Mode, Autocomplete string
	Label, Hint, HintID                string
	MaxLength                          int
	Value                              string
	Message, ErrorID, ErrorPrefix      string // Message is empty for inputs whose group shows the error
	Invalid                            bool
	DescribedBy                        string
	Class                              string
}

// group is a fieldset of inputs that share a legend, hint and error.
type group struct {
	Legend, Hint, HintID          string
	Message, ErrorID, ErrorPrefix string
	Invalid                       bool
	DescribedBy                   string
}

type bankOption struct {
	ID, Value, Name string
	Checked         bool
}

// fields lists the fields the forms can show, in form order, with the
// method whose form shows them and the id of the element an error links to.
var fields = []struct{ name, method, target string }{
	{"card.number", methodCard, "card-number"},
	{"card.expiry", methodCard, "card-expiry-month"},
	{"card.cvc", methodCard, "card-cvc"},
	{"card.holder", methodCard, "card-holder"},
	{"bank", methodBank, "bank-" + payment.Banks[0].ID},
	{"wallet", methodWallet, "wallet"},
}

// fieldMessage translates a refusal: the field's own message for the
// reason, else the reason's, else a generic one.
func fieldMessage(l *locale, fe payment.FieldError) string {
	for _, key := range []string{"error." + fe.Field + "." + fe.Reason, "error." + fe.Reason} {
		if l.has(key) {
			return l.text(key)
		}
	}
	return l.text("error.generic")
}

func (h *Handler) newPage(rq *request, name, title string) *page {
	p := &page{loc: rq.loc, name: name, origins: rq.origins, Lang: rq.loc.Tag, Title: rq.loc.text(title)}
	if co := rq.co; co != nil {
		p.Token = rq.token
		p.Merchant = co.MerchantName
		p.Reference = co.MerchantReference
		p.Amount = rq.loc.money(co.Amount)
		p.Withdrawal = co.Kind == paywire.KindWithdrawal
	}
	return p
}

// usableMethods are the offered methods the pages have a form for, in the
// order offered.
func usableMethods(co *payment.Checkout) []string {
	var out []string
	for _, m := range co.Methods {
		if hasForm(m.Method) && !slices.Contains(out, m.Method) {
			out = append(out, m.Method)
		}
	}
	return out
}

func hasForm(method string) bool {
	return method == methodCard || method == methodBank || method == methodWallet
}

func offered(co *payment.Checkout, method string) bool {
	return method != "" && slices.Contains(usableMethods(co), method)
}

// onlyMethod is the method to go straight to: the preselected one, or the
// only one offered; "" when the end user chooses.
func onlyMethod(co *payment.Checkout) string {
	if offered(co, co.Preselected) {
		return co.Preselected
	}
	if ms := usableMethods(co); len(ms) == 1 {
		return ms[0]
	}
	return ""
}

func (h *Handler) methodsPage(rq *request, notice string) *page {
	p := h.newPage(rq, "methods", "page.methods.title")
	p.CanCancel = true
	if notice != "" {
		p.Notice = rq.loc.text(notice)
	}
	cur := rq.co.Amount.Currency
	for _, m := range rq.co.Methods {
		if !hasForm(m.Method) {
			continue
		}
		v := methodView{ID: m.Method, Name: rq.loc.text("method." + m.Method)}
		if m.MaxMinor > 0 {
			v.Limits = rq.loc.text("method.limits",
				"min", rq.loc.money(paywire.Money{Amount: m.MinMinor, Currency: cur}),
				"max", rq.loc.money(paywire.Money{Amount: m.MaxMinor, Currency: cur}))
		}
		p.Methods = append(p.Methods, v)
	}
	return p
}

// detailsPage is the form for method, showing k again and refusals inline.
// The card number and security code inputs are always empty.
func (h *Handler) detailsPage(rq *request, method string, k kept, refused []payment.FieldError) *page {
	l := rq.loc
	p := h.newPage(rq, method, "page."+method+".title")
	p.Method = method
	p.CanCancel = true
	p.ChangeMethod = onlyMethod(rq.co) == "" && len(usableMethods(rq.co)) > 1
	submit := "submit.deposit"
	if p.Withdrawal {
		submit = "submit.withdrawal"
	}
	p.Submit = l.text(submit, "amount", p.Amount)

	// One message per field: the first refusal of each.
	msgs := map[string]string{}
	for _, fe := range refused {
		if _, dup := msgs[fe.Field]; !dup {
			msgs[fe.Field] = fieldMessage(l, fe)
		}
	}
	// The summary lists them in form order; one about a field this form
	// does not show links to the form's first field.
	first := map[string]string{methodCard: "card-number", methodBank: "bank-" + payment.Banks[0].ID, methodWallet: "wallet"}[method]
	listed := map[string]bool{}
	for _, f := range fields {
		if msg, ok := msgs[f.name]; ok {
			target := f.target
			if f.method != method {
				target = first
			}
			p.Errors = append(p.Errors, summaryError{Href: "#" + target, Message: msg})
			listed[f.name] = true
		}
	}
	for _, fe := range refused {
		if !listed[fe.Field] {
			p.Errors = append(p.Errors, summaryError{Href: "#" + first, Message: msgs[fe.Field]})
			listed[fe.Field] = true
		}
	}
	prefix := l.text("error.prefix")
	field := func(id, name, fieldName, label, hint string) input {
		in := input{ID: id, Name: name, Type: "text", Label: l.text(label), ErrorPrefix: prefix}
		if hint != "" {
			in.Hint, in.HintID = l.text(hint), id+"-hint"
		}
		if msg := msgs[fieldName]; msg != "" {
			in.Message, in.ErrorID, in.Invalid = msg, id+"-error", true
		}
		in.DescribedBy = joinIDs(in.HintID, in.ErrorID)
		return in
	}

	switch method {
	case methodCard:
		p.Number = field("card-number", formCardNumber, "card.number", "card.number", "card.number.hint")
		p.Number.Mode, p.Number.Autocomplete, p.Number.MaxLength = "numeric", "cc-number", maxNumberLength
		p.Expiry = group{Legend: l.text("card.expiry"), Hint: l.text("card.expiry.hint"), HintID: "card-expiry-hint", ErrorPrefix: prefix}
		if msg := msgs["card.expiry"]; msg != "" {
			p.Expiry.Message, p.Expiry.ErrorID, p.Expiry.Invalid = msg, "card-expiry-error", true
		}
		p.Expiry.DescribedBy = joinIDs(p.Expiry.HintID, p.Expiry.ErrorID)
		p.Month = input{ID: "card-expiry-month", Name: formCardMonth, Type: "text", Mode: "numeric", Autocomplete: "cc-exp-month",
			Label: l.text("card.expiry_month"), MaxLength: 2, Value: k.Month, Invalid: p.Expiry.Invalid,
			DescribedBy: p.Expiry.DescribedBy, Class: "field-short"}
		p.Year = input{ID: "card-expiry-year", Name: formCardYear, Type: "text", Mode: "numeric", Autocomplete: "cc-exp-year",
			Label: l.text("card.expiry_year"), MaxLength: 4, Value: k.Year, Invalid: p.Expiry.Invalid,
			DescribedBy: p.Expiry.DescribedBy, Class: "field-short"}
		// The inputs carry the description; on the fieldset too, it would be
		// read twice.
		p.Expiry.DescribedBy = ""
		p.CVC = field("card-cvc", formCardCVC, "card.cvc", "card.cvc", "card.cvc.hint")
		p.CVC.Mode, p.CVC.Autocomplete, p.CVC.MaxLength, p.CVC.Class = "numeric", "cc-csc", 4, "field-short"
		p.Holder = field("card-holder", formCardHolder, "card.holder", "card.holder", "")
		p.Holder.Autocomplete, p.Holder.MaxLength, p.Holder.Value = "cc-name", 100, k.Holder
	case methodBank:
		p.Bank = group{Legend: l.text("bank.legend"), Hint: l.text("bank.hint"), HintID: "bank-hint", ErrorPrefix: prefix}
		if msg := msgs["bank"]; msg != "" {
			p.Bank.Message, p.Bank.ErrorID, p.Bank.Invalid = msg, "bank-error", true
		}
		p.Bank.DescribedBy = joinIDs(p.Bank.HintID, p.Bank.ErrorID)
		for _, b := range payment.Banks {
			p.Banks = append(p.Banks, bankOption{ID: "bank-" + b.ID, Value: b.ID, Name: b.Name, Checked: b.ID == k.Bank})
		}
	case methodWallet:
		p.Wallet = field("wallet", formWallet, "wallet", "wallet.label", "wallet.hint")
		p.Wallet.Type, p.Wallet.Mode, p.Wallet.Autocomplete, p.Wallet.MaxLength, p.Wallet.Value = "email", "email", "email", 254, k.Wallet
	}
	return p
}

func joinIDs(ids ...string) string {
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return strings.Join(out, " ")
}

// statusPage tells where a payment stands when there is no page to send
// the end user to: processing (ask again) or a final word.
func (h *Handler) statusPage(rq *request, st paywire.State) *page {
	key := "state." + string(st)
	if !rq.loc.has(key + ".title") {
		key = "state.other"
	}
	p := h.newPage(rq, "status", key+".title")
	p.Text = rq.loc.text(key + ".text")
	switch st {
	case paywire.StatePending, paywire.StateReview:
		p.CheckAgain, p.CanCancel = true, true
	default:
		p.CloseHint = true
	}
	return p
}

// problem is an error page: its status and the key of its words.
type problem struct {
	status int
	key    string
	retry  bool // the payment may still go on: offer to try again and to cancel
}

var (
	problemInvalid     = problem{http.StatusBadRequest, "invalid", false}
	problemExpired     = problem{http.StatusGone, "expired", false}
	problemBadRequest  = problem{http.StatusBadRequest, "badrequest", false}
	problemTooLarge    = problem{http.StatusRequestEntityTooLarge, "toolarge", false}
	problemNotFound    = problem{http.StatusNotFound, "notfound", false}
	problemNotAllowed  = problem{http.StatusMethodNotAllowed, "notallowed", false}
	problemUnavailable = problem{http.StatusServiceUnavailable, "unavailable", true}
	problemInternal    = problem{http.StatusInternalServerError, "internal", true}
	problemNoMethods   = problem{http.StatusServiceUnavailable, "nomethods", true}
)

// problemPages are the pages paywire's error table names (ErrorClass.Page).
var problemPages = map[string]problem{
	"invalid": problemInvalid, "expired": problemExpired, "badrequest": problemBadRequest,
	"toolarge": problemTooLarge, "notfound": problemNotFound, "unavailable": problemUnavailable,
	"internal": problemInternal,
}

// problem renders the error page pr. rq may be nil (before the form is read) and may
// have no checkout (the token was refused).
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, rq *request, pr problem) {
	if rq == nil {
		rq = h.newRequest(r)
	}
	p := h.newPage(rq, "problem", "page."+pr.key+".title")
	p.Text = rq.loc.text("page." + pr.key + ".text")
	if rq.co != nil && pr.retry {
		p.CanCancel = true
		p.Retry = pr != problemNoMethods
	}
	if pr == problemExpired && rq.token != "" {
		// The payment is still there; cancelling it takes the end user back.
		p.Token, p.CanCancel = rq.token, true
	}
	h.render(w, r, pr.status, p)
}

// fallbackPage is sent when a page cannot be rendered: fixed words, no
// detail.
const fallbackPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Something went wrong</title><link rel="stylesheet" href="/pay/assets/portal.css"></head>
<body><main class="page"><h1>Something went wrong</h1><p>Please go back to the shop and try again.</p></main></body></html>
`

// render executes the page into memory first, so that a failing template
// never leaves half a page, and sends it with the page's policy.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p *page) {
	var buf bytes.Buffer
	if err := templates[p.name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.logger().ErrorContext(r.Context(), "portal: cannot render page", "page", p.name, "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(fallbackPage)
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy(p.origins))
	hd.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
