package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Result is what one run measured. Counts are of txs; latencies are of
// the txs submitted in the measured window (not the warm-up) that were
// acknowledged and committed, from each tx's time in the schedule (so any
// wait in the generator counts) to the moment the block holding it was
// known committed.
type Result struct {
	Start       time.Time `json:"start"`
	RPC         []string  `json:"rpc"`
	ChainID     string    `json:"chainId"`
	Accounts    int       `json:"accounts"`
	TxBytes     int       `json:"txBytes"`
	BatchTxs    int       `json:"batchTxs"`
	BatchWaitMs float64   `json:"batchWaitMs"`
	InFlightMax int       `json:"inFlightMax"`
	Rate        float64   `json:"rate"`
	WarmupSec   float64   `json:"warmupSec"`
	DurationSec float64   `json:"durationSec"`
	GraceSec    float64   `json:"graceSec"`
	ElapsedSec  float64   `json:"elapsedSec"`

	// Planned is the tokens the schedule issued; each was sent or unsent.
	Planned   int `json:"planned"`
	Submitted int `json:"submitted"`
	// Requests counts the HTTP requests that carried them, retries to
	// another node included.
	Requests int `json:"requests"`
	// Resubmitted counts offers of txs again after a node refused them
	// for a passing reason (pool full, sender limit, nonce gap, node
	// unavailable); a tx refused that way on its last offer is rejected.
	Resubmitted int `json:"resubmitted"`
	// Unsent: no request slot free within SendLagMax of the tx's time.
	Unsent       int `json:"unsent"`
	Acknowledged int `json:"acknowledged"`
	Rejected     int `json:"rejected"`
	// RejectedByCode counts rejections by JSON-RPC error code.
	RejectedByCode map[string]int `json:"rejectedByCode"`
	// Failed: no reply, or a reply without a code (transport, timeout).
	Failed int `json:"failed"`
	// Committed counts generated txs seen in committed blocks;
	// CommittedUnacked those among them that were not acknowledged.
	Committed        int `json:"committed"`
	CommittedUnacked int `json:"committedUnacked"`
	// Duplicates counts extra sightings of a tx already committed.
	Duplicates int `json:"duplicates"`
	// Lost: acknowledged but not committed within the grace period.
	Lost int `json:"lost"`
	// ForeignTxs are committed txs the generator did not send.
	ForeignTxs int `json:"foreignTxs"`

	// CommittedTPS is generated txs committed during the measured window
	// per second of it; SubmittedTPS the txs sent in it.
	CommittedTPS float64        `json:"committedTps"`
	SubmittedTPS float64        `json:"submittedTps"`
	Latency      LatencySummary `json:"latency"`
	// SendLagMaxMs is the latest any request left after its time.
	SendLagMaxMs float64 `json:"sendLagMaxMs"`

	// ProcessCPUSec is the CPU time the generator's process used during
	// the run, when its caller measured it (synod bench does; 0 if not).
	// On a machine shared with the nodes it is CPU the nodes did not get.
	ProcessCPUSec float64 `json:"processCpuSec,omitempty"`

	FirstHeight uint64   `json:"firstHeight"`
	LastHeight  uint64   `json:"lastHeight"`
	BlocksRead  int      `json:"blocksRead"`
	WatchErrors []string `json:"watchErrors,omitempty"`
}

// LatencySummary summarises submit→commit latencies in milliseconds.
type LatencySummary struct {
	Count  int     `json:"count"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// Summarize returns the summary of latencies (nanoseconds); it sorts them.
// Percentiles are nearest-rank.
func Summarize(latNs []int64) LatencySummary {
	if len(latNs) == 0 {
		return LatencySummary{}
	}
	slices.Sort(latNs)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(latNs)))) - 1
		return ms(latNs[min(max(i, 0), len(latNs)-1)])
	}
	var sum float64
	for _, l := range latNs {
		sum += float64(l)
	}
	return LatencySummary{
		Count: len(latNs), MeanMs: sum / float64(len(latNs)) / 1e6,
		P50Ms: rank(0.50), P90Ms: rank(0.90), P99Ms: rank(0.99), MaxMs: ms(latNs[len(latNs)-1]),
	}
}

func ms(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

// Sustained reports whether the run kept up: nothing lost, rejected,
// failed, unsent or refused even once, every submitted tx committed, and
// p99 latency under p99Max.
func (r *Result) Sustained(p99Max time.Duration) bool {
	return r.Lost == 0 && r.Rejected == 0 && r.Resubmitted == 0 && r.Failed == 0 && r.Unsent == 0 &&
		r.Committed >= r.Submitted && r.Latency.Count > 0 &&
		r.Latency.P99Ms < float64(p99Max)/float64(time.Millisecond)
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the human report, ending with one "summary" line of
// key=value pairs that scripts can read.
func (r *Result) WriteText(w io.Writer, p99Max time.Duration) error {
	codes := make([]string, 0, len(r.RejectedByCode))
	for c := range r.RejectedByCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	byCode := ""
	for _, c := range codes {
		byCode += fmt.Sprintf(" %s:%d", c, r.RejectedByCode[c])
	}
	sustained := "no"
	if r.Sustained(p99Max) {
		sustained = "yes"
	}
	_, err := fmt.Fprintf(w, `bench: %g tx/s for %gs (warm-up %gs) from %d accounts, %d-byte txs, %d node(s), chain %s
  submitted   %d in %d requests (unsent %d, max send lag %.1f ms)
  acknowledged %d  rejected %d%s  failed %d  resubmitted %d
  committed   %d (unacknowledged %d, duplicates %d)  lost %d
  throughput  %.1f committed tx/s in the window (%.1f submitted tx/s)
  latency     p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms  mean %.1f ms  (%d txs)
  heights     %s
%ssummary rate=%g committed_tps=%.1f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f submitted=%d committed=%d lost=%d rejected=%d resubmitted=%d failed=%d unsent=%d sustained=%s
`,
		r.Rate, r.DurationSec, r.WarmupSec, r.Accounts, r.TxBytes, len(r.RPC), r.ChainID,
		r.Submitted, r.Requests, r.Unsent, r.SendLagMaxMs,
		r.Acknowledged, r.Rejected, byCode, r.Failed, r.Resubmitted,
		r.Committed, r.CommittedUnacked, r.Duplicates, r.Lost,
		r.CommittedTPS, r.SubmittedTPS,
		r.Latency.P50Ms, r.Latency.P90Ms, r.Latency.P99Ms, r.Latency.MaxMs, r.Latency.MeanMs, r.Latency.Count,
		r.heightsRead(), r.cpuLine(),
		r.Rate, r.CommittedTPS, r.Latency.P50Ms, r.Latency.P90Ms, r.Latency.P99Ms, r.Latency.MaxMs,
		r.Submitted, r.Committed, r.Lost, r.Rejected, r.Resubmitted, r.Failed, r.Unsent, sustained)
	if err != nil {
		return err
	}
	for _, e := range r.WatchErrors {
		if _, err := fmt.Fprintf(w, "  watch error: %s\n", e); err != nil {
			return err
		}
	}
	return nil
}

// heightsRead is the report's line on the blocks read: a run that read
// none says so rather than show an empty range backwards (FirstHeight is
// one above the head it started at).
func (r *Result) heightsRead() string {
	if r.BlocksRead == 0 {
		return fmt.Sprintf("none read from height %d", r.FirstHeight)
	}
	return fmt.Sprintf("%d..%d (%d blocks read)", r.FirstHeight, r.LastHeight, r.BlocksRead)
}

// cpuLine is the report's line on the generator's own CPU, if measured:
// cores over the run and CPU per submitted tx.
func (r *Result) cpuLine() string {
	if r.ProcessCPUSec <= 0 || r.ElapsedSec <= 0 {
		return ""
	}
	perTx := ""
	if r.Submitted > 0 {
		perTx = fmt.Sprintf(", %.1f µs per submitted tx", r.ProcessCPUSec*1e6/float64(r.Submitted))
	}
	return fmt.Sprintf("  generator   %.2f cores over %.1f s%s\n", r.ProcessCPUSec/r.ElapsedSec, r.ElapsedSec, perTx)
}

// result scans the records into a Result.
func (g *Generator) result(startedAt time.Time, firstHeight uint64, watchErrs []string) *Result {
	g.mu.Lock()
	defer g.mu.Unlock()
	winLo, winHi := int64(g.cfg.Warmup), int64(g.cfg.Warmup+g.cfg.Duration)
	r := &Result{
		Start: startedAt, RPC: g.cfg.RPC, ChainID: g.chainID, Accounts: len(g.cfg.Keys), TxBytes: g.txBytes,
		BatchTxs: g.cfg.BatchTxs, BatchWaitMs: ms(int64(g.cfg.BatchWait)), InFlightMax: g.cfg.InFlightMax, Rate: g.cfg.Rate,
		WarmupSec: g.cfg.Warmup.Seconds(), DurationSec: g.cfg.Duration.Seconds(), GraceSec: g.cfg.Grace.Seconds(),
		ElapsedSec:     time.Duration(g.since()).Seconds(),
		Unsent:         int(g.unsent.Load()),
		Requests:       int(g.requests.Load()),
		Resubmitted:    int(g.resubmitted.Load()),
		RejectedByCode: make(map[string]int, len(g.rejectedByCode)),
		Duplicates:     g.duplicates, ForeignTxs: g.foreignTxs,
		SendLagMaxMs: ms(g.maxLagNs.Load()),
		FirstHeight:  firstHeight, LastHeight: uint64(g.head.Load()), BlocksRead: int(g.blocksRead.Load()),
		WatchErrors: watchErrs,
	}
	for code, n := range g.rejectedByCode {
		r.RejectedByCode[strconv.Itoa(code)] = n
	}
	var lat []int64
	committedInWindow, sentInWindow := 0, 0
	for i := range g.recs {
		rec := &g.recs[i]
		if rec.state == statePlanned {
			continue
		}
		r.Submitted++
		if rec.sentNs >= winLo && rec.sentNs < winHi {
			sentInWindow++
		}
		switch rec.state {
		case stateAcked:
			r.Acknowledged++
		case stateRejected:
			r.Rejected++
		case stateFailed, stateSent:
			r.Failed++
		}
		if rec.commits == 0 {
			if rec.state == stateAcked {
				r.Lost++
			}
			continue
		}
		r.Committed++
		if rec.state != stateAcked {
			r.CommittedUnacked++
		}
		if rec.commitNs >= winLo && rec.commitNs < winHi {
			committedInWindow++
		}
		if !rec.warmup && rec.state == stateAcked {
			lat = append(lat, max(rec.commitNs-rec.dueNs, 0))
		}
	}
	r.Planned = r.Submitted + r.Unsent
	r.CommittedTPS = float64(committedInWindow) / g.cfg.Duration.Seconds()
	r.SubmittedTPS = float64(sentInWindow) / g.cfg.Duration.Seconds()
	r.Latency = Summarize(lat)
	return r
}
