package httpapi

import (
	"net/http"
	"time"

	"github.com/keysmith/keysmith"
)

// zoneJSON is a network zone as the API shows it.
type zoneJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Gateways  []string  `json:"gateways"`
	Proxies   []string  `json:"proxies"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toZoneJSON(z *keysmith.Zone) zoneJSON {
	return zoneJSON{ID: z.ID, Name: z.Name, Gateways: keysmith.FormatPrefixes(z.Gateways),
		Proxies: keysmith.FormatPrefixes(z.Proxies), CreatedAt: z.CreatedAt, UpdatedAt: z.UpdatedAt}
}

// zoneRequest is the body of POST and PATCH: absent fields stay.
type zoneRequest struct {
	Name     *string   `json:"name"`
	Gateways *[]string `json:"gateways"`
	Proxies  *[]string `json:"proxies"`
}

func (z zoneRequest) input() keysmith.ZoneInput {
	return keysmith.ZoneInput{Name: z.Name, Gateways: z.Gateways, Proxies: z.Proxies}
}

func (s *Server) zoneRoutes(mux routes) {
	mux.Handle("POST /v1/zones", s.authed(s.createZone))
	mux.Handle("GET /v1/zones", s.authed(s.listZones))
	mux.Handle("GET /v1/zones/{id}", s.authed(s.getZone))
	mux.Handle("PATCH /v1/zones/{id}", s.authed(s.updateZone))
	mux.Handle("DELETE /v1/zones/{id}", s.authed(s.deleteZone))
}

func (s *Server) createZone(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req zoneRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	z, err := s.Service.CreateZone(r.Context(), p, req.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/zones/"+z.ID)
	writeJSON(w, http.StatusCreated, toZoneJSON(z))
	return nil
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := onlyParams(r.URL.Query(), nil); err != nil {
		return err
	}
	zs, err := s.Service.FindZones(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]zoneJSON, len(zs))
	for i, z := range zs {
		items[i] = toZoneJSON(z)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
	return nil
}

func (s *Server) getZone(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	z, err := s.Service.FindZoneByID(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toZoneJSON(z))
	return nil
}

func (s *Server) updateZone(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	var req zoneRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	z, err := s.Service.UpdateZone(r.Context(), p, r.PathValue("id"), req.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toZoneJSON(z))
	return nil
}

func (s *Server) deleteZone(w http.ResponseWriter, r *http.Request, p keysmith.Principal) error {
	if err := s.Service.DeleteZone(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
