package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synod-chain/synod/testnet"
)

// TestStatusChecksIdentity serves node 0's admin address from a fake that
// answers as one peer id and pid: Status returns its numbers only when
// both are node 0's (the manifest's peer id, the pid file's pid), and
// otherwise fails with ErrNotThisNode, as when a stale pid file's node is
// gone and another network's node holds the ports.
func TestStatusChecksIdentity(t *testing.T) {
	const nodePID, nodePeer = 4242, "12D3KooWnode0"
	answer := testnet.NodeStatus{NodeID: nodePeer, PID: nodePID, Height: 7}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")
	withPIDFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(withPIDFile, "node.pid"), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		member testnet.Member
		peer   string
		pid    int
		want   error
	}{
		{"node 0 itself", testnet.Member{Home: withPIDFile, Admin: admin, PeerID: nodePeer}, nodePeer, nodePID, nil},
		{"another peer id", testnet.Member{Home: withPIDFile, Admin: admin, PeerID: nodePeer}, "12D3KooWother", nodePID, testnet.ErrNotThisNode},
		{"another pid than the pid file's", testnet.Member{Home: withPIDFile, Admin: admin, PeerID: nodePeer}, nodePeer, nodePID + 1, testnet.ErrNotThisNode},
		{"nothing recorded to check", testnet.Member{Home: t.TempDir(), Admin: admin}, "12D3KooWother", nodePID + 1, nil},
	} {
		answer.NodeID, answer.PID = tc.peer, tc.pid
		net := &testnet.Network{Members: []testnet.Member{tc.member}}
		st, err := net.Status(context.Background(), 0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if err == nil && st.Height != 7 {
			t.Errorf("%s: height %d, want 7", tc.name, st.Height)
		}
		if err != nil && st.Height != 0 {
			t.Errorf("%s: returned the other process's status %+v", tc.name, st)
		}
	}
}
