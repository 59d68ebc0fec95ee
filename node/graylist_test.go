package node

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/p2p"
)

// TestNodeGraylistsInvalidTxFlooder connects an outside libp2p host to a
// running validator and floods it with well-formed txs carrying bad
// signatures, while wallets submit honest txs: the validator's gossip score
// for the flooder falls below the graylist threshold, and every honest tx
// still commits.
func TestNodeGraylistsInvalidTxFlooder(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	ln := newLocalNet(t, 4, 5) // wallets 0-3 honest; 4 is forged
	all := []int{0, 1, 2, 3}
	for _, i := range all {
		ln.start(i)
	}
	ln.waitFor("height 1 on every node", 30*time.Second, func() bool { return minOf(ln.heights(all...)) >= 1 })

	victim := ln.node(0)
	attackerKey, err := crypto.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attacker := startTestHost(t, ln.genesis.ChainID, attackerKey, victim.host, p2p.Handlers{}) // accepts its own garbage
	defer attacker.Close()
	ln.waitFor("the attacker to join the tx topic", 20*time.Second, func() bool {
		for _, p := range victim.host.TxTopicPeers() {
			if p == attacker.ID() {
				return true
			}
		}
		return false
	})

	// The forger's account is funded and its nonces in the window, so the
	// pool gets as far as the signatures: txs their account refuses are
	// turned away before them, at no cost worth a penalty.
	forger, honestWallets := ln.wallets[4], ln.wallets[:4]
	var honest []crypto.Hash
	deadline := time.Now().Add(30 * time.Second)
	graylisted := false
	for round := 0; time.Now().Before(deadline) && !graylisted; round++ {
		var junk []*ledger.Tx
		for j := 0; j < 20; j++ {
			tx := &ledger.Tx{ChainID: ln.genesis.ChainID, Nonce: uint64(j), To: forger.Public().Address(), Amount: uint64(round + 1), Fee: 1}
			tx.Sign(forger)
			tx.Signature[0] ^= 0xff // provably invalid
			junk = append(junk, tx)
		}
		if err := attacker.PublishTxs(junk); err != nil {
			t.Fatalf("attacker publish: %v", err)
		}
		if round < 5 {
			for w, key := range honestWallets {
				tx := &ledger.Tx{ChainID: ln.genesis.ChainID, Nonce: uint64(round), To: honestWallets[(w+1)%len(honestWallets)].Public().Address(), Amount: 1, Fee: 1}
				tx.Sign(key)
				if err := (backend{ln.node(w % 4)}).SubmitTx(tx); err != nil {
					t.Fatalf("honest submit: %v", err)
				}
				honest = append(honest, tx.Hash())
			}
		}
		time.Sleep(100 * time.Millisecond)
		score, ok := victim.host.TxPeerScores()[attacker.ID()]
		graylisted = ok && score < p2p.TxGraylistThreshold
	}
	if !graylisted {
		t.Fatalf("flooder not graylisted; scores %v", victim.host.TxPeerScores())
	}
	ln.waitFor("every honest tx committed on every node", 30*time.Second, func() bool {
		for _, i := range all {
			for _, h := range honest {
				if _, _, err := ln.node(i).store.TxLocation(h); err != nil {
					return false
				}
			}
		}
		return true
	})
	assertSameChain(t, ln, all)
}
