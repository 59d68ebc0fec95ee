// Package ledger owns what a Synod chain is made of and how it changes:
// transactions, blocks, commit certificates, the validator set and the
// genesis document; their one canonical binary encoding; the account state
// machine with its incremental state root; and the Pebble store that keeps
// it all on disk.
//
// Every decoder here takes bytes from the outside world (peers, wallets,
// files): each has a hard size limit, returns an error on any malformed
// input, never panics, and has a fuzz target.
//
// ledger imports crypto and the standard library (and Pebble for the
// store); it must never import consensus, p2p, rpc or node.
package ledger
