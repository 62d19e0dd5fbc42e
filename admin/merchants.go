package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

// MerchantPages are the dependencies of merchants: settings, credentials, lists; the area is mounted when they are set.
type MerchantPages struct {
	// Merchants reads and changes merchants' settings (the store). With
	// Credentials set, the merchant pages are mounted.
	Merchants MerchantSettings
	// Credentials creates merchants and issues, rotates and revokes their
	// API secrets, auditing each change.
	Credentials *credential.Manager
	// RiskProfiles returns the names of the active bundle's risk profiles
	// and the default's ((*engine.Bundle).RiskProfiles of the active
	// bundle); nil or none: merchants can keep only the default.
	RiskProfiles func() (names []string, fallback string)
	// Lists keeps the risk lists; when set, the lists pages are mounted.
	Lists paywire.ListStore
}

// MerchantSettings reads merchants and changes their settings.
type MerchantSettings interface {
	// Merchants returns every merchant, by id.
	Merchants(ctx context.Context) ([]*paywire.Merchant, error)
	// Merchant returns the merchant with the given id, or ENOTFOUND.
	Merchant(ctx context.Context, id string) (*paywire.Merchant, error)
	// UpdateMerchant stores m's settings if the merchant has not changed
	// since m.UpdatedAt, with audit in the same transaction. Returns
	// ECONFLICT for a change made meanwhile, EINVALID, ENOTFOUND.
	UpdateMerchant(ctx context.Context, m *paywire.Merchant, audit *paywire.AuditEntry) error
	// RotateSigningSecret gives the merchant a new signing secret, keeps
	// the current one as the previous one, and writes audit with it.
	// Returns the merchant after the change, or ENOTFOUND.
	RotateSigningSecret(ctx context.Context, id string, audit *paywire.AuditEntry) (*paywire.Merchant, error)
}

// Who sees merchants, and who changes them.
var (
	merchantViewers = []paywire.Role{paywire.RoleAdmin, paywire.RoleCompliance, paywire.RoleSupport, paywire.RoleViewer}
	merchantEditors = []paywire.Role{paywire.RoleAdmin}
)

// mountMerchants adds the area's routes and navigation entries.
func (a *App) mountMerchants(r chi.Router) {
	if a.Merchants != nil && a.Credentials != nil {
		a.section("/admin/merchants", "Merchants", merchantViewers...)
		r.Get("/merchants", a.allow(a.merchantList, merchantViewers...))
		r.Get("/merchants/new", a.allow(a.newMerchantPage, merchantEditors...))
		r.Post("/merchants", a.allow(a.checked(a.createMerchant), merchantEditors...))
		r.Get("/merchants/{id}", a.allow(a.merchantPage, merchantViewers...))
		r.Post("/merchants/{id}", a.allow(a.checked(a.saveMerchant), merchantEditors...))
		r.Post("/merchants/{id}/credentials", a.allow(a.checked(a.issueCredential), merchantEditors...))
		r.Post("/merchants/{id}/credentials/{cred}/rotate", a.allow(a.checked(a.rotateCredential), merchantEditors...))
		r.Post("/merchants/{id}/credentials/{cred}/revoke", a.allow(a.checked(a.revokeCredential), merchantEditors...))
		r.Post("/merchants/{id}/signing-secret/rotate", a.allow(a.checked(a.rotateSigningSecret), merchantEditors...))
	}
	if a.Lists != nil {
		a.mountLists(r)
	}
}

// merchantForm is the settings form as typed, so that a refused form comes
// back as the user left it.
type merchantForm struct {
	ID, Name           string
	Disabled           bool
	NotificationURL    string
	NotificationFormat string
	// ReturnURLPrefixes holds one prefix a line.
	ReturnURLPrefixes   string
	AllowLocalhostHTTP  bool
	AutoCapture         bool
	AutoCaptureMaxScore string
	// AuthorizationHours is the authorization expiry in hours.
	AuthorizationHours string
	// CaptureDelayMinutes delays an auto-capture; ReviewHours is the
	// review expiry (empty or 0: as long as the authorization lasts).
	CaptureDelayMinutes, ReviewHours string
	// WithdrawalApprovals is "0", "1" or "2".
	WithdrawalApprovals string
	RiskProfile         string
	// Methods are the payment methods, each on or off.
	Methods []methodChoice
	// Version is the merchant's updated_at as read, for the
	// compare-and-set of the save.
	Version string
}

// methodChoice is a payment method and whether the merchant offers it.
type methodChoice struct {
	Name string
	On   bool
}

// methodChoices are every method, on unless off says it is not.
func methodChoices(on func(paywire.Method) bool) []methodChoice {
	out := make([]methodChoice, len(paywire.Methods))
	for i, x := range paywire.Methods {
		out[i] = methodChoice{Name: string(x), On: on(x)}
	}
	return out
}

func merchantFormOf(m *paywire.Merchant) merchantForm {
	return merchantForm{
		ID: m.ID, Name: m.Name, Disabled: m.Disabled, NotificationURL: m.NotificationURL,
		NotificationFormat: m.NotificationFormat, ReturnURLPrefixes: strings.Join(m.ReturnURLPrefixes, "\n"),
		AllowLocalhostHTTP: m.AllowLocalhostHTTP, AutoCapture: m.AutoCapture,
		AutoCaptureMaxScore: strconv.Itoa(m.AutoCaptureMaxScore),
		AuthorizationHours:  strconv.FormatInt(int64(m.AuthorizationExpiry()/time.Hour), 10),
		CaptureDelayMinutes: strconv.FormatInt(int64(m.CaptureDelay/time.Minute), 10),
		ReviewHours:         strconv.FormatInt(int64(m.ReviewTTL/time.Hour), 10),
		WithdrawalApprovals: strconv.Itoa(m.WithdrawalApprovals),
		RiskProfile:         m.RiskProfile, Version: m.UpdatedAt.UTC().Format(time.RFC3339Nano),
		Methods: methodChoices(m.Offers),
	}
}

func readMerchantForm(r *http.Request) merchantForm {
	f := r.PostForm
	return merchantForm{
		ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")), Disabled: f.Get("disabled") == "on",
		NotificationURL: strings.TrimSpace(f.Get("notification_url")), NotificationFormat: f.Get("notification_format"),
		ReturnURLPrefixes: f.Get("return_url_prefixes"), AllowLocalhostHTTP: f.Get("allow_localhost_http") == "on",
		AutoCapture: f.Get("auto_capture") == "on", AutoCaptureMaxScore: strings.TrimSpace(f.Get("auto_capture_max_score")),
		AuthorizationHours: strings.TrimSpace(f.Get("authorization_ttl_hours")), RiskProfile: f.Get("risk_profile"),
		CaptureDelayMinutes: strings.TrimSpace(f.Get("capture_delay_minutes")), ReviewHours: strings.TrimSpace(f.Get("review_ttl_hours")),
		WithdrawalApprovals: f.Get("withdrawal_approvals"), Version: f.Get("version"),
		Methods: methodChoices(func(x paywire.Method) bool { return f.Get("method_"+string(x)) == "on" }),
	}
}

// maxMerchantName bounds a merchant's name, as the form does.
const maxMerchantName = 200

// maxAuthorizationHours is paywire.Merchant.Validate's limit, 31 days.
const maxAuthorizationHours = 31 * 24

// apply sets m's settings from the form. current is the merchant's risk
// profile as stored, which stays selectable even if the active bundle no
// longer has it. Returns EINVALID saying which field is wrong.
func (f merchantForm) apply(m *paywire.Merchant, profiles []string, current string) error {
	m.Name, m.Disabled, m.NotificationURL, m.NotificationFormat = f.Name, f.Disabled, f.NotificationURL, f.NotificationFormat
	m.AllowLocalhostHTTP, m.AutoCapture = f.AllowLocalhostHTTP, f.AutoCapture
	m.ReturnURLPrefixes = nil
	for _, line := range strings.Split(f.ReturnURLPrefixes, "\n") {
		if p := strings.TrimSpace(line); p != "" {
			m.ReturnURLPrefixes = append(m.ReturnURLPrefixes, p)
		}
	}
	if len(m.Name) > maxMerchantName {
		return paywire.Errorf(paywire.EINVALID, "The name is at most %d bytes.", maxMerchantName)
	}
	score, err := strconv.Atoi(orZero(f.AutoCaptureMaxScore))
	if err != nil || score < 0 || score > 100 {
		return paywire.Errorf(paywire.EINVALID, "The auto-capture risk score limit must be a whole number from 0 to 100.")
	}
	m.AutoCaptureMaxScore = score
	hours, err := strconv.Atoi(orZero(f.AuthorizationHours))
	if err != nil || hours < 0 || hours > maxAuthorizationHours {
		return paywire.Errorf(paywire.EINVALID, "The authorization expiry must be a whole number of hours from 1 to %d (0 or empty: 7 days).", maxAuthorizationHours)
	}
	m.AuthorizationTTL = time.Duration(hours) * time.Hour
	delay, err := strconv.Atoi(orZero(f.CaptureDelayMinutes))
	if err != nil || delay < 0 || time.Duration(delay)*time.Minute >= m.AuthorizationExpiry() {
		return paywire.Errorf(paywire.EINVALID, "The capture delay must be a whole number of minutes, shorter than the authorization expiry.")
	}
	m.CaptureDelay = time.Duration(delay) * time.Minute
	review, err := strconv.Atoi(orZero(f.ReviewHours))
	if err != nil || review < 0 || review > maxAuthorizationHours {
		return paywire.Errorf(paywire.EINVALID, "The review expiry must be a whole number of hours from 0 to %d (0 or empty: as long as the authorization).", maxAuthorizationHours)
	}
	m.ReviewTTL = time.Duration(review) * time.Hour
	approvals, err := strconv.Atoi(orZero(f.WithdrawalApprovals))
	if err != nil || approvals < 0 || approvals > paywire.MaxWithdrawalApprovals {
		return paywire.Errorf(paywire.EINVALID, "Withdrawal approvals must be none, one person or two people.")
	}
	m.WithdrawalApprovals = approvals
	if f.RiskProfile != "" && f.RiskProfile != current && !slices.Contains(profiles, f.RiskProfile) {
		return paywire.Errorf(paywire.EINVALID, "The active policy bundle has no risk profile %q.", f.RiskProfile)
	}
	m.RiskProfile = f.RiskProfile
	m.DisabledMethods = nil
	for _, c := range f.Methods {
		if !c.On {
			m.DisabledMethods = append(m.DisabledMethods, paywire.Method(c.Name))
		}
	}
	if err := credential.CheckMerchantURLs(m); err != nil {
		return err
	}
	return m.Validate()
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// merchantView is the merchant page, and the new-merchant form.
type merchantView struct {
	Form        merchantForm
	Merchant    *paywire.Merchant // nil on the new-merchant form
	Credentials []paywire.MerchantCredential
	// Profiles are the risk profiles to choose from; Default names the
	// bundle's default profile.
	Profiles []string
	Default  string
	CanEdit  bool
	// ListsLink: the user may see the risk lists.
	ListsLink bool
	Now       time.Time
	// Shown once, just after they were made.
	APISecret, APISecretID string
	SigningSecret          string
}

func (a *App) profiles(current string) ([]string, string) {
	var names []string
	var fallback string
	if a.RiskProfiles != nil {
		names, fallback = a.RiskProfiles()
	}
	if current != "" && !slices.Contains(names, current) {
		names = append(slices.Clone(names), current)
	}
	return names, fallback
}

type merchantListView struct {
	Merchants []*paywire.Merchant
	CanEdit   bool
}

func (a *App) merchantList(w http.ResponseWriter, r *http.Request) {
	ms, err := a.Merchants.Merchants(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "merchants", page{Title: "Merchants",
		Data: merchantListView{Merchants: ms, CanEdit: currentOf(r.Context()).user.Has(merchantEditors...)}})
}

func (a *App) newMerchantPage(w http.ResponseWriter, r *http.Request) {
	f := merchantForm{NotificationFormat: "soap", AuthorizationHours: strconv.Itoa(int(paywire.DefaultAuthorizationTTL / time.Hour)), AutoCaptureMaxScore: "0",
		Methods: methodChoices(func(paywire.Method) bool { return true })}
	a.renderNewMerchant(w, r, http.StatusOK, f, "")
}

func (a *App) renderNewMerchant(w http.ResponseWriter, r *http.Request, status int, f merchantForm, problem string) {
	v := merchantView{Form: f, CanEdit: true}
	v.Profiles, v.Default = a.profiles("")
	a.render(w, r, status, "merchant_new", page{Title: "New merchant", Data: v, Problem: problem})
}

func (a *App) createMerchant(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	f := readMerchantForm(r)
	m := &paywire.Merchant{ID: f.ID}
	names, _ := a.profiles("")
	err := f.apply(m, names, "")
	if err == nil && m.ID == "new" {
		err = paywire.Errorf(paywire.EINVALID, "The merchant id \"new\" is reserved: choose another.")
	}
	var issued credential.Issued
	if err == nil {
		issued, err = a.Credentials.CreateMerchant(r.Context(), "admin:"+c.user.Username, m)
	}
	if err != nil {
		if code := paywire.ErrorCode(err); code == paywire.EINVALID || code == paywire.ECONFLICT {
			status := http.StatusBadRequest
			if code == paywire.ECONFLICT {
				status = http.StatusConflict
			}
			a.renderNewMerchant(w, r, status, f, readable(err))
			return
		}
		a.problem(w, r, err)
		return
	}
	a.renderMerchant(w, r, http.StatusCreated, m.ID, merchantView{APISecret: issued.Secret, APISecretID: issued.Credential.ID, SigningSecret: m.SigningSecret},
		"", "Merchant "+m.ID+" created. Give its API secret and signing secret to the merchant now: they are shown only this once.")
}

func (a *App) merchantPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	if r.URL.Query().Get("done") == "saved" {
		notice = "Settings saved."
	}
	a.renderMerchant(w, r, http.StatusOK, chi.URLParam(r, "id"), merchantView{}, "", notice)
}

// renderMerchant renders the merchant page of id with v's one-time
// secrets; v.Form, when it has a version, is a refused form to show again
// instead of the stored settings.
func (a *App) renderMerchant(w http.ResponseWriter, r *http.Request, status int, id string, v merchantView, problem, notice string) {
	m, err := a.Merchants.Merchant(r.Context(), id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	creds, err := a.Credentials.List(r.Context(), id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	if v.Form.Version == "" {
		v.Form = merchantFormOf(m)
	}
	v.Merchant, v.Credentials, v.Now = m, creds, a.Now()
	v.Profiles, v.Default = a.profiles(m.RiskProfile)
	u := currentOf(r.Context()).user
	v.CanEdit, v.ListsLink = u.Has(merchantEditors...), a.Lists != nil && u.Has(listViewers...)
	a.render(w, r, status, "merchant", page{Title: "Merchant " + m.ID, Data: v, Problem: problem, Notice: notice})
}

// merchantSettings are the settings an edit audits, before and after.
func merchantSettings(m *paywire.Merchant) map[string]any {
	prefixes := m.ReturnURLPrefixes
	if prefixes == nil {
		prefixes = []string{}
	}
	return map[string]any{
		"name": m.Name, "disabled": m.Disabled, "notification_url": m.NotificationURL,
		"notification_format": m.NotificationFormat, "return_url_prefixes": prefixes,
		"allow_localhost_http": m.AllowLocalhostHTTP, "auto_capture": m.AutoCapture,
		"auto_capture_max_score": m.AutoCaptureMaxScore, "authorization_ttl_seconds": int64(m.AuthorizationExpiry() / time.Second),
		"capture_delay_seconds": int64(m.CaptureDelay / time.Second), "review_ttl_seconds": int64(m.ReviewTTL / time.Second),
		"risk_profile": m.RiskProfile, "disabled_methods": fmt.Sprint(m.DisabledMethods),
		"withdrawal_approvals": m.WithdrawalApprovals,
	}
}

func (a *App) saveMerchant(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	id := chi.URLParam(r, "id")
	m, err := a.Merchants.Merchant(r.Context(), id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	f := readMerchantForm(r)
	f.ID = m.ID
	version, err := time.Parse(time.RFC3339Nano, f.Version)
	if err != nil {
		a.renderMerchant(w, r, http.StatusBadRequest, id, merchantView{}, "The form lacks the version of the settings it was made from. Reload the page and make the change again.", "")
		return
	}
	next := *m
	next.UpdatedAt = version
	names, _ := a.profiles("")
	if err := f.apply(&next, names, m.RiskProfile); err != nil {
		if paywire.ErrorCode(err) == paywire.EINVALID {
			a.renderMerchant(w, r, http.StatusBadRequest, id, merchantView{Form: f}, readable(err), "")
			return
		}
		a.problem(w, r, err)
		return
	}
	before, after := map[string]any{}, map[string]any{}
	old, changed := merchantSettings(m), merchantSettings(&next)
	for k, v := range changed {
		if !reflect.DeepEqual(old[k], v) {
			before[k], after[k] = old[k], v
		}
	}
	if len(after) == 0 && version.Equal(m.UpdatedAt) {
		http.Redirect(w, r, "/admin/merchants/"+m.ID+"?done=saved", http.StatusSeeOther)
		return
	}
	d, _ := json.Marshal(map[string]any{"before": before, "after": after})
	audit := &paywire.AuditEntry{Actor: "admin:" + c.user.Username, Action: "merchant.update", Target: m.ID, Details: d}
	if err := a.Merchants.UpdateMerchant(r.Context(), &next, audit); err != nil {
		switch paywire.ErrorCode(err) {
		case paywire.ECONFLICT:
			a.renderMerchant(w, r, http.StatusConflict, id, merchantView{},
				"Someone changed this merchant while you were editing it, so your changes were not saved. The page now shows the current settings: make your change again.", "")
		case paywire.EINVALID:
			a.renderMerchant(w, r, http.StatusBadRequest, id, merchantView{Form: f}, readable(err), "")
		default:
			a.problem(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/admin/merchants/"+m.ID+"?done=saved", http.StatusSeeOther)
}

func (a *App) issueCredential(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	id := chi.URLParam(r, "id")
	issued, err := a.Credentials.Issue(r.Context(), "admin:"+c.user.Username, id, strings.TrimSpace(r.PostForm.Get("label")))
	if err != nil {
		a.credentialRefused(w, r, id, err)
		return
	}
	a.renderMerchant(w, r, http.StatusCreated, id, merchantView{APISecret: issued.Secret, APISecretID: issued.Credential.ID}, "",
		"API credential "+issued.Credential.ID+" issued. Give its secret to the merchant now: it is shown only this once.")
}

// maxOverlapHours is credential.MaxOverlap in hours.
const maxOverlapHours = int(credential.MaxOverlap / time.Hour)

func (a *App) rotateCredential(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	id, cred := chi.URLParam(r, "id"), chi.URLParam(r, "cred")
	hours, err := strconv.Atoi(orZero(strings.TrimSpace(r.PostForm.Get("overlap_hours"))))
	if err != nil || hours < 0 || hours > maxOverlapHours {
		a.credentialRefused(w, r, id, paywire.Errorf(paywire.EINVALID, "The overlap must be a whole number of hours from 0 to %d.", maxOverlapHours))
		return
	}
	issued, err := a.Credentials.Rotate(r.Context(), "admin:"+c.user.Username, id, cred, time.Duration(hours)*time.Hour)
	if err != nil {
		a.credentialRefused(w, r, id, err)
		return
	}
	until := "now"
	if hours > 0 {
		until = "in " + strconv.Itoa(hours) + " hours"
	}
	a.renderMerchant(w, r, http.StatusCreated, id, merchantView{APISecret: issued.Secret, APISecretID: issued.Credential.ID}, "",
		"Credential "+cred+" rotated: its successor is "+issued.Credential.ID+"; the old secret stops working "+until+". Give the new secret to the merchant now: it is shown only this once.")
}

func (a *App) revokeCredential(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	id := chi.URLParam(r, "id")
	if err := a.Credentials.Revoke(r.Context(), "admin:"+c.user.Username, id, chi.URLParam(r, "cred")); err != nil {
		a.credentialRefused(w, r, id, err)
		return
	}
	http.Redirect(w, r, "/admin/merchants/"+id, http.StatusSeeOther)
}

// credentialRefused shows the merchant page again with why a credential
// change was refused.
func (a *App) credentialRefused(w http.ResponseWriter, r *http.Request, id string, err error) {
	switch paywire.ErrorCode(err) {
	case paywire.EINVALID:
		a.renderMerchant(w, r, http.StatusBadRequest, id, merchantView{}, readable(err), "")
	case paywire.ENOTFOUND:
		if _, merr := a.Merchants.Merchant(r.Context(), id); merr != nil {
			a.problem(w, r, merr)
			return
		}
		a.renderMerchant(w, r, http.StatusNotFound, id, merchantView{}, "The merchant has no such valid credential (it may have been revoked meanwhile).", "")
	default:
		a.problem(w, r, err)
	}
}

func (a *App) rotateSigningSecret(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	id := chi.URLParam(r, "id")
	m, err := a.Merchants.Merchant(r.Context(), id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	// The audit entry names the secrets by a short fingerprint, never by
	// their value; the new one is made in the store's transaction.
	d, _ := json.Marshal(map[string]any{
		"before": map[string]any{"signing_secret": fingerprint(m.SigningSecret), "previous_signing_secret": fingerprint(m.PreviousSigningSecret)},
		"after":  map[string]any{"signing_secret": "new", "previous_signing_secret": fingerprint(m.SigningSecret)},
	})
	audit := &paywire.AuditEntry{Actor: "admin:" + c.user.Username, Action: "merchant.signing_secret_rotate", Target: m.ID, Details: d}
	next, err := a.Merchants.RotateSigningSecret(r.Context(), m.ID, audit)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	a.renderMerchant(w, r, http.StatusCreated, id, merchantView{SigningSecret: next.SigningSecret}, "",
		"Signing secret rotated. Notifications are signed with both the new and the previous secret until the next rotation. Give the new secret to the merchant now: it is shown only this once.")
}

// fingerprint names a secret in the audit log without revealing it.
func fingerprint(secret string) string {
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// readable is an error's message for a page, as a sentence.
func readable(err error) string {
	msg := paywire.ErrorMessage(err)
	if msg == "" {
		return "The request was not accepted."
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
