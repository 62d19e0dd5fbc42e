package engine

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// Bundles are signed as OPA signs them: .signatures.json holds a JWT whose
// claims list every file of the bundle with its SHA-256, signed with an
// RSA or ECDSA private key (RS256, ES256, ...) or an HMAC secret (HS256).
// One signature covers the Rego policies and the expr rules alike, since
// the rules travel as data files.

// Verification is the key a bundle's signature must verify with.
type Verification struct {
	KeyID     string // the kid the signature names
	Key       string // a PEM public key, or the HMAC secret
	Algorithm string // RS256, RS384, RS512, PS256, ES256, ES384, ES512, HS256, ...
}

func (v *Verification) config() *bundle.VerificationConfig {
	return bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{
		v.KeyID: {Key: v.Key, Algorithm: v.Algorithm},
	}, v.KeyID, "", nil)
}

// Sign returns files with a .signatures.json signing all of them (a
// signature there already is replaced) with the private key (PEM) or HMAC
// secret, under the algorithm and key id. Each file is hashed as OPA's
// verifier hashes it: structured documents (.manifest, data files) by
// their parsed content, everything else by its bytes.
func Sign(files Files, key, algorithm, keyID string) (Files, error) {
	if key == "" || algorithm == "" || keyID == "" {
		return nil, errors.New("signing needs a key, an algorithm and a key id")
	}
	hasher, err := bundle.NewSignatureHasher(bundle.SHA256)
	if err != nil {
		return nil, err
	}
	signed := Files{}
	var list []bundle.FileInfo
	for _, p := range files.paths() {
		if p == ".signatures.json" {
			continue
		}
		signed[p] = files[p]
		var value any = files[p]
		if bundle.IsStructuredDoc(p) {
			if err := util.Unmarshal(files[p], &value); err != nil {
				return nil, fmt.Errorf("%s: %v", p, err)
			}
		}
		sum, err := hasher.HashFile(value)
		if err != nil {
			return nil, err
		}
		list = append(list, bundle.NewFile(p, hex.EncodeToString(sum), string(bundle.SHA256)))
	}
	token, err := bundle.GenerateSignedToken(list, bundle.NewSigningConfig(key, algorithm, ""), keyID)
	if err != nil {
		return nil, err
	}
	sig, err := json.Marshal(bundle.SignaturesConfig{Signatures: []string{token}})
	if err != nil {
		return nil, err
	}
	signed[".signatures.json"] = sig
	return signed, nil
}

// isSignatureError tells verification failures from other read errors.
func isSignatureError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"signature", "digest", "verification", "jwt", "token", "not included", "key"} {
		if strings.Contains(strings.ToLower(msg), s) {
			return true
		}
	}
	return false
}
