package node

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAdminRefusesBrowsers sends the admin endpoint what a web page in
// the developer's browser can: a cross-site form POST to partition the
// node, and a request through a host name rebound to 127.0.0.1. Both
// must be refused before a handler runs, while the same request from a
// tool, and a page of the endpoint itself, reach it. The partition
// handler is given a bad peer id, so reaching it answers 400 without a
// p2p host.
func TestAdminRefusesBrowsers(t *testing.T) {
	mux := (&Node{}).adminMux()
	send := func(host string, header map[string]string) int {
		r := httptest.NewRequest(http.MethodPost, "/admin/partition?allow=not-a-peer", nil)
		r.Host = host
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	for name, c := range map[string]struct {
		host   string
		header map[string]string
		want   int
	}{
		"tool":             {"127.0.0.1:26603", nil, http.StatusBadRequest},
		"tool over ipv6":   {"[::1]:26603", nil, http.StatusBadRequest},
		"own page":         {"127.0.0.1:26603", map[string]string{"Origin": "http://127.0.0.1:26603", "Sec-Fetch-Site": "same-origin"}, http.StatusBadRequest},
		"cross-site form":  {"127.0.0.1:26603", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		"old browser form": {"127.0.0.1:26603", map[string]string{"Origin": "null"}, http.StatusForbidden},
		"rebound host":     {"evil.example:26603", map[string]string{"Origin": "http://evil.example:26603", "Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
	} {
		if got := send(c.host, c.header); got != c.want {
			t.Errorf("%s: status %d, want %d", name, got, c.want)
		}
	}
}
