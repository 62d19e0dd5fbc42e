package portal

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// Checkouts are the payment use cases behind the hosted pages. Every method
// takes the redirect token the merchant posted; all of them refuse a
// tampered or unknown token with EUNAUTHORIZED and an expired one with
// EEXPIRED.
type Checkouts interface {
	// OpenRedirect returns what a token shows.
	OpenRedirect(ctx context.Context, token string) (*payment.Checkout, error)
	// Submit takes the end user's details, once: ECONFLICT when the payment
	// was already submitted, a *payment.DetailsError for refused fields,
	// EINVALID for a method not offered.
	Submit(ctx context.Context, token string, d payment.Details) (*payment.Outcome, error)
	// CancelRedirect cancels the payment for the end user and says where to
	// go (the merchant's Cancel page).
	CancelRedirect(ctx context.Context, token string) (*payment.Outcome, error)
	// Progress says where a submitted payment stands and where the end user
	// goes (RedirectURL empty while still processing).
	Progress(ctx context.Context, token string) (*payment.Outcome, error)
}

// Handler serves the hosted payment pages under /pay.
type Handler struct {
	Checkouts Checkouts
	Logger    *slog.Logger
	// TLS says the pages are served over HTTPS although requests arrive in
	// plain HTTP (a TLS-terminating proxy in front): it turns on
	// Strict-Transport-Security, as a request over TLS does.
	TLS bool
	// ProviderOrigins are the scheme://host[:port] of external providers'
	// pages (3-D Secure, bank login) the pages' forms may redirect to. The
	// sandbox provider, served under /sandbox/ by this service, needs none.
	// A redirect to an origin that is neither ours, the merchant's nor
	// listed here is shown as a link to follow instead of a 303, because
	// the policy would block it.
	ProviderOrigins []string
}

// maxBodyBytes bounds a request body: the largest form is a few hundred
// bytes.
const maxBodyBytes = 64 << 10

// maxTokenLength bounds the token passed on to the use cases.
const maxTokenLength = 512

// Mount adds the pages' routes to r under /pay. It panics without
// Checkouts: the pages cannot show anything without them.
func (h *Handler) Mount(r chi.Router) {
	if h.Checkouts == nil {
		panic("portal: Handler.Checkouts is nil")
	}
	r.Route("/pay", func(r chi.Router) {
		r.Use(h.secure)
		r.Post("/", h.start)
		r.Get("/link/{token}", h.link)
		r.Post("/method", h.method)
		r.Post("/submit", h.submit)
		r.Post("/status", h.status)
		r.Post("/cancel", h.cancel)
		r.Get("/assets/{name}", h.asset)
		r.Head("/assets/{name}", h.asset)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) { h.problem(w, r, nil, problemNotFound) })
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/pay/assets/") {
				w.Header().Set("Allow", "GET, HEAD")
			} else if strings.HasPrefix(r.URL.Path, "/pay/link/") {
				w.Header().Set("Allow", http.MethodGet)
			} else {
				w.Header().Set("Allow", http.MethodPost)
			}
			h.problem(w, r, nil, problemNotAllowed)
		})
	})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// request is one request of the pages: its form and what its token shows.
type request struct {
	form    url.Values
	token   string
	co      *payment.Checkout // nil until the token is opened
	loc     *locale
	origins []string // form-action origins
}

func (h *Handler) newRequest(r *http.Request) *request {
	return &request{loc: chooseLocale("", r.Header.Get("Accept-Language")), origins: h.providerOrigins()}
}

// open reads the form and opens its token. On failure it has answered.
func (h *Handler) open(w http.ResponseWriter, r *http.Request) (*request, bool) {
	rq, ok := h.read(w, r)
	if !ok {
		return nil, false
	}
	if err := h.load(r, rq); err != nil {
		h.fail(w, r, rq, err)
		return nil, false
	}
	return rq, true
}

// read reads the form and its token. On failure it has answered. Only the
// body counts: the token never travels in a URL.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (*request, bool) {
	rq := h.newRequest(r)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			w.Header().Set("Connection", "close")
			h.problem(w, r, rq, problemTooLarge)
		} else {
			h.problem(w, r, rq, problemBadRequest)
		}
		return nil, false
	}
	if !validForm(r.Form) {
		h.problem(w, r, rq, problemBadRequest)
		return nil, false
	}
	rq.form = r.PostForm
	rq.token = r.PostForm.Get("token")
	if rq.token == "" || len(rq.token) > maxTokenLength {
		rq.token = ""
		h.problem(w, r, rq, problemInvalid)
		return nil, false
	}
	return rq, true
}

// load opens the token: the checkout, its language and its origins.
func (h *Handler) load(r *http.Request, rq *request) error {
	co, err := h.Checkouts.OpenRedirect(r.Context(), rq.token)
	if err == nil && co == nil {
		err = paywire.Errorf(paywire.EINTERNAL, "no checkout for the token")
	}
	if err != nil {
		return err
	}
	rq.co = co
	rq.loc = chooseLocale(co.Language, r.Header.Get("Accept-Language"))
	rq.origins = origins(co.ReturnOrigins, h.ProviderOrigins)
	return nil
}

// fail answers an error of the use cases with its page. Only errors that
// are ours are logged; the end user never sees an error's text.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	pid := ""
	if rq.co != nil {
		pid = rq.co.PaymentID
	}
	_, class, _ := paywire.Classify(err)
	pr, ok := problemPages[class.Page]
	if !ok {
		pr = problemInternal
	}
	switch {
	case class.Client:
	case pr == problemUnavailable:
		h.logger().WarnContext(r.Context(), "portal: payment step unavailable", "path", r.URL.Path, "payment_id", pid, "error", err)
	default:
		h.logger().ErrorContext(r.Context(), "portal: payment step failed", "path", r.URL.Path, "payment_id", pid, "error", err)
	}
	h.problem(w, r, rq, pr)
}

// link opens a payment link (a manual payment's) as start opens the
// merchant's redirect: the link's token is the one that travels in a URL,
// for the end user follows it from a message; the pages send no Referer,
// and every step after this one posts the token in the form.
func (h *Handler) link(w http.ResponseWriter, r *http.Request) {
	rq := h.newRequest(r)
	rq.token = chi.URLParam(r, "token")
	if rq.token == "" || len(rq.token) > maxTokenLength {
		rq.token = ""
		h.problem(w, r, rq, problemInvalid)
		return
	}
	if err := h.load(r, rq); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if rq.co.State != paywire.StateCreated {
		h.progress(w, r, rq)
		return
	}
	h.choose(w, r, rq)
}

// start is where the merchant's site sends the end user: the method
// selection, or the outcome of a payment already submitted.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	rq, ok := h.open(w, r)
	if !ok {
		return
	}
	if rq.co.State != paywire.StateCreated {
		h.progress(w, r, rq)
		return
	}
	h.choose(w, r, rq)
}

// choose shows the method selection, or goes straight to the form of the
// preselected or only method.
func (h *Handler) choose(w http.ResponseWriter, r *http.Request, rq *request) {
	if len(usableMethods(rq.co)) == 0 {
		h.problem(w, r, rq, problemNoMethods)
		return
	}
	if m := onlyMethod(rq.co); m != "" {
		h.render(w, r, http.StatusOK, h.detailsPage(rq, m, kept{}, nil))
		return
	}
	h.render(w, r, http.StatusOK, h.methodsPage(rq, ""))
}

// method shows the details form of the chosen method.
func (h *Handler) method(w http.ResponseWriter, r *http.Request) {
	rq, m, ok := h.openMethod(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, h.detailsPage(rq, m, kept{}, nil))
}

// openMethod opens the token of a form that names a method: a payment no
// longer awaiting details shows its progress, a method not offered the
// method selection again. ok is false when the answer was written.
func (h *Handler) openMethod(w http.ResponseWriter, r *http.Request) (*request, string, bool) {
	rq, ok := h.open(w, r)
	if !ok {
		return nil, "", false
	}
	if rq.co.State != paywire.StateCreated {
		h.progress(w, r, rq)
		return nil, "", false
	}
	m := rq.form.Get("method")
	if !offered(rq.co, m) {
		h.notOffered(w, r, rq)
		return nil, "", false
	}
	return rq, m, true
}

func (h *Handler) notOffered(w http.ResponseWriter, r *http.Request, rq *request) {
	if len(usableMethods(rq.co)) == 0 {
		h.problem(w, r, rq, problemNoMethods)
		return
	}
	h.render(w, r, http.StatusUnprocessableEntity, h.methodsPage(rq, "notice.method_unavailable"))
}

// submit takes the details. The card number and security code go into
// payment.Details and nowhere else: not into a log line, not back into
// the page.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	rq, m, ok := h.openMethod(w, r)
	if !ok {
		return
	}
	d, k, refused := parseDetails(m, rq.form)
	if len(refused) > 0 {
		h.render(w, r, http.StatusUnprocessableEntity, h.detailsPage(rq, m, k, refused))
		return
	}
	d.IP = clientIP(r)
	out, err := h.Checkouts.Submit(r.Context(), rq.token, d)
	d.Card = nil
	if err != nil {
		if de, ok := errors.AsType[*payment.DetailsError](err); ok {
			if onlyAbout(de, "method") {
				h.notOffered(w, r, rq)
				return
			}
			h.render(w, r, http.StatusUnprocessableEntity, h.detailsPage(rq, m, k, de.Fields))
			return
		}
		switch paywire.ErrorCode(err) {
		case paywire.ECONFLICT:
			h.progress(w, r, rq)
		case paywire.EINVALID:
			h.notOffered(w, r, rq)
		default:
			h.fail(w, r, rq, err)
		}
		return
	}
	h.follow(w, r, rq, out)
}

// onlyAbout reports whether every refused field of de is field.
func onlyAbout(de *payment.DetailsError, field string) bool {
	for _, fe := range de.Fields {
		if fe.Field != field {
			return false
		}
	}
	return len(de.Fields) > 0
}

// status is the processing page's "Check again".
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	rq, ok := h.open(w, r)
	if !ok {
		return
	}
	if rq.co.State == paywire.StateCreated {
		h.choose(w, r, rq)
		return
	}
	h.progress(w, r, rq)
}

// cancel is the Cancel button of every page. A payment that moved on in the
// meantime cannot be cancelled here: its progress is shown instead. An
// expired link still takes the end user back to the shop.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	rq, ok := h.read(w, r)
	if !ok {
		return
	}
	if err := h.load(r, rq); err != nil && paywire.ErrorCode(err) != paywire.EEXPIRED {
		h.fail(w, r, rq, err)
		return
	}
	out, err := h.Checkouts.CancelRedirect(r.Context(), rq.token)
	if err != nil {
		switch code := paywire.ErrorCode(err); {
		case rq.co != nil && (code == paywire.ECONFLICT || code == paywire.EILLEGALMOVE):
			h.progress(w, r, rq)
		default:
			h.fail(w, r, rq, err)
		}
		return
	}
	if rq.co == nil && out != nil && out.RedirectURL == "" {
		h.problem(w, r, rq, problemExpired)
		return
	}
	h.follow(w, r, rq, out)
}

// progress shows where a submitted payment stands.
func (h *Handler) progress(w http.ResponseWriter, r *http.Request, rq *request) {
	out, err := h.Checkouts.Progress(r.Context(), rq.token)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.follow(w, r, rq, out)
}

// follow sends the end user where an outcome says: a 303 to the provider's
// or merchant's page, a link when the policy would block the redirect, or
// the status page when there is nowhere to go yet.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request, rq *request, out *payment.Outcome) {
	if out == nil {
		h.fail(w, r, rq, paywire.Errorf(paywire.EINTERNAL, "no outcome"))
		return
	}
	if out.RedirectURL == "" {
		if out.State == paywire.StateCreated {
			h.choose(w, r, rq)
			return
		}
		h.render(w, r, http.StatusOK, h.statusPage(rq, out.State))
		return
	}
	target, allowed := h.redirectTarget(r, rq, out.RedirectURL)
	// The merchant's pages are the return origins every page admits, also
	// when an expired link left this request without them.
	allowed = allowed || (out.ToMerchant && target != "")
	switch {
	case target == "":
		h.fail(w, r, rq, paywire.Errorf(paywire.EINTERNAL, "refusing to redirect to a URL that is not http(s)"))
	case allowed:
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy(rq.origins))
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusSeeOther)
	default:
		p := h.newPage(rq, "continue", "page.continue.title")
		host := target
		if u, err := url.Parse(target); err == nil {
			host = u.Host
		}
		p.Text = rq.loc.text("page.continue.text", "host", host)
		p.ContinueURL = target
		p.ContinueLink = rq.loc.text("page.continue.link", "host", host)
		h.render(w, r, http.StatusOK, p)
	}
}

// redirectTarget checks a URL the use cases send the end user to. It
// returns "" for anything but an absolute http(s) URL or a path on this
// host, and whether the pages' form-action admits it.
func (h *Handler) redirectTarget(r *http.Request, rq *request, s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil {
		return "", false
	}
	if u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") &&
		!strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\") {
		return s, true
	}
	o := origin(s)
	if o == "" {
		return "", false
	}
	self := h.selfOrigin(r)
	upgraded := strings.HasPrefix(self, "http://") && o == "https://"+strings.TrimPrefix(self, "http://")
	for _, allowed := range rq.origins {
		if o == allowed {
			return u.String(), true
		}
	}
	return u.String(), o == self || upgraded
}

// clientIP is the end user's address for risk. Behind a proxy, the router
// must put the client's address into RemoteAddr (chi's RealIP).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// validForm reports whether every name and value of a form is text we may
// store and show (paywire.ValidText).
func validForm(form url.Values) bool {
	for k, vs := range form {
		if !paywire.ValidText(k) {
			return false
		}
		for _, v := range vs {
			if !paywire.ValidText(v) {
				return false
			}
		}
	}
	return true
}
