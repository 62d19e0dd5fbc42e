package admin

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

const (
	// idleTimeout ends a session nobody used for this long.
	idleTimeout = 15 * time.Minute
	// sessionLifetime ends a session whatever its activity.
	sessionLifetime = 12 * time.Hour
	// touchEvery bounds the writes activity costs: last_seen_at is moved
	// at most this often.
	touchEvery = time.Minute
	// maxForm bounds every request body of the back office.
	maxForm = 64 << 10
)

// App is the back office. Set the stores and Gate, then Mount it.
type App struct {
	Users    paywire.AdminStore
	Sessions paywire.AdminSessionStore
	Audit    paywire.AuditLog
	// Gate bounds the argon2id verifications running at once; the node
	// shares it with the merchant API.
	Gate *credential.Gate
	// FailuresPerAddress and FailuresPerUser are the failed sign-ins
	// allowed per minute from one address and for one username (0: 20
	// and 100, the merchant API's defaults).
	FailuresPerAddress, FailuresPerUser int
	Logger                              *slog.Logger
	Now                                 func() time.Time

	// The areas' own dependencies (payments.go, actions.go, merchants.go,
	// reports.go, auditlog.go); an area whose dependencies are not set is
	// not mounted.
	PaymentPages
	ActionPages
	MerchantPages
	ReportPages
	AuditPages
	PolicyPages
	ExperimentPages
	ProviderPages

	byAddress, byUser *credential.Failures
	dummyHash         string
	nav               []section
}

// section adds an entry to the navigation.
func (a *App) section(path, label string, roles ...paywire.Role) {
	a.nav = append(a.nav, section{Path: path, Label: label, Roles: roles})
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Mount adds the back office under /admin to r.
func (a *App) Mount(r chi.Router) {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	perAddr, perUser := a.FailuresPerAddress, a.FailuresPerUser
	if perAddr <= 0 {
		perAddr = 20
	}
	if perUser <= 0 {
		perUser = 100
	}
	a.byAddress, a.byUser = credential.NewFailures(perAddr, time.Minute), credential.NewFailures(perUser, time.Minute)
	a.byAddress.Now, a.byUser.Now = a.Now, a.Now
	// An unknown username costs the same verification as a known one.
	a.dummyHash, _ = credential.Hash(credential.NewSecret(), credential.Default)

	assets, _ := fs.Sub(assetFS, "assets")
	r.Route("/admin", func(r chi.Router) {
		r.Use(a.secure)
		r.Handle("/assets/*", http.StripPrefix("/admin/assets/", http.FileServer(http.FS(assets))))
		r.Get("/login", a.loginPage)
		r.Post("/login", a.login)
		r.Group(func(r chi.Router) {
			r.Use(a.session(true))
			r.Get("/login/code", a.codePage)
			r.Post("/login/code", a.checked(a.code))
		})
		r.Group(func(r chi.Router) {
			r.Use(a.session(false))
			r.Post("/logout", a.checked(a.logout))
			a.section("/admin/", "Overview", anyRole...)
			r.Get("/", a.allow(a.home, anyRole...))
			r.Get("/account", a.allow(a.account, anyRole...))
			r.Post("/account/second-factor", a.allow(a.checked(a.secondFactor), anyRole...))
			a.mountPayments(r)
			a.mountActions(r)
			a.mountMerchants(r)
			a.mountReports(r)
			a.mountAudit(r)
			a.mountPolicies(r)
			a.mountExperiments(r)
			a.mountProviders(r)
			a.section("/admin/users", "Users", paywire.RoleAdmin)
			r.Get("/users", a.allow(a.users, paywire.RoleAdmin))
			r.Post("/users", a.allow(a.checked(a.createUser), paywire.RoleAdmin))
			r.Post("/users/{name}", a.allow(a.checked(a.updateUser), paywire.RoleAdmin))
		})
		r.NotFound(a.notFound)
	})
}

// anyRole admits every signed-in user.
var anyRole = paywire.Roles

type ctxKey int

const sessionKey ctxKey = 0

// current is a request's session and user.
type current struct {
	session *paywire.AdminSession
	user    *paywire.AdminUser
	token   string // the cookie's token, for the session's own pages
}

func currentOf(ctx context.Context) *current {
	c, _ := ctx.Value(sessionKey).(*current)
	return c
}
