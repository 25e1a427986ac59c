package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Role is the authority a request carries; routes name the least they
// accept (onprem-api.md §1.1: ROLE_ADMIN > ROLE_USER > ROLE_API).
type Role int

// Roles, lowest first.
const (
	RoleNone  Role = iota // no credentials needed (login checks its own)
	RoleAPI               // the API key, or any user's token
	RoleUser              // any user's token
	RoleAdmin             // an admin's token
)

func (r Role) atLeast(min Role) bool { return r >= min }

func (r Role) String() string {
	switch r {
	case RoleAPI:
		return "api"
	case RoleUser:
		return "user"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// route is one method and path of the surface. The table is the single
// list of what the handler serves: the router, the request metrics and
// the OpenAPI test all read it.
type route struct {
	method  string
	pattern string // "/v1/users/{username}"
	role    Role
	serve   http.HandlerFunc
	segs    []string
	// metric is the On-Premises style label of the route for
	// api_requests_duration_ms, e.g. "POST_v1_messages".
	metric string
}

// table lists every route. Groups and stickerpacks are not served yet.
func (h *Handler) table() []*route {
	rs := []*route{
		// users and auth (§3.1)
		{method: "POST", pattern: "/v1/users/login", role: RoleNone, serve: h.login},
		{method: "POST", pattern: "/v1/users/logout", role: RoleUser, serve: h.logout},
		{method: "POST", pattern: "/v1/users", role: RoleAdmin, serve: h.createUser},
		{method: "GET", pattern: "/v1/users/{username}", role: RoleUser, serve: h.getUser},
		{method: "PUT", pattern: "/v1/users/{username}", role: RoleUser, serve: h.updateUser},
		{method: "DELETE", pattern: "/v1/users/{username}", role: RoleAdmin, serve: h.deleteUser},

		// registration (§3.2)
		{method: "POST", pattern: "/v1/account", role: RoleAdmin, serve: h.requestCode},
		{method: "POST", pattern: "/v1/account/verify", role: RoleAdmin, serve: h.verify},
		{method: "GET", pattern: "/v1/account/shards", role: RoleAdmin, serve: h.getShards},
		{method: "POST", pattern: "/v1/account/shards", role: RoleAdmin, serve: h.setShards},

		// contacts and identity (§3.3)
		{method: "POST", pattern: "/v1/contacts", role: RoleUser, serve: h.checkContacts},
		{method: "GET", pattern: "/v1/contacts/{wa_id}/identity", role: RoleUser, serve: h.getIdentity},
		{method: "PUT", pattern: "/v1/contacts/{wa_id}/identity", role: RoleUser, serve: h.ackIdentity},

		// messages (§3.4)
		{method: "POST", pattern: "/v1/messages", role: RoleUser, serve: h.sendMessage},
		{method: "PUT", pattern: "/v1/messages/{message_id}", role: RoleUser, serve: h.markRead},

		// media (§3.5)
		{method: "POST", pattern: "/v1/media", role: RoleUser, serve: h.uploadMedia},
		{method: "GET", pattern: "/v1/media/{media_id}", role: RoleUser, serve: h.downloadMedia},
		{method: "DELETE", pattern: "/v1/media/{media_id}", role: RoleUser, serve: h.deleteMedia},

		// application settings and media providers (§3.6, §3.7)
		{method: "GET", pattern: "/v1/settings/application", role: RoleAdmin, serve: h.getSettings},
		{method: "PATCH", pattern: "/v1/settings/application", role: RoleAdmin, serve: h.patchSettings},
		{method: "DELETE", pattern: "/v1/settings/application", role: RoleAdmin, serve: h.resetSettings},
		{method: "GET", pattern: "/v1/settings/application/media/providers", role: RoleAdmin, serve: h.getProviders},
		{method: "POST", pattern: "/v1/settings/application/media/providers", role: RoleAdmin, serve: h.setProviders},
		{method: "DELETE", pattern: "/v1/settings/application/media/providers/{name}", role: RoleAdmin, serve: h.deleteProvider},

		// profile and business profile (§3.8)
		{method: "GET", pattern: "/v1/settings/profile/about", role: RoleAdmin, serve: h.getAbout},
		{method: "PATCH", pattern: "/v1/settings/profile/about", role: RoleAdmin, serve: h.setAbout},
		{method: "GET", pattern: "/v1/settings/profile/photo", role: RoleAdmin, serve: h.getPhoto},
		{method: "POST", pattern: "/v1/settings/profile/photo", role: RoleAdmin, serve: h.setPhoto},
		{method: "DELETE", pattern: "/v1/settings/profile/photo", role: RoleAdmin, serve: h.deletePhoto},
		{method: "GET", pattern: "/v1/settings/business/profile", role: RoleAdmin, serve: h.getBusinessProfile},
		{method: "POST", pattern: "/v1/settings/business/profile", role: RoleAdmin, serve: h.setBusinessProfile},

		// two-step PIN, backup and restore (§3.9)
		{method: "POST", pattern: "/v1/settings/account/two-step", role: RoleAdmin, serve: h.setPIN},
		{method: "DELETE", pattern: "/v1/settings/account/two-step", role: RoleAdmin, serve: h.deletePIN},
		{method: "POST", pattern: "/v1/settings/backup", role: RoleAdmin, serve: h.backup},
		{method: "POST", pattern: "/v1/settings/restore", role: RoleAdmin, serve: h.restore},

		// certificates (§3.10)
		{method: "POST", pattern: "/v1/certificates/external", role: RoleAdmin, serve: h.setExternalCert},
		{method: "GET", pattern: "/v1/certificates/external/ca", role: RoleUser, serve: h.getExternalCA},
		{method: "GET", pattern: "/v1/certificates/webhooks/ca", role: RoleAdmin, serve: h.getWebhookCA},
		{method: "POST", pattern: "/v1/certificates/webhooks/ca", role: RoleAdmin, serve: h.setWebhookCA},
		{method: "DELETE", pattern: "/v1/certificates/webhooks/ca", role: RoleAdmin, serve: h.deleteWebhookCA},

		// health, stats, metrics, support (§3.11)
		{method: "GET", pattern: "/v1/health", role: RoleAPI, serve: h.health},
		{method: "GET", pattern: "/v1/stats/app", role: RoleAPI, serve: h.statsApp},
		{method: "GET", pattern: "/v1/stats/app/internal", role: RoleAPI, serve: h.statsApp},
		{method: "GET", pattern: "/v1/stats/db", role: RoleAPI, serve: h.statsDB},
		{method: "GET", pattern: "/v1/stats/db/internal", role: RoleAPI, serve: h.statsDB},
		{method: "GET", pattern: "/metrics", role: RoleAPI, serve: h.metrics},
		{method: "GET", pattern: "/v1/metrics", role: RoleAPI, serve: h.metrics},
		{method: "GET", pattern: "/v1/support", role: RoleUser, serve: h.support},

		// garbage collection (§3.12)
		{method: "PUT", pattern: "/v1/services/message/gc", role: RoleUser, serve: h.messageGC},
		{method: "PUT", pattern: "/v1/services/media/gc", role: RoleUser, serve: h.mediaGC},

		// beyond On-Premises: the OpenAPI document of this surface
		{method: "GET", pattern: "/v1/openapi.json", role: RoleNone, serve: h.openAPI},
	}
	for _, x := range h.opts.Routes {
		rs = append(rs, &route{method: x.Method, pattern: x.Pattern, role: x.Role, serve: x.Handler})
	}
	for _, rt := range rs {
		rt.segs = strings.Split(strings.TrimPrefix(rt.pattern, "/"), "/")
		name := strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_").Replace(strings.TrimPrefix(rt.pattern, "/"))
		rt.metric = rt.method + "_" + name
	}
	return rs
}

// match finds the route for method and path, with its path parameters.
// When only the method is wrong it returns the methods that would do.
func (h *Handler) match(method, path string) (*route, map[string]string, []string) {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var allowed []string
	for _, rt := range h.routes {
		params, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method == method || (method == http.MethodHead && rt.method == http.MethodGet) {
			return rt, params, nil
		}
		allowed = append(allowed, rt.method)
	}
	return nil, nil, allowed
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// Route is an application route served beside /v1 with the same
// authentication, roles, envelope and request metrics (the sandbox's
// /sandbox/ routes, say). Pattern is a path with {name} segments, read
// with r.PathValue; Handler answers with Handler.Respond and Handler.Fail.
type Route struct {
	Method  string
	Pattern string
	Role    Role
	Handler http.HandlerFunc
}

func (r Route) check() error {
	switch {
	case r.Method == "" || r.Handler == nil:
		return errors.New("httpapi: a Route needs a Method and a Handler")
	case !strings.HasPrefix(r.Pattern, "/") || strings.HasPrefix(r.Pattern, "/v1/") || r.Pattern == "/metrics":
		return fmt.Errorf("httpapi: Route pattern %q must start with / and stay outside /v1", r.Pattern)
	case r.Role < RoleNone || r.Role > RoleAdmin:
		return fmt.Errorf("httpapi: Route %s %s has an unknown role", r.Method, r.Pattern)
	}
	return nil
}
