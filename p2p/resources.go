package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"github.com/synod-chain/synod/ledger"
)

// Stream limits of Synod's own protocols, per peer. A validator keeps one
// long-lived consensus stream each way (a second one while reconnecting);
// block sync is one request at a time from an honest peer.
const (
	consensusStreamsPerPeerMax = 4
	syncStreamsPerPeerMax      = 4
	// protocolPeerMemoryBytes lets a stream's receive window grow enough
	// to move a full block quickly.
	protocolPeerMemoryBytes = 64 << 20
)

func consensusProtocol(chainID string) protocol.ID {
	return protocol.ID(fmt.Sprintf("/synod/%s/consensus/1", chainID))
}

func syncProtocol(chainID string) protocol.ID {
	return protocol.ID(fmt.Sprintf("/synod/%s/blocksync/1", chainID))
}

func txTopic(chainID string) string { return fmt.Sprintf("/synod/%s/tx/1", chainID) }

// resourceManager is libp2p's scaled defaults plus per-protocol limits for
// consensus and block sync, so no single peer can hold more than a few
// streams of either.
func (n *Host) resourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	cons := consensusProtocol(n.cfg.ChainID)
	limits.AddProtocolLimit(cons,
		rcmgr.BaseLimit{StreamsInbound: 2 * ledger.ValidatorsMax, StreamsOutbound: 2 * ledger.ValidatorsMax, Streams: 4 * ledger.ValidatorsMax, Memory: 512 << 20},
		rcmgr.BaseLimitIncrease{})
	limits.AddProtocolPeerLimit(cons,
		rcmgr.BaseLimit{StreamsInbound: consensusStreamsPerPeerMax, StreamsOutbound: consensusStreamsPerPeerMax, Streams: 2 * consensusStreamsPerPeerMax, Memory: protocolPeerMemoryBytes},
		rcmgr.BaseLimitIncrease{})
	// The sync streams scale with the serving slots: f Byzantine
	// validators may keep syncStreamsPerPeerMax streams each open, and
	// with a fixed total they would take every stream before a slot.
	sync, slots := syncProtocol(n.cfg.ChainID), n.cfg.syncServeSlots()
	limits.AddProtocolLimit(sync,
		rcmgr.BaseLimit{StreamsInbound: 4 * slots, StreamsOutbound: 64, Streams: 4*slots + 64, Memory: 512 << 20},
		rcmgr.BaseLimitIncrease{})
	limits.AddProtocolPeerLimit(sync,
		rcmgr.BaseLimit{StreamsInbound: syncStreamsPerPeerMax, StreamsOutbound: syncStreamsPerPeerMax, Streams: 2 * syncStreamsPerPeerMax, Memory: protocolPeerMemoryBytes},
		rcmgr.BaseLimitIncrease{})
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	return rm, nil
}
