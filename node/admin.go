package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synod-chain/synod/rpc"
)

// adminMux is the loopback-only admin endpoint the testnet's fault injector
// drives: partition this node from every peer but the given ones, and heal.
// Config.Validate refuses a non-loopback admin address; toolsOnly keeps
// out the browser on the same machine.
func (n *Node) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/partition", func(w http.ResponseWriter, r *http.Request) {
		// ?allow=<peer id>,<peer id>: the peers this node may still reach.
		var allowed []peer.ID
		if raw := r.URL.Query().Get("allow"); raw != "" {
			for _, s := range strings.Split(raw, ",") {
				id, err := peer.Decode(strings.TrimSpace(s))
				if err != nil {
					http.Error(w, fmt.Sprintf("bad peer id %q: %v", s, err), http.StatusBadRequest)
					return
				}
				allowed = append(allowed, id)
			}
		}
		n.host.SetPartition(allowed)
		n.log.Warn("admin: partitioned", "allowed", len(allowed))
		writeJSON(w, map[string]any{"partitioned": true, "allowed": len(allowed)})
	})
	mux.HandleFunc("POST /admin/heal", func(w http.ResponseWriter, r *http.Request) {
		n.host.Heal()
		n.log.Warn("admin: healed")
		writeJSON(w, map[string]any{"partitioned": false})
	})
	// Profiles, for finding where a node spends its time; the admin
	// endpoint is loopback-only.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /admin/consensus", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		writeJSON(w, map[string]string{"replica": n.driver.consensusState(ctx)})
	})
	mux.HandleFunc("GET /admin/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.AdminStatus())
	})
	return toolsOnly(mux)
}

// toolsOnly refuses what a web page open on this machine could send.
// Loopback is no fence against one: it can POST /admin/partition as a
// form would, no CORS preflight asked, or rebind its own host name to
// 127.0.0.1 and read the answers. A browser names the page that sent a
// request (Origin, Sec-Fetch-Site) and the host the page is on (Host);
// a tool (synod testnet, curl) sends no Origin and names the loopback
// address it dialled. Pages of the endpoint itself, the pprof index
// opened by hand, still work.
func toolsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		ip := net.ParseIP(host)
		loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
		origin := r.Header.Get("Origin")
		site := r.Header.Get("Sec-Fetch-Site")
		if !loopback || (origin != "" && origin != "http://"+r.Host) || (site != "" && site != "none" && site != "same-origin") {
			http.Error(w, "admin endpoint: not for requests from another site", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// AdminStatus is the testnet status view's snapshot of a node.
type AdminStatus struct {
	rpc.NodeStatus
	// CommittedTxs counts txs in blocks this process applied.
	CommittedTxs uint64 `json:"committedTxs"`
	// PID lets the harness match the node to its process.
	PID int `json:"pid"`
	// Evidence lists validators this node caught misbehaving.
	Evidence []EvidenceSummary `json:"evidence"`
}

// AdminStatus returns the node's status with its committed tx count.
func (n *Node) AdminStatus() AdminStatus {
	return AdminStatus{NodeStatus: backend{n}.Status(), CommittedTxs: n.driver.committedTxs.Load(), PID: os.Getpid(),
		Evidence: n.driver.evidenceSeen()}
}
