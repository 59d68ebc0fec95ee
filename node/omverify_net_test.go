package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synod-chain/synod/rpc"
)

// omReportOf asks node i for its report at height h through the RPC
// backend, as synod_omReport does.
func omReportOf(t *testing.T, ln *localNet, i int, h uint64) *OMReport {
	t.Helper()
	got, err := omBackend{backend{ln.node(i)}}.OMReport(rpc.AtHeight(h))
	if err != nil {
		t.Fatalf("node %d: OMReport(%d): %v", i, h, err)
	}
	if got == nil {
		return nil
	}
	return got.(*OMReport)
}

// decidedOMHeights lists the checkpoints node i has a final report for.
func decidedOMHeights(ln *localNet, i int) []uint64 {
	rs := &ln.node(i).driver.om.reports
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var hs []uint64
	for _, h := range rs.order {
		if rs.byHeight[h].Verdict != OMPending {
			hs = append(hs, h)
		}
	}
	return hs
}

// commonDecided is the checkpoints decided on every node of which.
func commonDecided(ln *localNet, which []int) []uint64 {
	hs := decidedOMHeights(ln, which[0])
	for _, i := range which[1:] {
		other := decidedOMHeights(ln, i)
		hs = slices.DeleteFunc(hs, func(h uint64) bool { return !slices.Contains(other, h) })
	}
	return hs
}

func TestNodesOMVerifyCheckpoints(t *testing.T) {
	// Goal: four honest validators with om_verify verify every stable
	// checkpoint over the real p2p layer and hold the same vector; method:
	// run the network until every node decided at least four checkpoints,
	// then read every report through the RPC backend on every node.
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	ln := newLocalNet(t, 4, 2)
	ln.configure = func(_ int, c *Config) { c.OMVerify = true }
	all := []int{0, 1, 2, 3}
	for _, i := range all {
		ln.start(i)
	}
	ln.waitFor("4 checkpoints decided on every node", 90*time.Second, func() bool {
		return len(commonDecided(ln, all)) >= 4
	})
	heights := commonDecided(ln, all)
	for _, h := range heights {
		first := omReportOf(t, ln, 0, h)
		sent := 0
		for _, i := range all {
			r := omReportOf(t, ln, i, h)
			if r.Verdict != OMVerified {
				t.Fatalf("node %d checkpoint %d: verdict %s, claims %+v", i, h, r.Verdict, r.Claims)
			}
			if !slices.Equal(r.Claims, first.Claims) {
				t.Fatalf("checkpoint %d: node %d vector %+v, node 0 %+v", h, i, r.Claims, first.Claims)
			}
			if b, err := ln.node(i).store.BlockByHeight(h); err != nil || r.StateRoot != b.Header.StateRoot {
				t.Fatalf("node %d checkpoint %d: reported root %s is not the block's (%v)", i, h, r.StateRoot, err)
			}
			sent += r.MessagesSent
		}
		if sent != first.MessagesExpected || sent != 36 {
			t.Fatalf("checkpoint %d: %d OM messages sent by the network, want 36", h, sent)
		}
	}
	if latest, err := (omBackend{backend{ln.node(1)}}).OMReport(rpc.Latest); err != nil || latest == nil {
		t.Fatalf("latest report: %v %v", latest, err)
	}
	// Over JSON-RPC, as a wallet or monitor asks.
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"synod_omReport","params":[%d]}`, heights[0])
	resp, err := http.Post("http://"+ln.node(2).cfg.RPC.Listen, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ Result *OMReport }
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil || answer.Result == nil || answer.Result.Verdict != OMVerified || answer.Result.Height != heights[0] {
		t.Fatalf("synod_omReport over RPC: %+v (%v)", answer.Result, err)
	}
	if r := omReportOf(t, ln, 0, heights[0]+1); r != nil {
		t.Fatalf("a report for height %d, which is no checkpoint: %+v", heights[0]+1, r)
	}
	t.Logf("checkpoints verified on every node: %v", heights)
}

func TestNodesOMVerifyAlarmNamesCorruptNode(t *testing.T) {
	// Goal: when one validator claims a wrong state root at checkpoints,
	// every loyal node raises the alarm naming exactly that validator and
	// keeps committing; method: four validators with om_verify, node 3 with
	// the om_corrupt_state hook, read the loyal nodes' reports and heights.
	if testing.Short() {
		t.Skip("multi-node integration test; skipped in -short")
	}
	const bad = 3
	ln := newLocalNet(t, 4, 2)
	ln.configure = func(i int, c *Config) {
		c.OMVerify = true
		c.Testing.OMCorruptState = i == bad
	}
	all := []int{0, 1, 2, 3}
	loyal := without(all, bad)
	for _, i := range all {
		ln.start(i)
	}
	ln.waitFor("3 checkpoints decided on every loyal node", 90*time.Second, func() bool {
		return len(commonDecided(ln, loyal)) >= 3
	})
	heights := commonDecided(ln, loyal)
	for _, h := range heights {
		first := omReportOf(t, ln, loyal[0], h)
		for _, i := range loyal {
			r := omReportOf(t, ln, i, h)
			if r.Verdict != OMAlarm || !slices.Equal(r.Differing, []int{bad}) {
				t.Fatalf("node %d checkpoint %d: verdict %s differing %v, want an alarm naming %d", i, h, r.Verdict, r.Differing, bad)
			}
			if c := r.Claims[bad]; c.Status != OMClaimDiffers || c.StateRoot == r.StateRoot || c.Height != h {
				t.Fatalf("node %d checkpoint %d: claim of %d is %+v", i, h, bad, c)
			}
			if len(r.Evidence) != 1 || r.Evidence[0].Validator != bad || r.Evidence[0].Envelope == "" {
				t.Fatalf("node %d checkpoint %d: evidence %+v", i, h, r.Evidence)
			}
			if !slices.Equal(r.Claims, first.Claims) {
				t.Fatalf("checkpoint %d: node %d vector differs from node %d's", h, i, loyal[0])
			}
		}
	}
	before := minOf(ln.heights(loyal...))
	ln.waitFor("8 more heights after the alarms", 60*time.Second, func() bool {
		return minOf(ln.heights(loyal...)) >= before+8
	})
	assertSameChain(t, ln, all)
	t.Logf("alarms naming validator %d at checkpoints %v", bad, heights)
}
