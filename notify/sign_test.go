package notify_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/notify"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"eventId":"evt_1","sequenceNumber":2}`)
	at := time.Unix(1764130000, 0)
	secrets := []string{"whsec_new", "whsec_old"}
	h := notify.Sign(secrets, at, body)

	// The documented construction, by hand: hex HMAC-SHA256 of "t.body".
	m := hmac.New(sha256.New, []byte("whsec_new"))
	m.Write([]byte("1764130000." + string(body)))
	if want := "t=1764130000,v1=" + hex.EncodeToString(m.Sum(nil)) + ","; !strings.HasPrefix(h, want) {
		t.Errorf("Sign = %q, want it to start with %q", h, want)
	}
	if strings.Count(h, ",v1=") != 2 {
		t.Errorf("Sign = %q, want one v1 per secret", h)
	}
	if got := notify.Sign([]string{"", "s"}, at, body); strings.Count(got, "v1=") != 1 {
		t.Errorf("an empty secret signs: %q", got)
	}

	for _, tc := range []struct {
		name    string
		header  string
		secrets []string
		body    []byte
		now     time.Time
		ok      bool
	}{
		{"both secrets held", h, secrets, body, at, true},
		{"only the new secret", h, []string{"whsec_new"}, body, at, true},
		{"only the old secret", h, []string{"whsec_old"}, body, at, true},
		{"v1 values in any order", reorder(h), []string{"whsec_old"}, body, at, true},
		{"4 minutes late", h, secrets, body, at.Add(4 * time.Minute), true},
		{"4 minutes early", h, secrets, body, at.Add(-4 * time.Minute), true},
		{"an unknown scheme beside v1", h + ",v2=abcd", secrets, body, at, true},
		{"another secret", h, []string{"whsec_other"}, body, at, false},
		{"no secret", h, nil, body, at, false},
		{"an empty secret", h, []string{""}, body, at, false},
		{"tampered body", h, secrets, []byte(`{"eventId":"evt_1","sequenceNumber":3}`), at, false},
		{"stale", h, secrets, body, at.Add(6 * time.Minute), false},
		{"from the future", h, secrets, body, at.Add(-6 * time.Minute), false},
		{"changed timestamp", strings.Replace(h, "t=1764130000", "t=1764130001", 1), secrets, body, at, false},
		{"padded timestamp", strings.Replace(h, "t=", "t=0", 1), secrets, body, at, false},
		{"no timestamp", h[strings.Index(h, ",")+1:], secrets, body, at, false},
		{"two timestamps", h + ",t=1764130000", secrets, body, at, false},
		{"no v1", "t=1764130000", secrets, body, at, false},
		{"empty", "", secrets, body, at, false},
		{"garbage", "garbage", secrets, body, at, false},
		{"too long", h + strings.Repeat(",x=y", 600), secrets, body, at, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Verify(tc.header, tc.secrets, tc.body, tc.now, 5*time.Minute)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
			if err != nil && paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
				t.Errorf("code %q, want %q", paywire.ErrorCode(err), paywire.EUNAUTHORIZED)
			}
		})
	}
}

// reorder moves the last v1 value of a header to the front.
func reorder(h string) string {
	parts := strings.Split(h, ",")
	return strings.Join(append([]string{parts[len(parts)-1]}, parts[:len(parts)-1]...), ",")
}

// A receiver that accepts a header must have been given a v1 value that is
// the body's signature under one of its secrets.
func FuzzVerify(f *testing.F) {
	at := time.Unix(1764130000, 0)
	f.Add(notify.Sign([]string{"secret"}, at, []byte("body")), []byte("body"))
	f.Add("t=1764130000,v1=00", []byte(""))
	f.Add("t=1764130000,v1=zz,v1=,=,t", []byte("x"))
	f.Add(strings.Repeat("v1=a,", 20), []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := notify.Verify(header, []string{"secret"}, body, at, time.Minute)
		if err != nil {
			return
		}
		for sec := at.Unix() - 60; sec <= at.Unix()+60; sec++ {
			ts := strconv.FormatInt(sec, 10)
			m := hmac.New(sha256.New, []byte("secret"))
			m.Write([]byte(ts + "."))
			m.Write(body)
			if strings.Contains(header, "t="+ts) && strings.Contains(strings.ToLower(header), "v1="+hex.EncodeToString(m.Sum(nil))) {
				return
			}
		}
		t.Fatalf("Verify accepted %q for %q", header, body)
	})
}

// A merchant's handler checks the signature before it trusts a
// notification. secrets holds the current signing secret and, while it
// rotates, the previous one.
func ExampleVerify() {
	body := []byte(`{"eventId":"evt_1","paymentId":"pay_1","newState":"COMPLETED","sequenceNumber":3}`)
	secrets := []string{"whsec_current"}
	header := notify.Sign(secrets, time.Now(), body) // what arrives in Paywire-Signature

	if err := notify.Verify(header, secrets, body, time.Now(), 5*time.Minute); err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("accepted")

	err := notify.Verify(header, secrets, []byte(`{"tampered":true}`), time.Now(), 5*time.Minute)
	fmt.Println(paywire.ErrorMessage(err))
	// Output:
	// accepted
	// no signature in the Paywire-Signature header matches the body
}

// The signature in docs/notifications.md, which merchants reproduce with
// openssl, is the one Paywire computes for the example body.
func TestDocumentedSignature(t *testing.T) {
	body, err := os.ReadFile("testdata/webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.TrimSuffix(body, []byte("\n"))
	const want = "t=1764130000,v1=b5e3a55cbaef433e455c75f00e4ce1874b32ee2368db674e13c2da7978f4c734"
	if got := notify.Sign([]string{"whsec_example"}, time.Unix(1764130000, 0), body); got != want {
		t.Errorf("Sign = %s, want %s as documented", got, want)
	}
	doc, err := os.ReadFile("../docs/notifications.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, body) || !bytes.Contains(doc, []byte(want)) {
		t.Error("docs/notifications.md does not show the example body and its signature")
	}
	envelope, err := os.ReadFile("testdata/handlePaymentStateChangedEvent.xml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, envelope) {
		t.Error("docs/notifications.md does not show the SOAP request as Paywire sends it")
	}
}
