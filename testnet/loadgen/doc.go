// Package loadgen drives a Synod network with signed transfers at a fixed,
// open-loop rate and measures what the network does with them: how many
// it acknowledges, rejects (by JSON-RPC code) and commits, how long each
// takes from submission to commit, and how many acknowledged txs never
// commit. `synod bench` and the end-to-end chaos test use it.
//
// Usage:
//
//  1. Build a Config: the nodes' RPC URLs, the rate, the duration and the
//     funded keys (LoadKeystore reads a testnet's wallets).
//  2. New checks it; Prepare reads each account's pending nonce and
//     balance, signs every tx up front, so the generator's own signing
//     never limits the rate it can offer, and refuses an account whose
//     balance does not cover its txs.
//  3. Run submits on a schedule by time (never waiting for a reply before
//     sending the next; at most Config.InFlightMax requests at once, each
//     of up to Config.BatchTxs txs, a short one waiting up to
//     Config.BatchWait for more to fall due; a tx that cannot be sent
//     within Config.SendLagMax of its slot is counted as unsent and its
//     nonce is kept for the next one), follows committed
//     blocks over a WebSocket newBlocks subscription, reading every height
//     in order so a missed notification loses nothing, and returns a
//     Result once every acknowledged tx committed or Config.Grace passed.
//  4. Acknowledged and Committed expose the hashes for invariant checks.
//
// It talks to nodes through rpc/client only; it never imports node, p2p
// or consensus code.
package loadgen
