package node

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// TestWalletTransfersOverRPC is the wallet's end-to-end path on a
// 4-validator network: two new wallets, one funded from a genesis account,
// then 100 transfers between them, each signed locally, submitted to a
// node in turn over JSON-RPC and awaited over WebSocket until committed;
// finally every node reports the same balances and nonces.
func TestWalletTransfersOverRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	ln := newLocalNet(t, 4, 1)
	all := []int{0, 1, 2, 3}
	for _, i := range all {
		ln.start(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clients := make([]*client.Client, 4)
	for i := range clients {
		wsURL, err := client.WebSocketURL(ln.nodes[i].RPC)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Dial(ctx, wsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	alice, _ := crypto.GenerateKey(rand.Reader)
	bob, _ := crypto.GenerateKey(rand.Reader)
	var lastHeight uint64
	send := func(c *client.Client, from crypto.PrivateKey, to crypto.Address, amount, fee uint64) *rpc.Transaction {
		t.Helper()
		// Read-your-writes across nodes: this node must have applied the
		// block of the previous transfer (committed at another node)
		// before its pending nonce can count it.
		for {
			h, err := c.BlockNumber(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if h >= lastHeight {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		nonce, err := c.Nonce(ctx, from.Public().Address(), rpc.NoncePending)
		if err != nil {
			t.Fatal(err)
		}
		tx := &ledger.Tx{ChainID: ln.genesis.ChainID, Nonce: nonce, To: to, Amount: amount, Fee: fee}
		tx.Sign(from)
		h, err := c.SendTransaction(ctx, tx)
		if err != nil {
			t.Fatalf("send nonce %d: %v", nonce, err)
		}
		receipt, err := c.WaitForTx(ctx, h)
		if err != nil || receipt.Status != "committed" {
			t.Fatalf("wait for %s: %v %+v", h.Short(), err, receipt)
		}
		if receipt.Height != nil {
			lastHeight = *receipt.Height
		}
		return receipt
	}
	send(clients[0], ln.wallets[0], alice.Public().Address(), 1_000_000, 1)
	var amounts uint64
	for i := 0; i < 100; i++ {
		amount := uint64(100 + i)
		send(clients[i%4], alice, bob.Public().Address(), amount, 2)
		amounts += amount
	}
	// The last receipt came from one node; the others may be a block
	// behind: check at the highest head any node reports.
	var head uint64
	for _, c := range clients {
		h, err := c.BlockNumber(ctx)
		if err != nil {
			t.Fatal(err)
		}
		head = max(head, h)
	}
	ln.waitFor("every node at the same height", 30*time.Second, func() bool { return minOf(ln.heights(all...)) >= head })
	for i, c := range clients {
		aBal, err1 := c.Balance(ctx, alice.Public().Address(), rpc.AtHeight(head))
		bBal, err2 := c.Balance(ctx, bob.Public().Address(), rpc.AtHeight(head))
		aNonce, err3 := c.Nonce(ctx, alice.Public().Address(), rpc.NonceLatest) // nothing pending: no later block changes it
		if err := firstErr(err1, err2, err3); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if aBal != 1_000_000-amounts-100*2 || bBal != amounts || aNonce != 100 {
			t.Fatalf("node %d: alice %d (nonce %d), bob %d; want %d (100), %d", i, aBal, aNonce, bBal, 1_000_000-amounts-200, amounts)
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// TestNodeKeepsCommittingUnderRPCFlood hammers one node's RPC with many
// concurrent clients (bounded in count and time, loopback only) sending
// reads and malformed requests, and checks the network keeps committing
// and a wallet's tx still gets through.
func TestNodeKeepsCommittingUnderRPCFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	ln := newLocalNet(t, 4, 1)
	all := []int{0, 1, 2, 3}
	for _, i := range all {
		ln.start(i)
	}
	ln.waitFor("height 1", 30*time.Second, func() bool { return minOf(ln.heights(all...)) >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var requests atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client.NewHTTP(ln.nodes[0].RPC, nil)
			for ctx.Err() == nil {
				switch requests.Add(1) % 3 {
				case 0:
					_, _ = c.Status(ctx)
				case 1:
					_, _ = c.BlockByNumber(ctx, rpc.BlockTag{Latest: true}, true)
				default:
					_, _ = c.SendRawTransaction(ctx, []byte("not a transaction"))
				}
			}
		}()
	}
	before := minOf(ln.heights(all...))
	time.Sleep(3 * time.Second)
	tx := &ledger.Tx{ChainID: ln.genesis.ChainID, To: ln.wallets[0].Public().Address(), Amount: 1, Fee: 1}
	tx.Sign(ln.wallets[0])
	c := client.NewHTTP(ln.nodes[0].RPC, nil)
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if _, err := c.SendTransaction(wctx, tx); err != nil {
		t.Fatalf("wallet tx during the flood: %v", err)
	}
	ln.waitFor("the wallet's tx committed during the flood", 30*time.Second, func() bool {
		_, _, err := ln.node(0).store.TxLocation(tx.Hash())
		return err == nil
	})
	after := minOf(ln.heights(all...))
	cancel()
	wg.Wait()
	if after < before+2 {
		t.Fatalf("only %d heights committed under the flood", after-before)
	}
	t.Logf("%d requests in the flood; heights %d → %d", requests.Load(), before, after)
}
