package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnrichment: card countries and types come from the active bundle's
// BIN table; without an IP database IP countries are unknown; a missing
// database refuses to start.
func TestEnrichment(t *testing.T) {
	e, err := newEngine(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	x := enrichment{engine: e}
	if country, typ := x.Card("424242"); country != "US" || typ != "credit" {
		t.Errorf("424242: %q %q; want US credit", country, typ)
	}
	if country, typ := x.Card("999999"); country != "" || typ != "" {
		t.Errorf("a BIN in no range: %q %q; want unknown", country, typ)
	}
	if c := x.IPCountry("192.0.2.1"); c != "" {
		t.Errorf("no database, IP country %q", c)
	}

	cfg := testConfig(t)
	cfg.GeoIPDB = filepath.Join(t.TempDir(), "missing.mmdb")
	m := NewMain(cfg, io.Discard, io.Discard)
	defer m.Close()
	if err := m.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "--geoip-db") {
		t.Errorf("a missing IP database: %v", err)
	}
}
