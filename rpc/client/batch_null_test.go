package client_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/rpc/client"
)

// fakeServer answers every HTTP request and WebSocket message with body.
func fakeServer(t *testing.T, body string) (httpURL, wsURL string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			if _, _, err := ws.Read(r.Context()); err != nil {
				return
			}
			if err := ws.Write(r.Context(), websocket.MessageText, []byte(body)); err != nil {
				return
			}
		}
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String(), "ws://" + l.Addr().String() + "/ws"
}

func TestBatchCallNullResponseItemIsAnErrorNotAPanic(t *testing.T) {
	// Goal: a server (buggy or hostile) whose batch answer holds a null
	// item cannot crash the client; the calls it did not answer report
	// so. Method: a fake server that answers every batch with [null].
	httpURL, wsURL := fakeServer(t, `[null]`)
	for _, url := range []string{httpURL, wsURL} {
		c, err := client.Dial(ctxT(t), url)
		if err != nil {
			t.Fatal(err)
		}
		calls := []client.BatchElem{{Method: "synod_blockNumber"}, {Method: "synod_blockNumber"}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.BatchCall(ctx, calls)
		cancel()
		c.Close()
		if err == nil && (calls[0].Error == nil || calls[1].Error == nil) {
			t.Errorf("%s: BatchCall answered by [null]: err %v, call errors %v %v", url, err, calls[0].Error, calls[1].Error)
		}
	}
}
