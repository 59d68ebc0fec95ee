// Package p2p owns Synod's network room: the libp2p host (identity from the
// node key, TCP and QUIC listeners, resource and connection managers,
// persistent peers re-dialled with capped jittered backoff, a connection
// gater for partitions and penalties), transaction gossip over gossipsub,
// the reliable consensus transport over direct streams, the block sync
// request/response protocol, and the scoring of misbehaving peers.
//
// Everything arriving from a peer is hostile input: every length is bounded
// by a limit named with its unit (Config), every decoder refuses what does
// not fit before allocating and has a fuzz target, every read of a request
// or response has a deadline, and every queue is bounded and counts what it
// drops (Stats) instead of blocking.
//
// # Usage
//
// The node wires the package with callbacks; p2p never learns what a
// consensus message means or how the mempool decides.
//
//  1. Build a Config (DefaultConfig, then ChainID, Key, ListenAddrs,
//     PersistentPeers, ValidatorCount) and Handlers (ValidateTx, OnTxs,
//     OnConsensus, Blocks), then call New. Name peers with PeerIDFromKey.
//  2. Call SetValidators with the peer ids of the validator set: consensus
//     streams are opened to, and accepted from, validators only, and block
//     sync serves validators only.
//  3. Gossip txs the mempool accepted with PublishTxs; receive peers' txs in
//     OnTxs after ValidateTx passed them. Return errors wrapping ErrInvalid
//     (or ledger's stateless tx errors) from ValidateTx for provably invalid
//     txs, so gossipsub's peer score punishes the sender.
//  4. Send signed consensus messages with SendConsensus and
//     BroadcastConsensus; receive them in OnConsensus (one goroutine, peers
//     served in turn). Signatures are the engine's job, not this package's.
//  5. Catch up with StatusOf and FetchBlocks, then verify each
//     SyncedBlock's certificate against the validator set before applying.
//  6. Call Penalize when a peer sent garbage; Close on shutdown.
//
// p2p imports ledger, crypto and libp2p; it must never import consensus,
// mempool, rpc or node.
package p2p
