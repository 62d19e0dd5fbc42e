package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paywire/paywire/api/soap"
)

// TestTextRefused: a NUL byte, a control character or invalid UTF-8 in any
// field answers 400 (JSON) or a client fault (SOAP) naming the field, and
// nothing is stored.
func TestTextRefused(t *testing.T) {
	e := newEnv(t)
	jsonBody := func(ref, field, value string) string {
		b := startBody("shop-a", ref)
		b["endUser"].(map[string]any)[field] = "VALUE"
		raw, _ := json.Marshal(b)
		return strings.Replace(string(raw), `"VALUE"`, value, 1)
	}
	for name, body := range map[string]string{
		"escaped NUL":         jsonBody("text-1", "id", `"user\u0000one"`),
		"control character":   jsonBody("text-2", "id", `"user\u0007one"`),
		"invalid UTF-8":       jsonBody("text-3", "id", "\"caf\xe9\""),
		"NUL in a reference":  strings.Replace(jsonBody("text-4", "id", `"u"`), `"text-4"`, `"text\u00004"`, 1),
		"invalid UTF-8 email": jsonBody("text-5", "email", "\"a\xff@example.com\""),
	} {
		r := e.call(t, "POST", "/api/v1/payments", "shop-a", secretA, body)
		if r.status != 400 || errCode(r) != "invalid" {
			t.Errorf("%s: %d %v; want 400 invalid", name, r.status, r.body)
			continue
		}
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if strings.Contains(name, "UTF-8") {
			if !strings.Contains(msg, "UTF-8") {
				t.Errorf("%s: message %q does not say what is wrong", name, msg)
			}
		} else if !strings.Contains(msg, "merchantReference") && !strings.Contains(msg, "endUser.id") {
			t.Errorf("%s: message %q does not name the field", name, msg)
		}
	}
	for name, id := range map[string]string{
		"NUL reference":     "user&#0;one",
		"control character": "user&#x1b;one",
		"invalid UTF-8":     "caf\xe9",
	} {
		body := strings.Replace(redirectBody("shop-a", "soap-text"), "<id>user-1</id>", "<id>"+id+"</id>", 1)
		r := e.soap(t, soap.V11, "", wsse("shop-a", secretA), body)
		if f := r.fault(); f == "" || f == "INTERNAL_ERROR" || !strings.Contains(string(r.raw), "soap:Client") {
			t.Errorf("SOAP %s: fault %q (%s); want a client fault", name, f, r.raw)
		}
	}
	for _, ref := range []string{"text-1", "text-2", "text-3", "text-5", "soap-text"} {
		if p, err := e.db.PaymentByReference(context.Background(), "shop-a", ref); err == nil {
			t.Errorf("payment %s stored from a refused request", p.ID)
		}
	}
}
