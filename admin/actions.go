package admin

import "github.com/go-chi/chi/v5"

// ActionPages are the dependencies of the payment actions and the review
// queue; the area is mounted when they are set.
type ActionPages struct{}

// mountActions adds the area's routes and navigation entries.
func (a *App) mountActions(r chi.Router) {}
