package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

type usersView struct {
	Users []*paywire.AdminUser
	Roles []paywire.Role
	// Created is the new user's name and one-time password.
	Created, Password string
}

func (a *App) users(w http.ResponseWriter, r *http.Request) {
	a.renderUsers(w, r, http.StatusOK, usersView{}, "")
}

func (a *App) renderUsers(w http.ResponseWriter, r *http.Request, status int, v usersView, problem string) {
	us, err := a.Users.AdminUsers(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v.Users, v.Roles = us, paywire.Roles
	a.render(w, r, status, "users", page{Title: "Users", Data: v, Problem: problem})
}

// formRoles are the roles ticked in a form.
func formRoles(r *http.Request) []string {
	var out []string
	for _, role := range paywire.Roles {
		if r.PostForm.Get("role_"+string(role)) == "on" {
			out = append(out, string(role))
		}
	}
	return out
}

func (a *App) createUser(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	name := strings.TrimSpace(r.PostForm.Get("username"))
	password := credential.NewSecret()[:20]
	hash, err := credential.Hash(password, credential.Default)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	u := &paywire.AdminUser{Username: name, PasswordHash: hash, Roles: formRoles(r)}
	if err := a.Users.CreateAdminUser(r.Context(), u); err != nil {
		if c := paywire.ErrorCode(err); c == paywire.EINVALID || c == paywire.ECONFLICT {
			a.renderUsers(w, r, http.StatusBadRequest, usersView{}, paywire.ErrorMessage(err))
			return
		}
		a.problem(w, r, err)
		return
	}
	_ = a.audit(r.Context(), c.user, "admin_user.create", u.Username, map[string]any{"after": map[string]any{"roles": u.Roles}})
	a.renderUsers(w, r, http.StatusCreated, usersView{Created: u.Username, Password: password}, "")
}

func (a *App) updateUser(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	u, err := a.Users.AdminUserByName(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		a.problem(w, r, err)
		return
	}
	before := map[string]any{"roles": u.Roles, "disabled": u.Disabled}
	next := *u
	next.Roles, next.Disabled = formRoles(r), r.PostForm.Get("disabled") == "on"
	if r.PostForm.Get("reset_second_factor") == "on" {
		next.TOTPSecret = ""
	}
	if u.ID == c.user.ID && (next.Disabled || !slices.Contains(next.Roles, string(paywire.RoleAdmin))) {
		a.renderUsers(w, r, http.StatusBadRequest, usersView{}, "You cannot disable yourself or take your own admin role: ask another administrator.")
		return
	}
	after := map[string]any{"roles": next.Roles, "disabled": next.Disabled, "second_factor_reset": u.TOTPSecret != "" && next.TOTPSecret == ""}
	d, _ := json.Marshal(map[string]any{"before": before, "after": after})
	audit := &paywire.AuditEntry{Actor: "admin:" + c.user.Username, Action: "admin_user.update", Target: u.Username, Details: d}
	if err := a.Users.UpdateAdminUser(r.Context(), &next, audit); err != nil {
		if paywire.ErrorCode(err) == paywire.EINVALID {
			a.renderUsers(w, r, http.StatusBadRequest, usersView{}, paywire.ErrorMessage(err))
			return
		}
		a.problem(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

type accountView struct {
	Roles string
	// Enrol: a new secret to confirm with a code.
	Secret, URI string
	Enabled     bool
}

func (a *App) account(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	v := accountView{Roles: strings.Join(c.user.Roles, ", "), Enabled: c.user.TOTPSecret != ""}
	if !v.Enabled {
		v.Secret = NewTOTPSecret()
		v.URI = totpURI("Paywire", c.user.Username, v.Secret)
	}
	a.render(w, r, http.StatusOK, "account", page{Title: "Your account", Data: v})
}

// secondFactor turns the user's TOTP on (with a code of the new secret, so
// that a mistyped secret cannot lock them out) or off.
func (a *App) secondFactor(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	next := *c.user
	action := "admin_user.second_factor_off"
	if r.PostForm.Get("enable") == "on" {
		secret := r.PostForm.Get("secret")
		if !checkTOTP(secret, strings.TrimSpace(r.PostForm.Get("code")), a.Now()) {
			v := accountView{Roles: strings.Join(c.user.Roles, ", "), Secret: secret, URI: totpURI("Paywire", c.user.Username, secret)}
			a.render(w, r, http.StatusBadRequest, "account", page{Title: "Your account", Data: v,
				Problem: "That code does not match the secret. Enter the 6 digits your app shows for it now."})
			return
		}
		next.TOTPSecret, action = secret, "admin_user.second_factor_on"
	} else {
		next.TOTPSecret = ""
	}
	audit := &paywire.AuditEntry{Actor: "admin:" + c.user.Username, Action: action, Target: c.user.Username, Details: json.RawMessage("{}")}
	if err := a.Users.UpdateAdminUser(r.Context(), &next, audit); err != nil {
		a.problem(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/account", http.StatusSeeOther)
}
