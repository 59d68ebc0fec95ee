package node

import (
	"context"
	"fmt"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/p2p"
)

// startTestHost starts a bare p2p host on 127.0.0.1 for chainID with node
// key key and handlers h (a peer under the test's control: a validator's
// key, or a stranger's), dialling to as a persistent peer if it is not
// nil. The caller closes it.
func startTestHost(t testing.TB, chainID string, key crypto.PrivateKey, to *p2p.Host, h p2p.Handlers) *p2p.Host {
	t.Helper()
	cfg := p2p.DefaultConfig()
	cfg.ChainID = chainID
	cfg.Key = key
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	if to != nil {
		cfg.PersistentPeers = []string{fmt.Sprintf("%s/p2p/%s", to.Addrs()[0], to.ID())}
	}
	host, err := p2p.New(context.Background(), cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return host
}
