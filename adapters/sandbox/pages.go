package sandbox

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

//go:embed templates/*.html assets/sandbox.css
var files embed.FS

// pages are the page templates, each inside the common layout.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.ParseFS(files, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, name := range []string{"challenge", "bank", "message"} {
		m[name] = template.Must(template.Must(layout.Clone()).ParseFS(files, "templates/"+name+".html"))
	}
	return m
}()

var stylesheet, _ = files.ReadFile("assets/sandbox.css")

// maxForm bounds the body of a page's form post.
const maxForm = 16 << 10

// Handler serves the instance's pages under PathPrefix(),
// "/sandbox/<name>/": the 3-D Secure challenge at challenge/<reference>,
// the bank login at bank/<reference> and the stylesheet at
// assets/sandbox.css. Mount it at that prefix without stripping it, on the
// server behind Config.BaseURL. Anything else under the prefix is a 404
// page.
func (a *Acquirer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(a.prefix+"challenge/{ref}", a.page("challenge"))
	mux.HandleFunc(a.prefix+"bank/{ref}", a.page("bank"))
	mux.HandleFunc(a.prefix+"assets/sandbox.css", a.serveStylesheet)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.message(w, http.StatusNotFound, "Page not found", "There is no sandbox page at this address.", "")
	})
	return mux
}

// pageData is what the page templates show.
type pageData struct {
	Provider  string
	Title     string
	CSS       string
	Action    string
	Nonce     string
	Reference string
	Amount    string
	Card      string
	Bank      string
	Username  string // put back after a refused login; never the password
	Error     string
	Message   string
	ReturnURL string
}

// page serves the end user's page of one kind ("challenge" or "bank").
func (a *Acquirer) page(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			a.show(w, r, kind, ref)
		case http.MethodPost:
			a.decide(w, r, kind, ref)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			a.message(w, http.StatusMethodNotAllowed, "Method not allowed", "This page takes GET and POST only.", "")
		}
	}
}

// show renders a payment's page: its form while the end user's decision is
// awaited, the outcome after.
func (a *Acquirer) show(w http.ResponseWriter, req *http.Request, kind, ref string) {
	const op = "sandbox/Acquirer.show"
	var r *record
	fx := &after{}
	err := a.inTx(req.Context(), op, func(ctx context.Context, tx bun.Tx) (err error) {
		r, err = a.lock(ctx, tx, lookup{reference: ref}, fx)
		return err
	})
	if err != nil {
		a.unavailable(w, err)
		return
	}
	a.dispatch(fx)
	if r == nil || r.Page != kind {
		a.unknown(w)
		return
	}
	a.showRecord(w, r, http.StatusOK, "", "")
}

// showRecord renders the page of a payment as it stands.
func (a *Acquirer) showRecord(w http.ResponseWriter, r *record, status int, username, errMsg string) {
	d := a.pageData(r)
	origin := returnOrigin(d.ReturnURL)
	if r.State != stateChallenge && r.State != stateBankLogin {
		d.Title, d.Message = outcomeText(r.State)
		a.render(w, status, "message", d, origin)
		return
	}
	d.ReturnURL = "" // the way back is the form
	d.Username, d.Error = username, errMsg
	a.render(w, status, r.Page, d, origin)
}

func (a *Acquirer) pageData(r *record) pageData {
	d := pageData{
		Provider:  a.cfg.Name,
		CSS:       a.prefix + "assets/sandbox.css",
		Action:    a.prefix + r.Page + "/" + r.Reference,
		Nonce:     r.Nonce,
		Reference: r.Reference,
		Amount:    r.money().String(),
		ReturnURL: r.ReturnURL,
	}
	switch r.Page {
	case "challenge":
		d.Title = "3-D Secure"
		d.Card = brandLabel(r.Brand) + " ending " + r.Last4
	case "bank":
		d.Bank = bankName(r.Bank)
		d.Title = d.Bank
	}
	return d
}

func outcomeText(s state) (title, message string) {
	switch s {
	case stateAuthorized:
		return "Payment approved", "This payment has been approved. You can return to the shop."
	case stateDeclined:
		return "Payment declined", "This payment was declined. You can return to the shop."
	case stateVoided:
		return "Payment cancelled", "This payment was cancelled by the shop."
	case stateCancelled:
		return "Payment cancelled", "You cancelled this payment. You can return to the shop."
	}
	return "Payment failed", "This payment could not be processed. You can return to the shop."
}

// verdict is what a page's form post comes to.
type verdict int

const (
	verdictUnknown      verdict = iota // no such page
	verdictForged                      // the form's token does not match
	verdictVoided                      // the shop cancelled the payment meanwhile
	verdictBadAnswer                   // not one of the page's buttons
	verdictMissingLogin                // the bank login lacks a username or password
	verdictBack                        // decided (now or before): back to the shop
)

// decide takes the end user's answer from a page's form, records the
// outcome, sends its webhook and sends the browser back to the return URL.
// A repeated post of a decided page only sends the browser back.
func (a *Acquirer) decide(w http.ResponseWriter, req *http.Request, kind, ref string) {
	const op = "sandbox/Acquirer.decide"
	req.Body = http.MaxBytesReader(w, req.Body, maxForm)
	if err := req.ParseForm(); err != nil {
		a.message(w, http.StatusBadRequest, "Form not readable", "The form could not be read. Go back and try again.", "")
		return
	}
	form := req.PostForm
	user := strings.TrimSpace(form.Get("username"))

	var r *record
	var v verdict
	fx := &after{}
	err := a.inTx(req.Context(), op, func(ctx context.Context, tx bun.Tx) (err error) {
		v = verdictUnknown
		if r, err = a.lock(ctx, tx, lookup{reference: ref}, fx); err != nil || r == nil || r.Page != kind {
			return err
		}
		switch {
		case subtle.ConstantTimeCompare([]byte(form.Get("nonce")), []byte(r.Nonce)) != 1:
			v = verdictForged
			return nil
		case r.State == stateVoided:
			v = verdictVoided
			return nil
		case r.State != stateChallenge && r.State != stateBankLogin:
			v = verdictBack
			return nil
		}
		answer := form.Get("decision")
		if kind == "bank" {
			answer = form.Get("action")
		}
		switch {
		case kind == "challenge" && answer == "approve":
			r.State = stateAuthorized
			fx.event(a.event(adapters.EventAuthorized, r, r.Amount))
		case kind == "challenge" && answer == "deny":
			r.State, r.Code = stateDeclined, "authentication_failed"
			fx.event(a.event(adapters.EventDeclined, r, 0))
		case answer == "cancel":
			// The end user gave up on the provider's page: cancelled,
			// not declined, so nothing counts against the card or the
			// account.
			r.State, r.Code = stateCancelled, "cancelled_by_user"
			fx.event(a.event(adapters.EventCancelled, r, 0))
		case kind == "bank" && answer == "pay":
			if user == "" || form.Get("password") == "" {
				v = verdictMissingLogin
				return nil
			}
			r.State, r.Captured, r.Sale = stateAuthorized, r.Amount, true
			if err := a.book(ctx, tx, r, "capture", r.Amount, a.now()); err != nil {
				return err
			}
			fx.event(a.event(adapters.EventCaptured, r, r.Amount))
		default:
			v = verdictBadAnswer
			return nil
		}
		v = verdictBack
		return a.save(ctx, tx, r)
	})
	if err != nil {
		a.unavailable(w, err)
		return
	}
	a.dispatch(fx)
	switch v {
	case verdictUnknown:
		a.unknown(w)
	case verdictForged:
		a.message(w, http.StatusForbidden, "Form expired",
			"This form was not sent from this page or has expired. Reload the page and try again.", "")
	case verdictVoided:
		a.showRecord(w, r, http.StatusConflict, "", "")
	case verdictBadAnswer:
		a.message(w, http.StatusBadRequest, "Unknown answer", "Choose one of the page's buttons.", "")
	case verdictMissingLogin:
		a.showRecord(w, r, http.StatusUnprocessableEntity, truncate(user, 64), "Enter your username and password.")
	default:
		for _, ev := range fx.events {
			a.log.InfoContext(req.Context(), "end user decided", "page", kind, "payment_id", ev.PaymentID, "reference", ref, "event", ev.Type)
		}
		a.secure(w, returnOrigin(r.ReturnURL))
		http.Redirect(w, req, r.ReturnURL, http.StatusSeeOther)
	}
}

func (a *Acquirer) unknown(w http.ResponseWriter) {
	a.message(w, http.StatusNotFound, "Unknown payment",
		"The sandbox "+a.cfg.Name+" holds no payment with this reference.", "")
}

// unavailable answers a page whose payment could not be read or changed.
func (a *Acquirer) unavailable(w http.ResponseWriter, err error) {
	a.log.Error("sandbox page", "error", err)
	a.message(w, http.StatusServiceUnavailable, "Sandbox unavailable",
		"The sandbox "+a.cfg.Name+" cannot process this page right now. Try again in a moment.", "")
}

func (a *Acquirer) message(w http.ResponseWriter, status int, title, msg, returnURL string) {
	a.render(w, status, "message", pageData{Provider: a.cfg.Name, CSS: a.prefix + "assets/sandbox.css",
		Title: title, Message: msg, ReturnURL: returnURL}, returnOrigin(returnURL))
}

// render writes a page whole or, if the template fails, a plain error.
func (a *Acquirer) render(w http.ResponseWriter, status int, name string, d pageData, origin string) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		a.log.Error("rendering a sandbox page", "page", name, "error", err)
		http.Error(w, paywire.ErrorMessage(err), http.StatusInternalServerError)
		return
	}
	a.secure(w, origin)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// secure sets the pages' security headers. Forms may post to the page
// itself and, because a browser checks form-action against the redirect
// that follows a post, lead on to the return URL's origin.
func (a *Acquirer) secure(w http.ResponseWriter, returnOrigin string) {
	formAction := "'self'"
	if returnOrigin != "" {
		formAction += " " + returnOrigin
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

func (a *Acquirer) serveStylesheet(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		a.message(w, http.StatusMethodNotAllowed, "Method not allowed", "This address takes GET only.", "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(stylesheet)
}
