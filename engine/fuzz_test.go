package engine

import (
	"bytes"
	"testing"
)

// FuzzReadTarball feeds arbitrary bytes to the bundle archive reader: it
// must refuse or accept without panicking, and whatever it accepts must
// round-trip through WriteTarball with the same content hash.
func FuzzReadTarball(f *testing.F) {
	var buf bytes.Buffer
	if err := minimalFiles().WriteTarball(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Add([]byte("not a tarball"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := ReadTarball(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := files.WriteTarball(&out); err != nil {
			t.Fatal(err)
		}
		back, err := ReadTarball(&out)
		if err != nil || back.Hash() != files.Hash() {
			t.Fatalf("round trip: %v, hash %s != %s", err, back.Hash(), files.Hash())
		}
	})
}

// FuzzCompileRules feeds arbitrary rule files to the expr rule compiler:
// every problem it reports must name the file, and it must never panic.
func FuzzCompileRules(f *testing.F) {
	f.Add([]byte(minimalFiles()["rules/risk/data.yaml"]))
	f.Add([]byte("rules:\n  - id: x\n    when: request.amount.minor > 5\n    effect: {score: 1, reason: r}\n"))
	f.Add([]byte("rules: {}"))
	f.Add([]byte("\t- :"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, problems := compileRules(PointRisk, src, map[string]map[string]bool{"blocked_bins": {"666666": true}})
		for _, p := range problems {
			if p.File != "rules/risk/data.yaml" || p.Reason == "" {
				t.Fatalf("problem without file or reason: %+v", p)
			}
		}
	})
}
