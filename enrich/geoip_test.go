package enrich

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// geoNetworks is the test database: GeoIP2-Country shaped records. The
// private and loopback networks are in it on purpose, so that the tests
// show Country refuses such addresses itself rather than by luck of the data.
var geoNetworks = []struct {
	cidr       string
	country    string // "" leaves the field out
	registered string
}{
	{"81.2.69.0/24", "GB", "GB"},
	{"89.160.20.0/24", "SE", "SE"},
	{"2a02:cf40::/29", "NO", "NO"},
	{"2001:218::/32", "JP", "JP"},
	{"214.78.120.0/22", "", "US"},   // located nowhere, registered in the US
	{"67.43.156.0/24", "BT", "US"},  // located and registered apart: location wins
	{"2.125.160.0/24", "", ""},      // a record without any country
	{"10.0.0.0/8", "US", "US"},      // private
	{"192.168.0.0/16", "US", "US"},  // private
	{"127.0.0.0/8", "US", "US"},     // loopback
	{"fc00::/7", "US", "US"},        // unique local
	{"fe80::/10", "US", "US"},       // link-local
	{"100.0.0.0/16", "us", "US"},    // malformed country: fall back to the registered one
	{"100.1.0.0/16", "USA", "GBR"},  // malformed both: unknown
	{"100.2.0.0/16", "XK", "RS"},    // a code the schemes use, outside ISO 3166-1
	{"2a00:1450::/32", "IE", "US"},  // IPv6 with both
	{"2a01:4f8::/32", "", "DE"},     // IPv6 registered only
	{"185.60.216.0/22", "NL", "IE"}, // IPv4 with both
}

// writeGeoDB builds a MaxMind DB with geoNetworks and returns its path.
func writeGeoDB(tb testing.TB) string {
	tb.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoIP2-Country",
		Description:             map[string]string{"en": "enrich test database"},
		Languages:               []string{"en"},
		RecordSize:              24,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range geoNetworks {
		_, network, err := net.ParseCIDR(n.cidr)
		if err != nil {
			tb.Fatal(err)
		}
		rec := mmdbtype.Map{
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU")},
		}
		if n.country != "" {
			rec["country"] = mmdbtype.Map{
				"iso_code":   mmdbtype.String(n.country),
				"geoname_id": mmdbtype.Uint32(1),
				"names":      mmdbtype.Map{"en": mmdbtype.String("Somewhere")},
			}
		}
		if n.registered != "" {
			rec["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.registered)}
		}
		if err := w.Insert(network, rec); err != nil {
			tb.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	path := filepath.Join(tb.TempDir(), "country.mmdb")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func openTestGeoIP(tb testing.TB) *GeoIP {
	tb.Helper()
	g, err := OpenGeoIP(writeGeoDB(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

func TestGeoIPCountry(t *testing.T) {
	g := openTestGeoIP(t)
	tests := []struct {
		ip   string
		want string // "": unknown
	}{
		// Hits, at network edges too.
		{"81.2.69.142", "GB"},
		{"81.2.69.0", "GB"},
		{"81.2.69.255", "GB"},
		{"89.160.20.112", "SE"},
		{"2a02:cf40::1", "NO"},
		{"2a02:cf47:ffff:ffff:ffff:ffff:ffff:ffff", "NO"},
		{"2001:218:1:2::3", "JP"},
		{"2A02:CF40::ABCD", "NO"},
		{"185.60.219.1", "NL"},
		{"2a00:1450:4001::1", "IE"},
		// IPv4 written as IPv6.
		{"::ffff:81.2.69.142", "GB"},
		{"::ffff:5102:458e", "GB"},
		// Country missing or malformed: the registered country.
		{"214.78.120.5", "US"},
		{"2a01:4f8::1", "DE"},
		{"100.0.1.1", "US"},
		{"67.43.156.1", "BT"},
		{"100.2.3.4", "XK"},
		// Record without a usable country.
		{"2.125.160.216", ""},
		{"100.1.2.3", ""},
		// Not in the database.
		{"81.2.70.1", ""},
		{"81.2.68.255", ""},
		{"8.8.8.8", ""},
		{"2a02:cf48::1", ""},
		{"2606:4700::1111", ""},
		// Not public: refused even though the database has them.
		{"10.1.2.3", ""},
		{"192.168.1.1", ""},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"fd12:3456::1", ""},
		{"fe80::1", ""},
		{"fe80::1%eth0", ""},
		{"::ffff:10.1.2.3", ""},
		{"0.0.0.0", ""},
		{"::", ""},
		{"255.255.255.255", ""},
		{"224.0.0.1", ""},
		{"ff02::1", ""},
		{"169.254.1.1", ""},
		// Not an IP address.
		{"", ""},
		{"not-an-ip", ""},
		{"81.2.69", ""},
		{"81.2.69.142.1", ""},
		{"81.2.69.256", ""},
		{"081.2.69.142", ""},
		{"81.2.69.0/24", ""},
		{" 81.2.69.142", ""},
		{"81.2.69.142:443", ""},
		{"[2a02:cf40::1]", ""},
		{"2a02:cf40:::1", ""},
		{"81.2.69.142\x00", ""},
	}
	for _, tt := range tests {
		got, ok := g.Country(tt.ip)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Country(%q) = %q, %v; want %q", tt.ip, got, ok, tt.want)
		}
	}
}

func TestGeoIPNilAndClosed(t *testing.T) {
	var g *GeoIP
	if c, ok := g.Country("81.2.69.142"); ok {
		t.Errorf("nil GeoIP Country = %q, true", c)
	}
	if err := g.Close(); err != nil {
		t.Errorf("nil GeoIP Close: %v", err)
	}

	g = openTestGeoIP(t)
	if _, ok := g.Country("81.2.69.142"); !ok {
		t.Fatal("open GeoIP does not know 81.2.69.142")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if c, ok := g.Country("81.2.69.142"); ok {
		t.Errorf("closed GeoIP Country = %q, true", c)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Close while lookups run must not crash them (run with -race).
func TestGeoIPCloseDuringLookups(t *testing.T) {
	g := openTestGeoIP(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				if c, ok := g.Country("2a02:cf40::1"); ok && c != "NO" {
					t.Errorf("Country = %q", c)
					return
				}
			}
		})
	}
	g.Close()
	wg.Wait()
}

func TestOpenGeoIPErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(writeGeoDB(t))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Flip bytes in the search tree: the file still has its metadata, so
	// only verification can tell.
	tree := append([]byte(nil), good...)
	for i := 0; i < 64 && i < len(tree); i++ {
		tree[i] ^= 0xff
	}

	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(dir, "absent.mmdb")
		_, err := OpenGeoIP(p)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), p) {
			t.Errorf("error %v, want a not-exist error naming %s", err, p)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if _, err := OpenGeoIP(dir); err == nil {
			t.Error("opened a directory")
		}
	})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "is empty"},
		{"text", []byte("start,end,country,brand,type\n424242,424242,US,visa,\n"), "is not a valid MaxMind DB file"},
		{"truncated", good[:len(good)/2], "is not a valid MaxMind DB file"},
		{"metadata cut", good[:len(good)-20], "is not a valid MaxMind DB file"},
		{"corrupt tree", tree, "is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name+".mmdb", tt.data)
			g, err := OpenGeoIP(p)
			if err == nil {
				g.Close()
				t.Fatalf("opened a %s database", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q, want it to contain %q and the path", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func BenchmarkCountry(b *testing.B) {
	g := openTestGeoIP(b)
	ips := []string{"81.2.69.142", "2a02:cf40::1", "214.78.120.5", "8.8.8.8", "10.1.2.3"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		g.Country(ips[i%len(ips)])
	}
}
