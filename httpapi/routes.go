package httpapi

import (
	"net/http"
	"strings"
)

// role is the authority a request carries; routes name the least they
// accept (onprem-api.md §1.1: ROLE_ADMIN > ROLE_USER > ROLE_API).
type role int

const (
	roleNone  role = iota // no credentials needed (login checks its own)
	roleAPI               // the API key, or any user's token
	roleUser              // any user's token
	roleAdmin             // an admin's token
)

func (r role) atLeast(min role) bool { return r >= min }

func (r role) String() string {
	switch r {
	case roleAPI:
		return "api"
	case roleUser:
		return "user"
	case roleAdmin:
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
	role    role
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
		{method: "POST", pattern: "/v1/users/login", role: roleNone, serve: h.login},
		{method: "POST", pattern: "/v1/users/logout", role: roleUser, serve: h.logout},
		{method: "POST", pattern: "/v1/users", role: roleAdmin, serve: h.createUser},
		{method: "GET", pattern: "/v1/users/{username}", role: roleUser, serve: h.getUser},
		{method: "PUT", pattern: "/v1/users/{username}", role: roleUser, serve: h.updateUser},
		{method: "DELETE", pattern: "/v1/users/{username}", role: roleAdmin, serve: h.deleteUser},

		// registration (§3.2)
		{method: "POST", pattern: "/v1/account", role: roleAdmin, serve: h.requestCode},
		{method: "POST", pattern: "/v1/account/verify", role: roleAdmin, serve: h.verify},
		{method: "GET", pattern: "/v1/account/shards", role: roleAdmin, serve: h.getShards},
		{method: "POST", pattern: "/v1/account/shards", role: roleAdmin, serve: h.setShards},

		// contacts and identity (§3.3)
		{method: "POST", pattern: "/v1/contacts", role: roleUser, serve: h.checkContacts},
		{method: "GET", pattern: "/v1/contacts/{wa_id}/identity", role: roleUser, serve: h.getIdentity},
		{method: "PUT", pattern: "/v1/contacts/{wa_id}/identity", role: roleUser, serve: h.ackIdentity},

		// messages (§3.4)
		{method: "POST", pattern: "/v1/messages", role: roleUser, serve: h.sendMessage},
		{method: "PUT", pattern: "/v1/messages/{message_id}", role: roleUser, serve: h.markRead},

		// media (§3.5)
		{method: "POST", pattern: "/v1/media", role: roleUser, serve: h.uploadMedia},
		{method: "GET", pattern: "/v1/media/{media_id}", role: roleUser, serve: h.downloadMedia},
		{method: "DELETE", pattern: "/v1/media/{media_id}", role: roleUser, serve: h.deleteMedia},

		// application settings and media providers (§3.6, §3.7)
		{method: "GET", pattern: "/v1/settings/application", role: roleAdmin, serve: h.getSettings},
		{method: "PATCH", pattern: "/v1/settings/application", role: roleAdmin, serve: h.patchSettings},
		{method: "DELETE", pattern: "/v1/settings/application", role: roleAdmin, serve: h.resetSettings},
		{method: "GET", pattern: "/v1/settings/application/media/providers", role: roleAdmin, serve: h.getProviders},
		{method: "POST", pattern: "/v1/settings/application/media/providers", role: roleAdmin, serve: h.setProviders},
		{method: "DELETE", pattern: "/v1/settings/application/media/providers/{name}", role: roleAdmin, serve: h.deleteProvider},

		// profile and business profile (§3.8)
		{method: "GET", pattern: "/v1/settings/profile/about", role: roleAdmin, serve: h.getAbout},
		{method: "PATCH", pattern: "/v1/settings/profile/about", role: roleAdmin, serve: h.setAbout},
		{method: "GET", pattern: "/v1/settings/profile/photo", role: roleAdmin, serve: h.getPhoto},
		{method: "POST", pattern: "/v1/settings/profile/photo", role: roleAdmin, serve: h.setPhoto},
		{method: "DELETE", pattern: "/v1/settings/profile/photo", role: roleAdmin, serve: h.deletePhoto},
		{method: "GET", pattern: "/v1/settings/business/profile", role: roleAdmin, serve: h.getBusinessProfile},
		{method: "POST", pattern: "/v1/settings/business/profile", role: roleAdmin, serve: h.setBusinessProfile},

		// two-step PIN, backup and restore (§3.9)
		{method: "POST", pattern: "/v1/settings/account/two-step", role: roleAdmin, serve: h.setPIN},
		{method: "DELETE", pattern: "/v1/settings/account/two-step", role: roleAdmin, serve: h.deletePIN},
		{method: "POST", pattern: "/v1/settings/backup", role: roleAdmin, serve: h.backup},
		{method: "POST", pattern: "/v1/settings/restore", role: roleAdmin, serve: h.restore},

		// certificates (§3.10)
		{method: "POST", pattern: "/v1/certificates/external", role: roleAdmin, serve: h.setExternalCert},
		{method: "GET", pattern: "/v1/certificates/external/ca", role: roleUser, serve: h.getExternalCA},
		{method: "GET", pattern: "/v1/certificates/webhooks/ca", role: roleAdmin, serve: h.getWebhookCA},
		{method: "POST", pattern: "/v1/certificates/webhooks/ca", role: roleAdmin, serve: h.setWebhookCA},
		{method: "DELETE", pattern: "/v1/certificates/webhooks/ca", role: roleAdmin, serve: h.deleteWebhookCA},

		// health, stats, metrics, support (§3.11)
		{method: "GET", pattern: "/v1/health", role: roleAPI, serve: h.health},
		{method: "GET", pattern: "/v1/stats/app", role: roleAPI, serve: h.statsApp},
		{method: "GET", pattern: "/v1/stats/app/internal", role: roleAPI, serve: h.statsApp},
		{method: "GET", pattern: "/v1/stats/db", role: roleAPI, serve: h.statsDB},
		{method: "GET", pattern: "/v1/stats/db/internal", role: roleAPI, serve: h.statsDB},
		{method: "GET", pattern: "/metrics", role: roleAPI, serve: h.metrics},
		{method: "GET", pattern: "/v1/metrics", role: roleAPI, serve: h.metrics},
		{method: "GET", pattern: "/v1/support", role: roleUser, serve: h.support},

		// garbage collection (§3.12)
		{method: "PUT", pattern: "/v1/services/message/gc", role: roleUser, serve: h.messageGC},
		{method: "PUT", pattern: "/v1/services/media/gc", role: roleUser, serve: h.mediaGC},

		// beyond On-Premises: the OpenAPI document of this surface
		{method: "GET", pattern: "/v1/openapi.json", role: roleNone, serve: h.openAPI},
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
