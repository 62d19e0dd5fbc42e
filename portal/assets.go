package portal

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// assetFS holds the only files the pages load. There are no scripts: docs
// (portal.md) keeps the inventory, and a test keeps it true.
//
//go:embed assets
var assetFS embed.FS

// asset is one embedded file served under /pay/assets/.
type asset struct {
	body        []byte
	contentType string
}

var assets = mustLoadAssets()

func mustLoadAssets() map[string]asset {
	types := map[string]string{".css": "text/css; charset=utf-8"}
	out := map[string]asset{}
	err := fs.WalkDir(assetFS, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := types[path.Ext(name)]
		if !ok {
			panic("portal: no content type for asset " + name)
		}
		b, err := fs.ReadFile(assetFS, name)
		if err != nil {
			return err
		}
		out[path.Base(name)] = asset{body: b, contentType: ct}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

// asset serves an embedded file by its exact name: no directory listings,
// no other paths.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[chi.URLParam(r, "name")]
	if !ok {
		h.problem(w, r, nil, problemNotFound)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}
