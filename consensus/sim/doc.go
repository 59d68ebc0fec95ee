// Package sim is a deterministic simulator for the PBFT engine: a
// single-threaded network of replicas built from the real consensus/pbft
// code over ledger.PendingChain and ledger.MemState, driven by a seeded
// *rand.Rand and a simulated millisecond clock. The same scenario and seed
// always produce the same run.
//
// # What it owns
//
//   - Network (network.go): message delay, reordering, loss, duplication
//     and partitions that change over time until GST, after which every
//     message arrives within DeltaMs; crash and restart from persisted
//     records (optionally in the middle of a Ready: persisted, not sent, not
//     applied); the block sync answer to catch-up requests; client
//     transactions submitted to every node.
//   - Byzantine behaviours (byzantine.go) that wrap an honest replica and
//     rewrite what it sends: silent, equivocating primary, invalid
//     proposals, votes for wrong digests, replay of old messages; and Twins
//     (two nodes running the real code with one key).
//   - Scenario (scenario.go): a run as data (JSON), random ones drawn from a
//     seed by RandomScenario, Twins ones stored in testdata/.
//   - Invariants, checked on every commit: no two correct replicas commit
//     different blocks at one height; every committed block carries a valid
//     quorum certificate for exactly that block and extends the replica's
//     chain; balances are conserved. Checked on every message a correct
//     replica sends (promises.go): it never signs two digests for one
//     (view, height) vote, even across a restart, and its VIEW-CHANGE
//     carries a certificate at every height it sent COMMIT for. After GST, with at most f faulty, every
//     correct replica must commit Heights more heights and every submitted
//     tx must be committed within LivenessBudgetMs.
//
// # Running
//
//	go test ./consensus/sim                      # 10,000 random scenarios, summary line
//	go test -short ./consensus/sim               # 2,000 (for -race in CI)
//	go test ./consensus/sim -run Soak -soak=1000000
//	go test ./consensus/sim -run TestReplaySeed -seed=N -v   # replay a failure
//
// A failing scenario prints its seed and the replay command.
package sim
