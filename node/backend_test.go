package node

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/rpc"
)

// TestAdmissionFailureIsInternalNotARefusal: when the node fails to admit
// a wallet's tx for a reason of its own (the journal's fsync, a state
// read), the wallet gets an internal error without the failure's details,
// not a tx rejection (-32000) it would take for the tx's fault while the
// tx may be pending; refusals keep their errors. Method: the errors
// ingress and the mempool give, through rpcError.
func TestAdmissionFailureIsInternalNotARefusal(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("store tx durably: %w", errors.New("write /home/op/.synod/data/mempool/txs.journal: no space left on device")),
		fmt.Errorf("mempool: read account %s: %w", crypto.Address{1}, errors.New("pebble: I/O error in /home/op/.synod/data/ledger")),
	} {
		var got *rpc.Error
		if !errors.As(rpcError(err), &got) || got.Code != rpc.CodeInternal {
			t.Errorf("%v answered as %v, want code %d", err, rpcError(err), rpc.CodeInternal)
			continue
		}
		if strings.Contains(got.Message, "/home") {
			t.Errorf("the answer shows the node's paths: %q", got.Message)
		}
	}
	for _, refusal := range []error{errIngressClosed, fmt.Errorf("%w: node busy", rpc.ErrMempoolFull)} {
		if got := rpcError(refusal); got != refusal {
			t.Errorf("refusal %v answered as %v", refusal, got)
		}
	}
}
