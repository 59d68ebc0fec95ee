package pbft_test

import (
	"slices"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
)

// certMutations returns a valid certificate and spoiled copies of it, each
// named, covering every check of VerifyCommitCertificate.
func certMutations(good *ledger.CommitCertificate) map[string]*ledger.CommitCertificate {
	cp := func(f func(c *ledger.CommitCertificate)) *ledger.CommitCertificate {
		c := *good
		c.Signatures = append([]ledger.CommitSignature(nil), good.Signatures...)
		f(&c)
		return &c
	}
	out := map[string]*ledger.CommitCertificate{"valid": cp(func(*ledger.CommitCertificate) {})}
	for i := range good.Signatures {
		out["bad signature "+string(rune('0'+i))] = cp(func(c *ledger.CommitCertificate) { c.Signatures[i].Signature[5] ^= 1 })
	}
	out["other view"] = cp(func(c *ledger.CommitCertificate) { c.View++ })
	out["other height"] = cp(func(c *ledger.CommitCertificate) { c.Height++ })
	out["other block"] = cp(func(c *ledger.CommitCertificate) { c.BlockHash[0] ^= 1 })
	out["below quorum"] = cp(func(c *ledger.CommitCertificate) { c.Signatures = c.Signatures[1:] })
	out["swapped order"] = cp(func(c *ledger.CommitCertificate) { c.Signatures[0], c.Signatures[1] = c.Signatures[1], c.Signatures[0] })
	out["duplicate signer"] = cp(func(c *ledger.CommitCertificate) { c.Signatures[1] = c.Signatures[0] })
	out["unknown signer"] = cp(func(c *ledger.CommitCertificate) { c.Signatures[len(c.Signatures)-1].Validator = 9 })
	out["signature moved to another signer"] = cp(func(c *ledger.CommitCertificate) {
		// Give the last signature to the validator missing from the
		// certificate, keeping the indices ascending.
		missing := uint16(0)
		for _, s := range c.Signatures {
			if s.Validator == missing {
				missing++
			}
		}
		c.Signatures[len(c.Signatures)-1].Validator = missing
		slices.SortFunc(c.Signatures, func(a, b ledger.CommitSignature) int { return int(a.Validator) - int(b.Validator) })
	})
	return out
}

// TestCertificateVerifierAgreesWithOneByOne checks that Ed25519Verifier's
// batched certificate check, which catch-up uses, accepts and refuses
// exactly what VerifyCommitCertificate does, on a real certificate and on
// each way of spoiling it.
func TestCertificateVerifierAgreesWithOneByOne(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, ed25519: true})
	c.tickUntil(50, c.allCommitted(2, 0, 1, 2, 3))
	good := c.committedAt(0, 2).Certificate
	v := pbft.Ed25519Verifier{Validators: c.vals, ChainID: c.chainID}
	for name, cert := range certMutations(good) {
		one := pbft.VerifyCommitCertificate(cert, c.vals, v)
		batch := v.VerifyCertificate(cert, c.vals)
		if (one == nil) != (batch == nil) {
			t.Errorf("%s: one by one says %v, batched says %v", name, one, batch)
		}
		if (name == "valid") != (batch == nil) {
			t.Errorf("%s: batched verdict %v", name, batch)
		}
	}
}

// TestDeliverCommittedRefusesSpoiledCertificates checks catch-up with real
// signatures: a replica that missed two heights refuses the next block
// under each spoiled certificate, commits nothing, and accepts it with the
// real one.
func TestDeliverCommittedRefusesSpoiledCertificates(t *testing.T) {
	c := newCluster(t, clusterOpts{n: 4, ed25519: true})
	c.manualCatchUp = true
	c.drop = func(e envelope) bool { return e.to == 3 || e.from == 3 }
	c.tickUntil(100, c.allCommitted(2, 0, 1, 2))
	first := c.committedAt(0, 1)
	for name, cert := range certMutations(first.Certificate) {
		if name == "valid" {
			continue
		}
		if err := c.reps[3].DeliverCommitted(first.Block, cert); err == nil {
			t.Fatalf("%s: accepted", name)
		}
		c.flush(3)
		if c.committedLen(3) != 0 {
			t.Fatalf("%s: a block was committed", name)
		}
	}
	for h := uint64(1); h <= 2; h++ {
		cb := c.committedAt(0, h)
		if err := c.reps[3].DeliverCommitted(cb.Block, cb.Certificate); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		c.flush(3)
	}
	if got := c.committedAt(3, 2).Block.Hash(); got != c.committedAt(0, 2).Block.Hash() {
		t.Fatal("replica 3 committed another block at height 2")
	}
}

// BenchmarkVerifyCommitCertificate compares a 3-of-4 certificate checked
// signature by signature with the batched check catch-up uses.
func BenchmarkVerifyCommitCertificate(b *testing.B) {
	c := newCluster(b, clusterOpts{n: 4, ed25519: true})
	c.tickUntil(50, c.allCommitted(1, 0, 1, 2, 3))
	cert := c.committedAt(0, 1).Certificate
	v := pbft.Ed25519Verifier{Validators: c.vals, ChainID: c.chainID}
	b.Run("one-by-one", func(b *testing.B) {
		for b.Loop() {
			if err := pbft.VerifyCommitCertificate(cert, c.vals, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			if err := v.VerifyCertificate(cert, c.vals); err != nil {
				b.Fatal(err)
			}
		}
	})
}
