package sandbox

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"html/template"
	"net/http"
	"strings"

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
			a.show(w, kind, ref, http.StatusOK, "", "")
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
func (a *Acquirer) show(w http.ResponseWriter, kind, ref string, status int, username, errMsg string) {
	a.mu.Lock()
	r := a.payments[ref]
	if r == nil || r.page != kind {
		a.mu.Unlock()
		a.unknown(w)
		return
	}
	d := a.pageData(r)
	awaiting := r.state == stateChallenge || r.state == stateBankLogin
	st := r.state
	a.mu.Unlock()

	origin := returnOrigin(d.ReturnURL)
	if !awaiting {
		d.Title, d.Message = outcomeText(st)
		a.render(w, status, "message", d, origin)
		return
	}
	d.ReturnURL = "" // the way back is the form
	d.Username, d.Error = username, errMsg
	a.render(w, status, kind, d, origin)
}

func (a *Acquirer) pageData(r *record) pageData {
	d := pageData{
		Provider:  a.cfg.Name,
		CSS:       a.prefix + "assets/sandbox.css",
		Action:    a.prefix + r.page + "/" + r.reference,
		Nonce:     r.nonce,
		Reference: r.reference,
		Amount:    r.amount.String(),
		ReturnURL: r.returnURL,
	}
	switch r.page {
	case "challenge":
		d.Title = "3-D Secure"
		d.Card = brandLabel(r.brand) + " ending " + r.last4
	case "bank":
		d.Bank = bankName(r.bank)
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
	}
	return "Payment failed", "This payment could not be processed. You can return to the shop."
}

// decide takes the end user's answer from a page's form, records the
// outcome, sends its webhook and sends the browser back to the return URL.
// A repeated post of a decided page only sends the browser back.
func (a *Acquirer) decide(w http.ResponseWriter, req *http.Request, kind, ref string) {
	req.Body = http.MaxBytesReader(w, req.Body, maxForm)
	if err := req.ParseForm(); err != nil {
		a.message(w, http.StatusBadRequest, "Form not readable", "The form could not be read. Go back and try again.", "")
		return
	}
	form := req.PostForm

	a.mu.Lock()
	r := a.payments[ref]
	if r == nil || r.page != kind {
		a.mu.Unlock()
		a.unknown(w)
		return
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("nonce")), []byte(r.nonce)) != 1 {
		a.mu.Unlock()
		a.message(w, http.StatusForbidden, "Form expired",
			"This form was not sent from this page or has expired. Reload the page and try again.", "")
		return
	}
	if r.state == stateVoided {
		a.mu.Unlock()
		a.show(w, kind, ref, http.StatusConflict, "", "")
		return
	}
	var ev *adapters.WebhookEvent
	if r.state == stateChallenge || r.state == stateBankLogin {
		answer := form.Get("decision")
		if kind == "bank" {
			answer = form.Get("action")
		}
		switch {
		case kind == "challenge" && answer == "approve":
			r.state = stateAuthorized
			e := a.event(adapters.EventAuthorized, r, r.amount.Amount)
			ev = &e
		case kind == "challenge" && answer == "deny":
			r.state, r.code = stateDeclined, "authentication_failed"
			e := a.event(adapters.EventDeclined, r, 0)
			ev = &e
		case kind == "bank" && answer == "pay":
			user := strings.TrimSpace(form.Get("username"))
			if user == "" || form.Get("password") == "" {
				a.mu.Unlock()
				a.show(w, kind, ref, http.StatusUnprocessableEntity, truncate(user, 64), "Enter your username and password.")
				return
			}
			r.state, r.captured = stateAuthorized, r.amount.Amount
			a.book(r, "capture", r.amount.Amount)
			e := a.event(adapters.EventCaptured, r, r.amount.Amount)
			ev = &e
		case kind == "bank" && answer == "cancel":
			r.state, r.code = stateDeclined, "cancelled_by_user"
			e := a.event(adapters.EventDeclined, r, 0)
			ev = &e
		default:
			a.mu.Unlock()
			a.message(w, http.StatusBadRequest, "Unknown answer", "Choose one of the page's buttons.", "")
			return
		}
	}
	back := r.returnURL
	a.mu.Unlock()

	if ev != nil {
		a.log.Info("end user decided", "page", kind, "payment", ev.PaymentID, "reference", ref, "event", ev.Type)
		a.send(*ev)
	}
	a.secure(w, returnOrigin(back))
	http.Redirect(w, req, back, http.StatusSeeOther)
}

func (a *Acquirer) unknown(w http.ResponseWriter) {
	a.message(w, http.StatusNotFound, "Unknown payment",
		"The sandbox "+a.cfg.Name+" holds no payment with this reference. It may have been made before a restart: the sandbox keeps payments in memory only.", "")
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
