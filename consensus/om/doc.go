// Package om implements the Oral Messages algorithm OM(m) of Lamport, Shostak
// and Pease ("The Byzantine Generals Problem", 1982) and interactive
// consistency built from it, as pure deterministic state machines.
//
// # What it owns
//
//   - Node: one OM(m) instance seen from one node (commander or lieutenant).
//     Its state is an EIG tree keyed by message path: the path of a message is
//     the sequence of node ids it was relayed through, commander first, so the
//     paper's recursion OM(m) → OM(m-1) → … → OM(0) is explicit in the data.
//   - Interactive: n instances run side by side, one per commander, giving
//     every loyal node the same vector of claimed values (IC1) in which each
//     loyal node's entry is its real value (IC2), provided n > 3m.
//   - Message and its compact binary encoding (Decode, AppendEncode) with a
//     size limit (MessageBytesMax).
//   - Strategy and the traitor strategies (split, lie, silent, collude,
//     random) used by the simulator and by tests.
//   - Network, VectorNetwork and Simulate: a synchronous-round simulator that
//     reports each loyal decision, whether IC1 and IC2 hold and the message
//     count; same scenario and seed, same report.
//
// The state machines do no I/O, start no goroutines, read no clock and use no
// global randomness; a traitor strategy gets its randomness as an injected
// *rand.Rand. Files in this package must never import net, os, time, sync or
// a libp2p package: the node owns the network and the clock, and signs and
// authenticates messages (signed envelopes); this package only checks the
// paths and values inside them.
//
// # Rounds
//
// OM(m) assumes synchronous rounds (the paper's assumption A3: the absence
// of a message can be detected). Round r carries the messages whose path has
// r ids; there are Rounds() = m+1 of them. The first Tick starts round 1, in
// which the commander sends; the Tick that starts round r+1 makes each
// lieutenant relay what it holds for every path of length r; the Tick after
// round m+1 closes the last round and the node decides. A message that did
// not arrive before the Tick that closes its round counts as the default
// value (RETREAT, the empty value), exactly as the paper prescribes.
//
// # Usage
//
// The caller (the node, or the simulator in this package) drives a Node or an
// Interactive from one goroutine and has these duties:
//
//  1. Build it with the same Nodes, Faults and Instance on every validator,
//     and the same numbering of validators (ids 0..n-1). For interactive
//     consistency on checkpoints, Instance is the checkpoint height.
//  2. Call Tick once per synchronous round, on every node at the same logical
//     round. A round must outlast the worst message delay: anything that
//     arrives after the next Tick is late and is rejected with ErrRoundLate.
//  3. After each Tick, send every message of Outbox to its To before the next
//     Tick. The returned messages, their paths and values are owned by the
//     state machine and valid only until the next Tick: encode them
//     (AppendEncode) at once and do not modify them.
//  4. For every message received: authenticate the envelope and check that
//     its signer is the message's From (assumption A2: the receiver knows who
//     sent a message), then Decode and Step it. A message rejected with
//     ErrRoundEarly came from a peer that ticked first: keep it (bounded) and
//     Step it again after the next Tick. Every other error means a malformed
//     or equivocating message: drop it, and keep it as evidence if wanted.
//  5. After Rounds()+1 ticks Done reports true: read Decision (Node) or
//     Vector (Interactive). Those slices are owned by the state machine and
//     must not be modified.
package om
