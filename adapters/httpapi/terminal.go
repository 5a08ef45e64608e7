package httpapi

import (
	"context"
	"net/http"

	"github.com/bayhq/bay/adapters/httpapi/oapigen"
	"github.com/bayhq/bay/core"
)

// OpenTerminal relays a WebSocket terminal to the runtime (agent-reach.md §3).
func (s *Server) OpenTerminal(ctx context.Context, req oapigen.OpenTerminalRequestObject) (oapigen.OpenTerminalResponseObject, error) {
	return nil, core.Errorf(core.CodeInternal, "not implemented")
}

// CreateTerminalTicket issues a short-lived terminal ticket for browsers.
func (s *Server) CreateTerminalTicket(ctx context.Context, req oapigen.CreateTerminalTicketRequestObject) (oapigen.CreateTerminalTicketResponseObject, error) {
	return nil, core.Errorf(core.CodeInternal, "not implemented")
}

// authenticateTicket authenticates a terminal request by its ?ticket=
// (CreateTerminalTicket) instead of the Authorization header: the owner
// and scopes the ticket was issued to, or 401 unauthorized.
func (s *Server) authenticateTicket(r *http.Request) (owner string, scopes []string, err error) {
	return "", nil, core.Errorf(core.CodeUnauthorized, "Invalid or expired terminal ticket")
}
