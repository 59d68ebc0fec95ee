// Package rpc owns Synod's JSON-RPC 2.0 API for wallets and tools: the
// server (HTTP POST on "/", WebSocket on "/ws", a plain "/health" and an
// optional "/metrics" mounted beside it), the wire types of every method,
// the error codes, and the Backend interfaces a node implements to serve
// it. The Go client lives in rpc/client; rpc/rpctest holds a deterministic
// in-memory backend for tests of the server, the client and the CLI.
//
// # Shape
//
// Methods are grouped in services registered by namespace ("synod_…"),
// each method an explicit function from positional JSON params to a
// result; there is no reflection beyond encoding/json. Errors carry the
// JSON-RPC 2.0 codes, and transaction rejections carry one code each from
// the application range -32000…-32099 (errors.go has the table, README.md
// the same table for wallet authors).
//
// # Limits
//
// Every input is bounded: the request body (Config.RequestBytesMax), the
// items of a batch (BatchItemsMax), WebSocket connections and the
// subscriptions of one connection, the queue of notifications waiting for
// a slow WebSocket reader (a reader that falls behind is disconnected so it
// never holds up block delivery to anyone else), and the time a client may
// take to send its headers and body (slowloris clients are cut off).
//
// rpc imports ledger and crypto; it must never import consensus, p2p or
// node. A mempool's errors reach it through the RPCCoder hook or the
// sentinels in errors.go, so rpc needs no mempool import either.
package rpc
