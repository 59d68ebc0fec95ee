// Package pbft implements the PBFT replica of Castro and Liskov ("Practical
// Byzantine Fault Tolerance", OSDI 1999; TOCS 2002), signed-message variant,
// as a deterministic state machine with no I/O, shaped like etcd raft's
// RawNode.
//
// # What it owns
//
//   - Replica: the normal case (normal.go, §4.2) with hash-chained,
//     pipelined heights inside the window [low, low+W); checkpoints and
//     garbage collection (checkpoint.go, §4.3); view changes with the
//     chained selection rule (viewchange.go, selection.go, §4.4-4.5);
//     double-sign protection and restart from persisted records
//     (persist.go); evidence of misbehaviour (evidence.go); the catch-up
//     hook (catchup.go).
//   - Message and its canonical binary encoding with a size limit
//     (MessageBytesMax) and a decoder that never panics (encoding.go).
//   - Signer/Verifier: ed25519 for production, a keyed hash for the
//     simulator, no-ops for benchmarks (signer.go). COMMIT is signed over
//     exactly ledger.CommitVoteBytes, so the COMMITs a replica collects are a
//     ledger.CommitCertificate.
//
// Quorums are ledger.ValidatorSet.Quorum() (floor((n+f)/2)+1, which is 2f+1
// for n = 3f+1), never a hard-coded 2f+1.
//
// Files in this package must never import net, os, time (other than
// time.Duration in Config), sync, math/rand or a libp2p package: the node
// owns the network, the disk and the clock; time enters only through Tick,
// blocks only through the Application.
//
// # Usage
//
// Build a Replica with NewReplica (Config.Records holds the persisted
// records to restart from; Config.Head the application's committed head).
// One goroutine drives it:
//
//   - call Tick(now) at a fixed interval (Config.TickInterval), now being
//     the node's clock in Unix milliseconds (used only as the timestamp of
//     blocks this replica proposes); the primary asks its Application for a
//     block on Tick when the window has room, and a replica asks it again
//     for a proposal it had no room to validate (ledger.ErrPendingChainFull:
//     a limit of this node, never held against the primary);
//   - call Step for every message received from a peer (decoded with
//     Decode); it verifies the sender and the signature first;
//   - call DeliverCommitted with blocks and certificates fetched in answer
//     to an EventCatchUp.
//
// After any of these, while HasReady reports true, take Ready and do, in
// this order:
//
//  0. If Ready.Fault is set, stop: this node's own state failed while the
//     Application checked or built a block (ledger.ErrLocalState), and the
//     replica has halted. Handle nothing of the batch; log the fault and
//     stop the node (fail-stop). A local fault is never evidence against a
//     peer.
//  1. Append every record of Ready.Persist to durable storage and fsync it.
//     This MUST complete before any message of the same Ready is sent: the
//     records are the replica's promises (votes, view changes, prepared
//     certificates), and sending first could make it sign two conflicting
//     votes after a crash.
//  2. Send every message of Ready.Messages (To is a validator index, or
//     Broadcast for every other validator).
//  3. Apply every block of Ready.Committed in order: commit it in the
//     application (PendingChain.Commit) and store it with its certificate.
//  4. Act on Ready.Events: fetch blocks for EventCatchUp, record evidence,
//     log view changes and stable checkpoints. Optionally replace the
//     stored records with CompactRecords after an EventCheckpointStable.
//  5. Call Advance.
package pbft
