package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/rpc/client"
)

// sameIDServer answers every WebSocket request with the subscription id
// "0x1" and hangs up after the second.
func sameIDServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for range 2 {
			_, data, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			var req struct{ ID json.RawMessage }
			_ = json.Unmarshal(data, &req)
			reply := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":"0x1"}`, req.ID)
			if ws.Write(r.Context(), websocket.MessageText, []byte(reply)) != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "ws://" + l.Addr().String() + "/ws"
}

func TestSubscriptionIDInUseIsRefused(t *testing.T) {
	// Goal: a server that answers a subscribe with an id already in use
	// cannot orphan the first subscription (never delivered to, never
	// closed, so a caller ranging over it hangs for good): the second
	// subscribe fails, and the first ends when the connection goes.
	// Method: a server that answers "0x1" twice, then hangs up.
	c, err := client.DialWebSocket(ctxT(t), sameIDServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.SubscribeNewBlocks(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscribeNewBlocks(ctxT(t)); !errors.Is(err, client.ErrWrongAnswer) {
		t.Errorf("second subscription with the same id: %v", err)
	}
	select {
	case _, ok := <-first.C:
		if ok {
			t.Fatal("a notification from a server that sent none")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first subscription outlived its connection")
	}
}
