package admin

import "github.com/go-chi/chi/v5"

// MerchantPages are the dependencies of merchants: settings, credentials, lists; the area is mounted when they are set.
type MerchantPages struct{}

// mountMerchants adds the area's routes and navigation entries.
func (a *App) mountMerchants(r chi.Router) {}
