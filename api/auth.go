package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

// AuthLimits bound failed merchant authentications. Zero fields take the
// defaults.
type AuthLimits struct {
	// PerAddress is how many failed authentications one client address
	// may make per Window before it is answered 429 without any check
	// (default 20).
	PerAddress int
	// PerMerchant is how many failed authentications may name one
	// merchant id per Window, from any address (default 100). Beyond it,
	// a wrong secret for that id is answered 429 and argon2id credentials
	// are not tried; a right secret with a keyed hash still passes, so
	// that an attacker cannot lock a merchant out.
	PerMerchant int
	Window      time.Duration // default 1 minute
	// Passwords bounds the argon2id verifications (credentials issued
	// before keyed hashes) running at once; nil: 4, waiting up to 2 s.
	Passwords *credential.Gate
}

// authenticator checks merchant credentials. API secrets are verified with
// a keyed hash (microseconds); an argon2id credential, issued before keyed
// hashes, is verified through a gate that bounds how many run at once and
// is rehashed to a keyed hash on its first successful use.
type authenticator struct {
	merchants  paywire.MerchantStore
	keyed      *credential.Keyed
	dummy      string // verified for an unknown merchant, so that it costs what a known one does
	passwords  *credential.Gate
	byAddress  *credential.Failures
	byMerchant *credential.Failures
	logf       func(ctx context.Context, msg string, args ...any)

	keyedChecks atomic.Int64 // keyed verifications made, for tests of the work done
}

func newAuthenticator(m paywire.MerchantStore, key []byte, l AuthLimits, logf func(context.Context, string, ...any)) (*authenticator, error) {
	if key == nil {
		key = credential.DevelopmentKey
	}
	k, err := credential.NewKeyed(key)
	if err != nil {
		return nil, err
	}
	if l.PerAddress <= 0 {
		l.PerAddress = 20
	}
	if l.PerMerchant <= 0 {
		l.PerMerchant = 100
	}
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	if l.Passwords == nil {
		l.Passwords = credential.NewGate(4, 2*time.Second)
	}
	return &authenticator{
		merchants: m, keyed: k, dummy: k.Hash(credential.NewAPISecret()), passwords: l.Passwords,
		byAddress: credential.NewFailures(l.PerAddress, l.Window), byMerchant: credential.NewFailures(l.PerMerchant, l.Window), logf: logf,
	}, nil
}

// errBadCredentials is the one answer to every failed authentication, so
// that a caller learns nothing about which part was wrong.
var errBadCredentials = paywire.Errorf(paywire.EUNAUTHORIZED, "the merchant id or secret is wrong")

// limitError is a refusal by a limit, with when to retry.
type limitError struct {
	err        *paywire.Error
	retryAfter time.Duration
}

func (e *limitError) Error() string { return e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

func tooMany(retry time.Duration, format string, args ...any) error {
	return &limitError{err: paywire.Errorf(paywire.ETOOMANY, format, args...), retryAfter: retry}
}

// setRetryAfter sets the Retry-After header when err is a limit's refusal.
func setRetryAfter(w http.ResponseWriter, err error) {
	var le *limitError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(le.retryAfter.Seconds()))))
	}
}

// clientAddress is the address failures are counted by: the connection's
// peer (a proxy in front of Paywire must limit per client itself).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate returns the merchant whose id and secret these are.
func (a *authenticator) authenticate(r *http.Request, merchantID, secret string) (*paywire.Merchant, error) {
	ctx, addr := r.Context(), clientAddress(r)
	if wait := a.byAddress.Blocked(addr); wait > 0 {
		return nil, tooMany(wait, "too many failed authentications from this address; retry in %s", seconds(wait))
	}
	if merchantID == "" || secret == "" || len(merchantID) > 64 || len(secret) > 256 {
		a.byAddress.Add(addr)
		return nil, errBadCredentials
	}
	limited := a.byMerchant.Blocked(merchantID)
	m, err := a.merchants.Merchant(ctx, merchantID)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		m, err = nil, nil
	} else if err != nil {
		return nil, err
	}
	var creds []paywire.MerchantCredential
	if m != nil && !m.Disabled {
		if creds, err = a.merchants.MerchantCredentials(ctx, merchantID); err != nil {
			return nil, err
		}
	}
	ok, err := a.verify(ctx, creds, secret, limited > 0)
	if err != nil {
		return nil, err
	}
	if ok {
		return m, nil
	}
	a.byAddress.Add(addr)
	a.byMerchant.Add(merchantID)
	if limited > 0 {
		return nil, tooMany(limited, "too many failed authentications for this merchant id; retry in %s", seconds(limited))
	}
	return nil, errBadCredentials
}

// verify reports whether secret is one of creds. It makes at least one
// keyed verification whatever creds holds (none for an unknown merchant),
// so that an unknown merchant id costs what a known one does. Without
// slow, argon2id credentials are not tried.
func (a *authenticator) verify(ctx context.Context, creds []paywire.MerchantCredential, secret string, noSlow bool) (bool, error) {
	keyedDone, ok := false, false
	for _, c := range creds {
		if credential.IsKeyed(c.SecretHash) {
			keyedDone = true
			a.keyedChecks.Add(1)
			if a.keyed.Verify(c.SecretHash, secret) {
				ok = true
			}
		}
	}
	if !keyedDone {
		a.keyedChecks.Add(1)
		a.keyed.Verify(a.dummy, secret)
	}
	if ok {
		return true, nil
	}
	for _, c := range creds {
		if credential.IsKeyed(c.SecretHash) || noSlow {
			continue
		}
		match, err := a.passwords.Verify(ctx, c.SecretHash, secret)
		if errors.Is(err, credential.ErrBusy) {
			return false, tooMany(time.Second, "too many authentications in progress; retry in 1s")
		}
		if err != nil || !match {
			continue
		}
		// Migrate on first use: from now on this secret costs an HMAC.
		if err := a.merchants.ReplaceCredentialHash(ctx, c.ID, c.SecretHash, a.keyed.Hash(secret)); err != nil && paywire.ErrorCode(err) != paywire.ECONFLICT {
			a.logf(ctx, "migrating a credential to a keyed hash", "credential_id", c.ID, "error", err)
		}
		return true, nil
	}
	return false, nil
}

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(math.Ceil(d.Seconds()))) }
