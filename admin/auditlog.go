package admin

import "github.com/go-chi/chi/v5"

// AuditPages are the dependencies of the audit log; the area is mounted when they are set.
type AuditPages struct{}

// mountAudit adds the area's routes and navigation entries.
func (a *App) mountAudit(r chi.Router) {}
