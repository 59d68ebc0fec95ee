package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"

	"github.com/synod-chain/synod/rpc"
)

// fakeNode answers the wallet's JSON-RPC calls with whatever a test
// scripts, to play a buggy or hostile node the real server never is:
// synod_status with status, synod_getNonce with 0, synod_sendRawTransaction
// with sentHash, and a "tx" subscription on /ws whose one notification is
// receipt, sent once the tx has been submitted; with sendErr set,
// synod_sendRawTransaction is answered with that error. With dropSend it reads
// synod_sendRawTransaction and closes the connection without an answer,
// as a node that crashes (or a network that fails) mid-call does.
type fakeNode struct {
	status   rpc.NodeStatus
	dropSend bool
	sendErr  *rpc.Error // if set, synod_sendRawTransaction's answer
	sentHash string
	receipt  json.RawMessage
	sent     chan struct{} // closed by synod_sendRawTransaction
}

func newFakeNode(t *testing.T, status rpc.NodeStatus) (*fakeNode, string) {
	t.Helper()
	n := &fakeNode{status: status, sentHash: "0x" + fmt.Sprintf("%064x", 1), sent: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(srv.Close)
	return n, srv.URL
}

type fakeRequest struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

func (n *fakeNode) answer(req fakeRequest) any {
	var result any
	switch req.Method {
	case "synod_status":
		result = n.status
	case "synod_getNonce":
		result = 0
	case "synod_sendRawTransaction":
		close(n.sent)
		if n.sendErr != nil {
			return map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": n.sendErr}
		}
		result = n.sentHash
	case "synod_subscribe":
		result = "0x1"
	default:
		return map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": rpc.CodeMethodNotFound, "message": req.Method}}
	}
	return map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result}
}

func (n *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws" {
		n.serveWS(w, r)
		return
	}
	var req fakeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n.dropSend && req.Method == "synod_sendRawTransaction" {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(n.answer(req))
}

func (n *fakeNode) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := r.Context()
	_, data, err := conn.Read(ctx)
	if err != nil {
		return
	}
	var req fakeRequest
	if json.Unmarshal(data, &req) != nil {
		return
	}
	reply, _ := json.Marshal(n.answer(req))
	if conn.Write(ctx, websocket.MessageText, reply) != nil {
		return
	}
	select {
	case <-n.sent:
	case <-ctx.Done():
		return
	}
	note, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "synod_subscription",
		"params": rpc.Notification{Subscription: "0x1", Result: n.receipt}})
	_ = conn.Write(ctx, websocket.MessageText, note)
	// Hold the connection until the wallet closes it.
	_, _, _ = conn.Read(ctx)
}
