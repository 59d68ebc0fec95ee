// Package node turns the engine and the ledger into a running validator. It
// is the only room that knows every other one: it loads the node home
// (config, genesis, keys), opens the store, starts the p2p host, the
// mempool and the JSON-RPC server, and drives the consensus engine in one
// loop — persist and fsync, send, apply committed blocks, advance — with
// timers turned into Ticks. It also serves metrics and shuts down
// gracefully.
package node
