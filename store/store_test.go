package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

func TestContract(t *testing.T) { storetest.Contract(t) }

func TestOpenRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	notADB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dsn, want string
	}{
		{"scheme", "mysql://root@localhost/x", "unsupported database URL scheme"},
		{"bad postgres URL", "postgres://u:secret@[::1:5432/x", "invalid PostgreSQL URL"},
		{"unreachable postgres", "postgres://u:secret@127.0.0.1:1/x?connect_timeout=2", "cannot reach PostgreSQL"},
		{"not a database", notADB, "cannot open SQLite database"},
		{"empty", "", "no database"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		tests = append(tests, struct{ name, dsn, want string }{"unwritable", filepath.Join(readOnly, "sub", "p.db"), "cannot create the SQLite directory"})
	}
	for _, tt := range tests {
		db, err := store.Open(ctx, tt.dsn)
		if err == nil {
			db.Close()
			t.Errorf("%s: opened %q", tt.name, tt.dsn)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %q does not say %q", tt.name, err, tt.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %q", tt.name, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", tt.name, err)
		}
	}
}
