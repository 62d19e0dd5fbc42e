package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	c, _, err := parseConfig("serve", nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DB != ".paywire/paywire.db" || c.Demo || !c.Migrate ||
		c.ShutdownTimeout != 30*time.Second || c.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults: %+v", c)
	}

	env := envOf(map[string]string{"PAYWIRE_ADDR": ":9000", "PAYWIRE_DB": "postgres://x@h/db", "PAYWIRE_DEMO": "true",
		"PAYWIRE_DEMO_SECRET": "s3cret", "PAYWIRE_ADMIN_PASSWORD": "pw"})
	c, _, err = parseConfig("serve", []string{"--addr", "127.0.0.1:9100"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9100" || c.DB != "postgres://x@h/db" || !c.Demo || c.DemoSecret != "s3cret" || c.AdminPassword != "pw" {
		t.Errorf("flag over env: %+v", c)
	}
	c, _, err = parseConfig("serve", []string{"--auth-fail-per-address", "5"}, envOf(map[string]string{"PAYWIRE_AUTH_FAIL_PER_MERCHANT": "50", "PAYWIRE_PASSWORD_CHECKS": "2"}))
	if err != nil || c.AuthFailPerAddr != 5 || c.AuthFailPerMerchant != 50 || c.PasswordChecks != 2 {
		t.Errorf("limits: %+v, %v", c, err)
	}
	c, _, _ = parseConfig("serve", []string{"--demo", "--addr", "127.0.0.1:1"}, envOf(nil))
	if !c.Demo || c.Addr != "127.0.0.1:1" {
		t.Errorf("bare --demo: %+v", c)
	}

	for _, bad := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"PAYWIRE_DEMO": "maybe"}, "--demo"},
		{[]string{"--shutdown-timeout", "soon"}, nil, "--shutdown-timeout"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--max-body-bytes", "12"}, nil, "--max-body-bytes"},
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
		{[]string{"--auth-fail-per-address", "0"}, nil, "--auth-fail-per-address"},
		{nil, map[string]string{"PAYWIRE_AUTH_FAIL_PER_MERCHANT": "many"}, "--auth-fail-per-merchant"},
		{[]string{"--password-checks", "-1"}, nil, "--password-checks"},
	} {
		_, _, err := parseConfig("serve", bad.args, envOf(bad.env))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v %v: %v, want an error naming %s", bad.args, bad.env, err, bad.want)
		}
	}
}

// TestREADMEListsEveryOption keeps the README's configuration table
// complete: every flag and environment variable must appear in it.
func TestREADMEListsEveryOption(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		if o.Flag != "" && !strings.Contains(string(readme), "`--"+o.Flag+"`") {
			t.Errorf("README does not list `--%s`", o.Flag)
		}
		if !strings.Contains(string(readme), "`"+o.Env+"`") {
			t.Errorf("README does not list `%s`", o.Env)
		}
	}
}
