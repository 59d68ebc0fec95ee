package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

func TestBatchCallRefusedBatchFailsOverBothTransports(t *testing.T) {
	// Goal: a batch the server refuses as a whole (over its item limit)
	// ends BatchCall with the server's error on WebSocket as on HTTP,
	// rather than leaving it waiting for replies that never come; method:
	// one call more than BatchItemsMax, with a deadline that only a hang
	// reaches.
	n := newNode(t)
	for name, c := range clients(t, n) {
		calls := make([]client.BatchElem, rpc.DefaultConfig().BatchItemsMax+1)
		for i := range calls {
			calls[i] = client.BatchElem{Method: "synod_blockNumber"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := c.BatchCall(ctx, calls)
		cancel()
		if client.ErrorCode(err) != rpc.CodeInvalidRequest {
			t.Errorf("%s: BatchCall of a refused batch: err = %v, want code %d", name, err, rpc.CodeInvalidRequest)
		}
	}
}
