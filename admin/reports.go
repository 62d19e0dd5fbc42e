package admin

import "github.com/go-chi/chi/v5"

// ReportPages are the dependencies of reports with charts and CSV; the area is mounted when they are set.
type ReportPages struct{}

// mountReports adds the area's routes and navigation entries.
func (a *App) mountReports(r chi.Router) {}
