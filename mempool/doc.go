// Package mempool owns the node's pending transactions: signed txs that
// passed every check against the committed state and wait to be ordered
// into a block. It enforces the pool's limits (txs, bytes, txs per sender,
// how far a nonce may run ahead of its account), deduplicates by hash and
// by (sender, nonce), applies the fee-bump rule for replacements, evicts
// the cheapest tails when full (a tx waiting behind a nonce gap counts as
// paying nothing, as its fee is paid only if its gap fills: it outbids no
// one, and every executable tx that pays outbids it), reaps executable
// txs for the primary in fee-priority order with each sender's nonces in
// order, rechecks after every committed block, and hands out txs that are
// due for re-gossip.
//
// # Usage
//
// One Mempool is shared by the RPC handlers, the gossip validator and the
// node loop; every method is safe for concurrent use. The node's duties:
//
//  1. Feed it: Add every tx from a wallet (synod_sendRawTransaction) or a
//     peer (the gossip topic validator). Add verifies the signature before
//     it takes the pool's lock, so callers need not batch; a tx the pool
//     or the sender's account surely refuses is turned away before its
//     signature (RefusedBeforeSignature).
//  2. Build: the primary passes Reap's output to ledger.PendingChain.Build
//     as candidates. Reap removes nothing: a tx leaves the pool only when a
//     committed block includes it (or a later check drops it).
//  3. Commit: after ledger.Store.ApplyBlock, call Update with the block's
//     txs and the committed state, in commit order, from the node loop.
//     Every committed block must be passed; blocks applied in bulk (block
//     sync) may be passed as one concatenated slice of their txs.
//  4. Re-gossip: call ForRebroadcast periodically with the current logical
//     time and publish what it returns. The pool never reads a clock.
//
// # Invariants
//
// For every sender with pending txs, against the account the pool last
// read for it: every pending nonce is at least the account nonce and at
// most NonceAheadMax above it, and the sum of the costs (amount plus fee)
// of all its pending txs is at most its balance. The second makes every
// contiguous run of nonces from the account nonce executable in one block,
// whatever else it holds, so Reap never returns a tx that BuildBlock must
// skip on the committed state. Eviction removes a sender's highest nonce
// first, so it never opens a nonce gap.
//
// A sender whose account could not be read after a block that committed
// its txs is stale (see Update): its txs above the nonces the block used
// stay pending against the older account, but none is reaped, counted
// executable or expired until a later read of the account succeeds.
//
// # Costs
//
// With n pending txs from s senders and p <= PerSenderTxsMax (a config
// constant, at most PerSenderTxsCeiling) per sender: Add is O(log n +
// log s + p) under the lock (map, two heaps, an insert into a sorted
// slice), after an O(1) signature check outside it; eviction adds
// O(log s) per victim. Update is O(log s + p) per committed tx, plus an
// account read and O(log s + p) per stale sender it retries (at most
// staleRetrySendersMax). Reap of k txs is O(k log k), without touching
// the senders it does not take from.
// ForRebroadcast is O(returned plus the txs added since the last call).
// Every structure is bounded by TxsMax.
//
// Rejections are distinct errors (sentinels here, or ledger's ErrTx*) that
// callers test with errors.Is to pick a JSON-RPC code; the message says
// what was wrong with the tx.
//
// mempool imports ledger, crypto and the standard library only. It must
// never import consensus, p2p, rpc or node: they call it, through the node.
package mempool
