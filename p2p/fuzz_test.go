package p2p

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Fuzz targets for every decoder of peer input. Each checks that the
// decoder never panics, that whatever it accepts is within its limits, and
// that accepted input re-encodes to the same bytes (one encoding per
// value), so a decoder cannot be talked into a second reading.

func fuzzKey() crypto.PrivateKey {
	k, err := crypto.PrivateKeyFromSeed(bytes.Repeat([]byte{7}, crypto.SeedBytes))
	if err != nil {
		panic(err)
	}
	return k
}

func FuzzDecodeTxBatch(f *testing.F) {
	key := fuzzKey()
	var txs []*ledger.Tx
	for i := range 3 {
		tx := &ledger.Tx{ChainID: testChain, Nonce: uint64(i), Amount: 5, Memo: []byte("m")}
		tx.Sign(key)
		txs = append(txs, tx)
	}
	f.Add(EncodeTxBatch(txs))
	f.Add(EncodeTxBatch(txs[:1]))
	f.Add([]byte{txBatchVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{txBatchVersion, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff})
	f.Add(append(EncodeTxBatch(txs[:1]), 0))
	const txsMax, bytesMax = 64, 64 << 10
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeTxBatch(b, txsMax, bytesMax)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrMalformed and ErrInvalid: %v", err)
			}
			return
		}
		if len(got) == 0 || len(got) > txsMax {
			t.Fatalf("accepted %d txs", len(got))
		}
		encs := make([][]byte, len(got))
		for i, tx := range got {
			encs[i] = tx.Encode()
		}
		if !bytes.Equal(encodeTxBatch(binary.BigEndian.Uint64(b[1:]), encs), b) {
			t.Fatalf("accepted a non-canonical batch")
		}
	})
}

func FuzzDecodeSyncRequest(f *testing.F) {
	f.Add(SyncRequest{Kind: syncKindStatus}.Encode())
	f.Add(SyncRequest{Kind: syncKindBlocks, From: 1 << 62, Count: 128}.Encode())
	f.Add([]byte{syncVersion, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeSyncRequest(b, 128)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if r.Kind == syncKindBlocks && (r.Count == 0 || r.Count > 128) {
			t.Fatalf("accepted count %d", r.Count)
		}
		if !bytes.Equal(r.Encode(), b) {
			t.Fatalf("accepted a non-canonical request")
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add(encodeStatus(42))
	f.Add([]byte{syncTagRefused})
	f.Fuzz(func(t *testing.T, b []byte) {
		head, err := DecodeStatus(b)
		if err == nil && !bytes.Equal(encodeStatus(head), b) {
			t.Fatalf("accepted a non-canonical status")
		}
	})
}

func FuzzDecodeFrameHeader(f *testing.F) {
	f.Add(appendFrameHeader(nil, 0))
	f.Add(appendFrameHeader(nil, 32<<20))
	f.Add([]byte{frameVersion, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{2, 0, 0, 0, 1})
	const bytesMax = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeFrameHeader(b, bytesMax)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if n < 0 || n > bytesMax {
			t.Fatalf("accepted length %d", n)
		}
		if !bytes.Equal(appendFrameHeader(nil, n), b) {
			t.Fatalf("accepted a non-canonical header")
		}
	})
}

func FuzzReadSyncResponse(f *testing.F) {
	src, _ := testChainSource(f, 3)
	item := func(h int) []byte {
		var cert []byte
		if h > 0 {
			cert = src.certs[h].Encode()
		}
		return appendSyncItem(nil, src.blocks[h].Encode(), cert)
	}
	f.Add(uint64(0), uint8(4), concat(item(0), item(1), item(2), item(3), []byte{syncTagEnd}))
	f.Add(uint64(1), uint8(2), concat(item(1), item(2), []byte{syncTagEnd}))
	f.Add(uint64(1), uint8(2), concat(item(2), item(1), []byte{syncTagEnd}))
	f.Add(uint64(1), uint8(1), []byte{syncTagRefused})
	f.Add(uint64(1), uint8(1), []byte{syncTagBlock, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, from uint64, count uint8, b []byte) {
		if count == 0 {
			return
		}
		req := SyncRequest{Kind: syncKindBlocks, From: from, Count: uint32(count)}
		lim := syncLimits{chainID: testChain, responseBytes: 1 << 20, blockBytes: 256 << 10}
		got, err := readSyncResponse(bufio.NewReader(bytes.NewReader(b)), req, lim)
		if err != nil {
			return
		}
		if len(got) > int(count) {
			t.Fatalf("accepted %d blocks for a request of %d", len(got), count)
		}
		for i, sb := range got {
			h := from + uint64(i)
			if sb.Block.Height() != h {
				t.Fatalf("block %d has height %d", i, sb.Block.Height())
			}
			if (sb.Certificate == nil) != (h == 0) {
				t.Fatalf("certificate presence wrong at height %d", h)
			}
			if sb.Certificate != nil && (sb.Certificate.Height != h || sb.Certificate.BlockHash != sb.Block.Hash()) {
				t.Fatalf("certificate does not name block %d", h)
			}
			if i > 0 && sb.Block.Header.ParentHash != got[i-1].Block.Hash() {
				t.Fatalf("block %d does not extend its predecessor", h)
			}
		}
	})
}

func TestTxBatchSplitRespectsLimits(t *testing.T) {
	// Goal: PublishTxs's batches never exceed the count or byte limit and
	// keep tx order. Method: split 100 real encodings under tight limits
	// and decode every batch back.
	key := fuzzKey()
	var encs [][]byte
	for i := range 100 {
		tx := &ledger.Tx{ChainID: testChain, Nonce: uint64(i), Memo: bytes.Repeat([]byte{1}, i)}
		tx.Sign(key)
		encs = append(encs, tx.Encode())
	}
	const txsMax, bytesMax = 7, 2048
	next := 0
	for _, batch := range splitTxBatches(encs, txsMax, bytesMax) {
		payload := encodeTxBatch(uint64(len(batch)), batch)
		txs, err := DecodeTxBatch(payload, txsMax, bytesMax)
		if err != nil {
			t.Fatalf("batch does not decode within limits: %v", err)
		}
		for _, tx := range txs {
			if tx.Nonce != uint64(next) {
				t.Fatalf("tx %d out of order (nonce %d)", next, tx.Nonce)
			}
			next++
		}
	}
	if next != 100 {
		t.Fatalf("split kept %d of 100 txs", next)
	}
	if _, err := DecodeTxBatch(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{txBatchVersion}, 7), 1<<30), txsMax, bytesMax); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge count: %v", err)
	}
}
