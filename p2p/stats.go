package p2p

import "sync/atomic"

// Stats are cumulative counters since New, for the node's metrics.
type Stats struct {
	TxBatchesPublished uint64 // gossip messages this host published
	TxsPublished       uint64
	TxBatchesAccepted  uint64 // peers' messages accepted and forwarded
	TxBatchesRejected  uint64 // provably invalid: the sender is punished
	TxBatchesIgnored   uint64 // duplicates, stale nonces, mempool full
	TxsDelivered       uint64 // txs handed to OnTxs
	TxDuplicates       uint64 // copies of gossip messages already seen, dropped unread
	TxRPCsDropped      uint64 // gossip RPCs dropped on a peer's full send queue
	TxBatchesThrottled uint64 // peers' messages dropped unread on a full validation queue

	ConsensusSent            uint64 // messages written to a stream
	ConsensusReceived        uint64 // messages handed to OnConsensus
	ConsensusOutboundDropped uint64 // oldest dropped from a full outbound queue
	ConsensusInboundDropped  uint64 // oldest dropped from a full inbound queue
	ConsensusStreamErrors    uint64 // failed opens, writes and reads
	ConsensusStreamsRefused  uint64 // inbound streams from non-validators

	SyncRequestsServed  uint64
	SyncRequestsRefused uint64
	SyncBlocksServed    uint64

	Penalties    uint64
	PeersBlocked uint64
}

type counters struct {
	txBatchesPublished, txsPublished                       atomic.Uint64
	txBatchesAccepted, txBatchesRejected, txBatchesIgnored atomic.Uint64
	txsDelivered, txDuplicates, txRPCsDropped              atomic.Uint64
	txBatchesThrottled                                     atomic.Uint64
	consSent, consReceived, consOutDropped, consInDropped  atomic.Uint64
	consStreamErrors, consRefused                          atomic.Uint64
	syncServed, syncRefused, syncBlocksServed              atomic.Uint64
	penalties, peersBlocked                                atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (n *Host) Stats() Stats {
	c := n.stats
	return Stats{
		TxBatchesPublished:       c.txBatchesPublished.Load(),
		TxsPublished:             c.txsPublished.Load(),
		TxBatchesAccepted:        c.txBatchesAccepted.Load(),
		TxBatchesRejected:        c.txBatchesRejected.Load(),
		TxBatchesIgnored:         c.txBatchesIgnored.Load(),
		TxsDelivered:             c.txsDelivered.Load(),
		TxDuplicates:             c.txDuplicates.Load(),
		TxRPCsDropped:            c.txRPCsDropped.Load(),
		TxBatchesThrottled:       c.txBatchesThrottled.Load(),
		ConsensusSent:            c.consSent.Load(),
		ConsensusReceived:        c.consReceived.Load(),
		ConsensusOutboundDropped: c.consOutDropped.Load(),
		ConsensusInboundDropped:  c.consInDropped.Load(),
		ConsensusStreamErrors:    c.consStreamErrors.Load(),
		ConsensusStreamsRefused:  c.consRefused.Load(),
		SyncRequestsServed:       c.syncServed.Load(),
		SyncRequestsRefused:      c.syncRefused.Load(),
		SyncBlocksServed:         c.syncBlocksServed.Load(),
		Penalties:                c.penalties.Load(),
		PeersBlocked:             c.peersBlocked.Load(),
	}
}
