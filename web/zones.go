package web

import (
	"net/http"
	"strings"

	"github.com/keysmith/keysmith"
)

func (s *Server) zoneRoutes(mux *http.ServeMux) {
	mux.Handle("GET /zones", s.page(s.zonesPage))
	mux.Handle("GET /zones/new", s.page(s.newZonePage))
	mux.Handle("POST /zones", s.page(s.createZone))
	mux.Handle("GET /zones/{id}", s.page(s.zonePage))
	mux.Handle("POST /zones/{id}", s.page(s.updateZone))
	mux.Handle("POST /zones/{id}/delete", s.page(s.deleteZone))
}

// zoneFields are the zone form's fields, in the order errors are matched.
var zoneFields = []string{"name", "gateways", "proxies"}

// zoneRow is a zone as the pages show it: its addresses as written.
type zoneRow struct {
	*keysmith.Zone
	GatewayList, ProxyList []string
}

func newZoneRow(z *keysmith.Zone) zoneRow {
	return zoneRow{Zone: z, GatewayList: keysmith.FormatPrefixes(z.Gateways), ProxyList: keysmith.FormatPrefixes(z.Proxies)}
}

// zoneForm is the form of a zone as stored, for editing: one entry a line.
func zoneForm(z *keysmith.Zone) form {
	return form{Values: map[string][]string{
		"name":     {z.Name},
		"gateways": {strings.Join(keysmith.FormatPrefixes(z.Gateways), "\n")},
		"proxies":  {strings.Join(keysmith.FormatPrefixes(z.Proxies), "\n")},
	}}
}

// zoneInput reads the zone form: addresses one a line (commas and spaces
// separate them too), an empty box meaning none.
func zoneInput(r *http.Request) keysmith.ZoneInput {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	gateways := strings.Fields(strings.ReplaceAll(r.PostForm.Get("gateways"), ",", " "))
	proxies := strings.Fields(strings.ReplaceAll(r.PostForm.Get("proxies"), ",", " "))
	return keysmith.ZoneInput{Name: &name, Gateways: &gateways, Proxies: &proxies}
}

func (s *Server) zonesPage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	zs, err := s.Service.FindZones(r.Context(), c.Principal)
	if err != nil {
		return err
	}
	rows := make([]zoneRow, len(zs))
	for i, z := range zs {
		rows[i] = newZoneRow(z)
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "The zone was created."
	case "deleted":
		notice = "The zone was deleted."
	}
	s.render(w, r, c, http.StatusOK, "zones_list", "Network zones", map[string]any{
		"Zones": rows, "CanEdit": keysmith.CanEditZones(c.User), "Notice": notice,
	})
	return nil
}

// newZonePage is the form of a new zone, for those who may create one.
func (s *Server) newZonePage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !keysmith.CanEditZones(c.User) {
		return keysmith.Errorf(keysmith.CodeForbidden, "Your role may not create network zones; org and super admins may.")
	}
	s.renderNewZone(w, r, c, http.StatusOK, form{})
	return nil
}

func (s *Server) renderNewZone(w http.ResponseWriter, r *http.Request, c *Caller, status int, f form) {
	s.render(w, r, c, status, "zone", "New network zone", map[string]any{"CanEdit": true, "Form": f})
}

func (s *Server) createZone(w http.ResponseWriter, r *http.Request, c *Caller) error {
	_, err := s.Service.CreateZone(r.Context(), c.Principal, zoneInput(r))
	if isFormError(err) {
		s.renderNewZone(w, r, c, http.StatusBadRequest, form{Values: r.PostForm, Errors: formError(err, zoneFields...)})
		return nil
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/zones?done=created")
}

func (s *Server) zonePage(w http.ResponseWriter, r *http.Request, c *Caller) error {
	z, err := s.Service.FindZoneByID(r.Context(), c.Principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	notice := ""
	if r.URL.Query().Get("done") == "saved" {
		notice = "The zone was saved."
	}
	s.renderZone(w, r, c, http.StatusOK, z, zoneForm(z), notice)
	return nil
}

func (s *Server) renderZone(w http.ResponseWriter, r *http.Request, c *Caller, status int, z *keysmith.Zone, f form, notice string) {
	s.render(w, r, c, status, "zone", "Network zone "+z.Name, map[string]any{
		"Zone": newZoneRow(z), "CanEdit": keysmith.CanEditZones(c.User), "Form": f, "Notice": notice,
	})
}

func (s *Server) updateZone(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	_, err := s.Service.UpdateZone(r.Context(), c.Principal, id, zoneInput(r))
	if isFormError(err) {
		z, ferr := s.Service.FindZoneByID(r.Context(), c.Principal, id)
		if ferr != nil {
			return ferr
		}
		s.renderZone(w, r, c, http.StatusBadRequest, z, form{Values: r.PostForm, Errors: formError(err, zoneFields...)}, "")
		return nil
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/zones/"+id+"?done=saved")
}

// deleteZone deletes a zone; one that tokens still use is refused by the
// store, and the page says so.
func (s *Server) deleteZone(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	err := s.Service.DeleteZone(r.Context(), c.Principal, id)
	if isFormError(err) {
		z, ferr := s.Service.FindZoneByID(r.Context(), c.Principal, id)
		if ferr != nil {
			return ferr
		}
		s.renderZone(w, r, c, http.StatusConflict, z, form{Values: zoneForm(z).Values, Errors: map[string]string{"delete": keysmith.ErrorMessage(err)}}, "")
		return nil
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/zones?done=deleted")
}
