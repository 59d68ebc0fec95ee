package node

import (
	"errors"
	"testing"

	"github.com/synod-chain/synod/consensus/pbft"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// TestCertVerifierRemembersOnlyWhatVerified checks the memory shared by
// block sync and the replica: a certificate that verified is found again,
// a spoiled copy of it is verified (and refused) every time, and neither
// a refused certificate nor one checked against another validator set is
// remembered.
func TestCertVerifierRemembersOnlyWhatVerified(t *testing.T) {
	net := newCatchUpNet(t, 4)
	chain := syncedChain(t, net, 2, 4, nil)
	vals, err := net.genesis.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	v := certVerifier{pbft.Ed25519Verifier{Validators: vals, ChainID: net.genesis.ChainID}, ledger.NewSigCache(16), nil}
	good := chain[0].Certificate
	if n, err := v.verifyBlocks(chain[:1]); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if v.verified.Len() != 1 {
		t.Fatalf("%d certificates remembered, want 1", v.verified.Len())
	}
	if n, err := v.verifyBlocks([]p2p.SyncedBlock{{Block: chain[1].Block, Certificate: good}}); n != 0 || !errors.Is(err, ledger.ErrCertWrongBlock) {
		t.Fatalf("a remembered certificate passed for another block: %v", err)
	}
	spoiled := *good
	spoiled.Signatures = append([]ledger.CommitSignature(nil), good.Signatures...)
	spoiled.Signatures[0].Signature[5] ^= 1
	for range 2 {
		if err := v.VerifyCertificate(&spoiled, vals); err == nil {
			t.Fatal("a spoiled copy of a remembered certificate verified")
		}
	}
	other, err := net.genesis.ValidatorSet() // equal, but not the verifier's
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyCertificate(chain[1].Certificate, other); err != nil {
		t.Fatal(err)
	}
	if v.verified.Len() != 1 {
		t.Fatalf("%d certificates remembered, want 1", v.verified.Len())
	}
}
