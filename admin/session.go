package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

const (
	sessionCookie = "__Host-paywire_admin"
	loginCookie   = "__Host-paywire_login" // the sign-in form's CSRF token
	csp           = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// secure sets the headers every back-office response carries and bounds
// the request body.
func (a *App) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		limit := int64(maxForm)
		if r.URL.Path == pushPath {
			limit = maxBundleUpload
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// newToken is 32 random bytes, base64url.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// setCookie sets a __Host- cookie: Secure (browsers accept that on
// http://localhost and 127.0.0.1 too), host-only, for the whole site,
// SameSite=Strict.
func (a *App) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// session loads the request's session. Without one (or an ended one) a
// page goes to the sign-in form. A session waiting for its second factor
// opens only the code's page (pending), and the others only with it given.
func (a *App) session(pending bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := a.load(r)
			switch {
			case err != nil && paywire.ErrorCode(err) != paywire.ENOTFOUND:
				a.problem(w, r, err)
				return
			case c == nil:
				a.toLogin(w, r)
				return
			case c.session.SecondFactorPending != pending:
				if pending {
					http.Redirect(w, r, "/admin/", http.StatusSeeOther)
				} else {
					http.Redirect(w, r, "/admin/login/code", http.StatusSeeOther)
				}
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, c)))
		})
	}
}

// load returns the request's live session, nil when there is none. An
// ended session is deleted; activity is recorded at most once a minute.
func (a *App) load(r *http.Request) (*current, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return nil, nil
	}
	hash := tokenHash(ck.Value)
	s, u, err := a.Sessions.AdminSession(r.Context(), hash)
	if err != nil {
		return nil, err
	}
	now := a.Now()
	if u.Disabled || now.After(s.ExpiresAt) || now.Sub(s.LastSeenAt) > idleTimeout {
		return nil, a.Sessions.DeleteAdminSession(r.Context(), hash)
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := a.Sessions.TouchAdminSession(r.Context(), hash, now, false); err != nil {
			return nil, err
		}
		s.LastSeenAt = now
	}
	return &current{session: s, user: u, token: ck.Value}, nil
}

func (a *App) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		a.render(w, r, http.StatusUnauthorized, "problem", page{Title: "Signed out",
			Problem: "Your session has ended. Sign in again; what you sent was not carried out."})
		return
	}
	next := r.URL.RequestURI()
	http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// allow admits users holding one of roles, and answers 403 otherwise.
func (a *App) allow(h http.HandlerFunc, roles ...paywire.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := currentOf(r.Context()); c == nil || !c.user.Has(roles...) {
			a.render(w, r, http.StatusForbidden, "problem", page{Title: "Not allowed",
				Problem: "Your roles do not allow this page or action. Ask an administrator if you need it."})
			return
		}
		h(w, r)
	}
}

// checked admits a form post that carries the session's CSRF token and
// comes from this site.
func (a *App) checked(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := currentOf(r.Context())
		if err := r.ParseForm(); err != nil {
			a.render(w, r, http.StatusBadRequest, "problem", page{Title: "Bad request", Problem: "The form could not be read."})
			return
		}
		if c == nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(c.session.CSRF)) != 1 {
			a.Logger.WarnContext(r.Context(), "admin form refused: CSRF", "path", r.URL.Path)
			a.render(w, r, http.StatusForbidden, "problem", page{Title: "Form refused",
				Problem: "The form did not come from this site's page (its security token is missing or wrong). Reload the page and try again."})
			return
		}
		h(w, r)
	}
}

// sameOrigin reports whether a post comes from this site: the browser's
// Sec-Fetch-Site, else Origin, else Referer names this host; a request
// with none of them (not a browser) passes on its CSRF token alone.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	for _, h := range []string{"Origin", "Referer"} {
		if v := r.Header.Get(h); v != "" {
			u, err := url.Parse(v)
			return err == nil && u.Host == r.Host
		}
	}
	return true
}

// clientAddress is the connection's address (a proxy's address when
// behind one).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, _ := a.load(r); c != nil && !c.session.SecondFactorPending {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	token := newToken()
	a.setCookie(w, loginCookie, token, 3600)
	a.render(w, r, http.StatusOK, "login", page{Title: "Sign in", CSRF: token, Next: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a return path inside the back office.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) || !paywire.ValidText(next) {
		return "/admin/"
	}
	return next
}

var errSignIn = errors.New("wrong username or password")

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.render(w, r, http.StatusBadRequest, "problem", page{Title: "Bad request", Problem: "The form could not be read."})
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ck.Value)) != 1 {
		a.render(w, r, http.StatusForbidden, "problem", page{Title: "Form refused",
			Problem: "The sign-in form did not come from this site's page. Open the sign-in page again."})
		return
	}
	username, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	again := func(status int, msg string) {
		token := newToken()
		a.setCookie(w, loginCookie, token, 3600)
		a.render(w, r, status, "login", page{Title: "Sign in", CSRF: token, Next: next, Username: username, Problem: msg})
	}
	addr := clientAddress(r)
	if wait := max(a.byAddress.Blocked(addr), a.byUser.Blocked(username)); wait > 0 {
		w.Header().Set("Retry-After", seconds(wait))
		again(http.StatusTooManyRequests, "Too many failed sign-ins. Wait "+seconds(wait)+" seconds and try again.")
		return
	}
	u, err := a.verify(r.Context(), username, password)
	if errors.Is(err, credential.ErrBusy) {
		w.Header().Set("Retry-After", "2")
		again(http.StatusTooManyRequests, "The service is busy. Try again in a moment.")
		return
	}
	if err != nil {
		if errors.Is(err, errSignIn) {
			a.byAddress.Add(addr)
			a.byUser.Add(username)
			a.Logger.WarnContext(r.Context(), "admin sign-in failed", "username", username, "address", addr)
			again(http.StatusUnauthorized, "Wrong username or password.")
			return
		}
		a.problem(w, r, err)
		return
	}
	now := a.Now()
	token := newToken()
	s := &paywire.AdminSession{IDHash: tokenHash(token), UserID: u.ID, CSRF: newToken(), SecondFactorPending: u.TOTPSecret != "",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(sessionLifetime)}
	if err := a.Sessions.CreateAdminSession(r.Context(), s); err != nil {
		a.problem(w, r, err)
		return
	}
	a.setCookie(w, loginCookie, "", -1)
	a.setCookie(w, sessionCookie, token, 0)
	if n, err := a.Sessions.DeleteExpiredAdminSessions(r.Context(), now); err == nil && n > 0 {
		a.Logger.InfoContext(r.Context(), "ended admin sessions removed", "sessions", n)
	}
	a.Logger.InfoContext(r.Context(), "admin signed in", "username", u.Username, "address", addr, "second_factor", s.SecondFactorPending)
	if s.SecondFactorPending {
		http.Redirect(w, r, "/admin/login/code?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	_ = a.audit(r.Context(), u, "admin.sign_in", u.Username, map[string]any{"address": addr})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// verify checks a username and password; errSignIn when either is wrong
// or the user is disabled. An unknown user costs one verification too.
func (a *App) verify(ctx context.Context, username, password string) (*paywire.AdminUser, error) {
	if !paywire.ValidUsername(username) || password == "" || len(password) > 1024 {
		_, _ = a.Gate.Verify(ctx, a.dummyHash, "x")
		return nil, errSignIn
	}
	u, err := a.Users.AdminUserByName(ctx, username)
	hash := a.dummyHash
	switch {
	case err == nil:
		hash = u.PasswordHash
	case paywire.ErrorCode(err) != paywire.ENOTFOUND:
		return nil, err
	}
	ok, err := a.Gate.Verify(ctx, hash, password)
	if err != nil {
		return nil, err
	}
	if !ok || u == nil || u.Disabled {
		return nil, errSignIn
	}
	return u, nil
}

func (a *App) codePage(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	a.render(w, r, http.StatusOK, "code", page{Title: "Second factor", CSRF: c.session.CSRF, Next: safeNext(r.URL.Query().Get("next"))})
}

func (a *App) code(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	addr := clientAddress(r)
	next := safeNext(r.PostForm.Get("next"))
	if wait := a.byUser.Blocked(c.user.Username); wait > 0 {
		w.Header().Set("Retry-After", seconds(wait))
		a.render(w, r, http.StatusTooManyRequests, "code", page{Title: "Second factor", CSRF: c.session.CSRF, Next: next,
			Problem: "Too many wrong codes. Wait " + seconds(wait) + " seconds and try again."})
		return
	}
	if !checkTOTP(c.user.TOTPSecret, strings.TrimSpace(r.PostForm.Get("code")), a.Now()) {
		a.byUser.Add(c.user.Username)
		a.byAddress.Add(addr)
		a.render(w, r, http.StatusUnauthorized, "code", page{Title: "Second factor", CSRF: c.session.CSRF, Next: next,
			Problem: "That code is not right. Enter the 6 digits your authenticator app shows now."})
		return
	}
	// A new token once both factors are given: the one the password made
	// ends.
	token := newToken()
	now := a.Now()
	s := &paywire.AdminSession{IDHash: tokenHash(token), UserID: c.user.ID, CSRF: newToken(), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(sessionLifetime)}
	if err := a.Sessions.CreateAdminSession(r.Context(), s); err != nil {
		a.problem(w, r, err)
		return
	}
	_ = a.Sessions.DeleteAdminSession(r.Context(), c.session.IDHash)
	a.setCookie(w, sessionCookie, token, 0)
	_ = a.audit(r.Context(), c.user, "admin.sign_in", c.user.Username, map[string]any{"address": addr, "second_factor": true})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	if err := a.Sessions.DeleteAdminSession(r.Context(), c.session.IDHash); err != nil {
		a.problem(w, r, err)
		return
	}
	a.setCookie(w, sessionCookie, "", -1)
	_ = a.audit(r.Context(), c.user, "admin.sign_out", c.user.Username, nil)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

func seconds(d time.Duration) string { return strconv.Itoa(int(math.Ceil(d.Seconds()))) }
