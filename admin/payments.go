package admin

import "github.com/go-chi/chi/v5"

// PaymentPages are the dependencies of the payments list and detail, payment actions, the review queue and manual payments; the area is mounted when they are set.
type PaymentPages struct{}

// mountPayments adds the area's routes and navigation entries.
func (a *App) mountPayments(r chi.Router) {}
