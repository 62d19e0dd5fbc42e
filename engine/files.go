package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Files are the files of a bundle, by slash-separated path relative to the
// bundle root. Only files a bundle may hold are kept: .manifest,
// .signatures.json, *.rego and data.json / data.yaml / data.yml.
type Files map[string][]byte

// Bundle size limits: a bundle is policy, not data warehouse.
const (
	maxBundleFiles = 2000
	maxBundleBytes = 32 << 20
)

func bundleFile(p string) bool {
	base := path.Base(p)
	switch {
	case base == ".manifest", base == ".signatures.json":
		return true
	case strings.HasPrefix(base, "."):
		return false
	case strings.HasSuffix(base, ".rego"):
		return true
	}
	return base == "data.json" || base == "data.yaml" || base == "data.yml"
}

// Hash is the bundle's content hash: SHA-256 over every file's path and
// content in path order, hex encoded. The same files give the same hash
// however they were packed.
func (f Files) Hash() string {
	h := sha256.New()
	for _, p := range f.paths() {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(f[p]))
		h.Write(f[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (f Files) paths() []string {
	ps := make([]string, 0, len(f))
	for p := range f {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func (f Files) add(p string, b []byte) error {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	if p == "." || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("%s: path leaves the bundle", p)
	}
	if !bundleFile(p) {
		return nil
	}
	if len(f) >= maxBundleFiles {
		return fmt.Errorf("bundle has more than %d files", maxBundleFiles)
	}
	if _, dup := f[p]; dup {
		return fmt.Errorf("%s: appears twice", p)
	}
	f[p] = b
	return nil
}

// AddFS adds the bundle files of fsys under the prefix ("" for the root).
func (f Files) AddFS(fsys fs.FS, prefix string) error {
	total := f.size()
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !bundleFile(p) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if total += len(b); total > maxBundleBytes {
			return fmt.Errorf("bundle is larger than %d bytes", maxBundleBytes)
		}
		return f.add(path.Join(prefix, p), b)
	})
}

func (f Files) size() int {
	n := 0
	for _, b := range f {
		n += len(b)
	}
	return n
}

// ReadDir reads a bundle from a directory.
func ReadDir(dir string) (Files, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	f := Files{}
	if err := f.AddFS(os.DirFS(dir), ""); err != nil {
		return nil, fmt.Errorf("reading bundle %s: %w", dir, err)
	}
	return f, nil
}

// ReadTarball reads a bundle from a gzipped tar archive, as `opa build`
// and `paywire policy build` write them.
func ReadTarball(r io.Reader) (Files, error) {
	gz, err := gzip.NewReader(io.LimitReader(r, maxBundleBytes))
	if err != nil {
		return nil, fmt.Errorf("bundle is not a .tar.gz: %v", err)
	}
	tr := tar.NewReader(io.LimitReader(gz, maxBundleBytes+1))
	f := Files{}
	total := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bundle archive: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxBundleBytes+1))
		if err != nil {
			return nil, fmt.Errorf("bundle archive: %s: %v", h.Name, err)
		}
		if total += len(b); total > maxBundleBytes {
			return nil, fmt.Errorf("bundle is larger than %d bytes", maxBundleBytes)
		}
		if err := f.add(h.Name, b); err != nil {
			return nil, err
		}
	}
}

// ReadPath reads a bundle from a directory or a .tar.gz file.
func ReadPath(p string) (Files, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return ReadDir(p)
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ReadTarball(fh)
}

// WriteTarball writes the files as a gzipped tar archive that OPA's tools
// and ReadTarball read; reading it back gives the same content hash.
func (f Files) WriteTarball(w io.Writer) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, p := range f.paths() {
		hdr := &tar.Header{Name: "/" + p, Mode: 0o644, Size: int64(len(f[p])), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, bytes.NewReader(f[p])); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// BundleFiles assembles a bundle laid out as this repository keeps the
// default one: policy modules and data at the root of policies, expr rule
// files mounted under rules/.
func BundleFiles(policies, rules fs.FS) (Files, error) {
	f := Files{}
	if err := f.AddFS(policies, ""); err != nil {
		return nil, err
	}
	if err := f.AddFS(rules, "rules"); err != nil {
		return nil, err
	}
	return f, nil
}
