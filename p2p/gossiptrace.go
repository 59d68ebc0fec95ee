package p2p

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// gossipTracer counts what gossipsub does with tx messages that the
// validator never sees: copies of a message already seen, messages
// dropped on a full send queue, and messages dropped unread on a full
// validation queue (rejectReason). Duplicates are the price of forwarding;
// their count per accepted message shows what the mesh degree costs.
type gossipTracer struct{ stats *counters }

var _ pubsub.RawTracer = gossipTracer{}

func (t gossipTracer) DuplicateMessage(*pubsub.Message)                   { t.stats.txDuplicates.Add(1) }
func (t gossipTracer) DropRPC(*pubsub.RPC, peer.ID)                       { t.stats.txRPCsDropped.Add(1) }
func (gossipTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (gossipTracer) OnClosedOutboundStream(peer.ID)                       {}
func (gossipTracer) Join(string)                                          {}
func (gossipTracer) Leave(string)                                         {}
func (gossipTracer) Graft(peer.ID, string)                                {}
func (gossipTracer) Prune(peer.ID, string)                                {}
func (gossipTracer) ValidateMessage(*pubsub.Message)                      {}
func (gossipTracer) DeliverMessage(*pubsub.Message)                       {}
func (t gossipTracer) RejectMessage(_ *pubsub.Message, reason string)     { t.rejectReason(reason) }
func (gossipTracer) ThrottlePeer(peer.ID)                                 {}
func (gossipTracer) RecvRPC(*pubsub.RPC)                                  {}
func (gossipTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (gossipTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (gossipTracer) UndeliverableMessage(*pubsub.Message)                 {}

// rejectReason counts a message dropped unread because validation could
// not keep up; its txs come again only with the sender's rebroadcast.
func (t gossipTracer) rejectReason(reason string) {
	if reason == pubsub.RejectValidationQueueFull || reason == pubsub.RejectValidationThrottled {
		t.stats.txBatchesThrottled.Add(1)
	}
}
