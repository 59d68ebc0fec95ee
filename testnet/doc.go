// Package testnet runs a local Synod network of real `synod` processes and
// breaks it on purpose: start, stop, kill, pause and resume nodes by PID,
// partition them through each node's loopback admin endpoint, and heal.
// `testnet/run.sh` and `synod testnet …` use it; so does the end-to-end
// chaos test.
//
// It drives the synod binary and talks to nodes over HTTP; it imports no
// consensus, p2p or ledger code.
package testnet
