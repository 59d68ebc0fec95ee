package rpc_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/rpctest"
)

// brokenDisk is a backend whose account reads fail as a disk does, naming
// the node's files.
type brokenDisk struct{ *rpctest.Backend }

const diskFailure = "read /home/op/.synod/data/ledger/000123.sst: input/output error"

func (brokenDisk) GetAccount(crypto.Address) (ledger.Account, error) {
	return ledger.Account{}, errors.New(diskFailure)
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestInternalErrorsShowNoInternals(t *testing.T) {
	// Goal: a backend failure is answered as an internal error that says
	// what failed but not why (the why can name the node's files and
	// internals), and the why goes to the node's log; method: a backend
	// whose account reads fail, a logger into a buffer.
	f := newChain(t)
	var logged lockedBuffer
	srv := rpc.NewServer(rpc.Config{}, brokenDisk{f.backend}, slog.New(slog.NewTextHandler(&logged, nil)))
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	r := call(t, hs.URL, "synod_getBalance", rpctest.Address(0).String())
	if r.Error == nil || r.Error.Code != rpc.CodeInternal || !strings.Contains(r.Error.Message, "account") {
		t.Fatalf("balance on a broken disk: %s %+v", r.Result, r.Error)
	}
	if strings.Contains(r.Error.Message, "/home") || strings.Contains(r.Error.Message, "input/output") {
		t.Errorf("the answer shows the node's internals: %q", r.Error.Message)
	}
	if !strings.Contains(logged.String(), diskFailure) {
		t.Errorf("the node's log lacks the failure: %q", logged.String())
	}
}
