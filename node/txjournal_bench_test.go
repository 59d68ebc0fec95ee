package node

import (
	"testing"

	"github.com/synod-chain/synod/ledger"
)

// BenchmarkTxJournal journals what one ingress request carries (10 txs)
// and forgets it again, as a commit does: the journal's cost per request,
// fsyncs included (grouped as under load: one wait per 10 requests).
func BenchmarkTxJournal(b *testing.B) {
	g, _, accts := testGenesis(b, 1, 1)
	var txs []*ledger.Tx
	for nonce := range uint64(10_000) {
		tx := &ledger.Tx{ChainID: g.ChainID, Nonce: nonce, To: accts[0].Public().Address(), Amount: 1, Memo: make([]byte, 150)}
		tx.Sign(accts[0])
		if tx, _ = ledger.DecodeTx(tx.Encode()); tx == nil {
			b.Fatal("decode")
		}
		txs = append(txs, tx)
	}
	j, err := openTxJournal(b.TempDir(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	i := 0
	cpu0 := processCPU(b)
	for b.Loop() {
		req := txs[i%1000*10 : i%1000*10+10]
		durable := j.write(req)
		if i%10 == 9 {
			if err := durable(); err != nil {
				b.Fatal(err)
			}
		}
		if err := j.remove(req); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
