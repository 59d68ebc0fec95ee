package ledger_test

import (
	"bytes"
	"testing"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
)

// Fuzz targets for every decoder of outside bytes. Each checks that the
// decoder never panics and that what it accepts is canonical: re-encoding
// gives back exactly the input, so one value has one encoding (and one
// hash). Seeds are valid encodings and a few broken ones.

// seedTxs returns a few valid transactions of different shapes.
func seedTxs() []*ledger.Tx {
	return []*ledger.Tx{
		signedTx(testChain, testKey(0), 0, testAddr(1), 10, 1, nil),
		signedTx(testChain, testKey(1), 1<<40, testAddr(2), 1<<63, 7, []byte("memo")),
		signedTx(testChain, testKey(2), 3, testAddr(0), 0, 0, bytes.Repeat([]byte{0xff}, ledger.TxMemoBytesMax)),
		signedTx("", testKey(3), 0, crypto.Address{}, 0, 0, nil),
	}
}

// seedBlocks returns blocks with 0, 1 and several txs.
func seedBlocks() []*ledger.Block {
	txs := seedTxs()
	h := ledger.Header{ChainID: testChain, Height: 9, View: 2, ParentHash: crypto.Sum256([]byte("p")), Timestamp: -1}
	return []*ledger.Block{
		{Header: h},
		{Header: ledger.Header{}, Txs: txs[:1]},
		{Header: h, Txs: txs},
	}
}

// broken returns damaged copies of enc: truncated, extended, first byte
// changed, and a length field blown up.
func broken(enc []byte) [][]byte {
	out := [][]byte{enc[:len(enc)/2], append(bytes.Clone(enc), 0), bytes.Clone(enc)}
	out[2][0]++
	if len(enc) > 3 {
		c := bytes.Clone(enc)
		c[1], c[2] = 0xff, 0xff
		out = append(out, c)
	}
	return out
}

// FuzzDecodeTx checks that DecodeTx never panics, accepts only canonical
// encodings, and that CheckTx can judge whatever it accepts.
func FuzzDecodeTx(f *testing.F) {
	for _, tx := range seedTxs() {
		f.Add(tx.Encode())
		for _, b := range broken(tx.Encode()) {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, ledger.TxBytesMax+1))
	f.Fuzz(func(t *testing.T, in []byte) {
		tx, err := ledger.DecodeTx(in)
		if err != nil {
			return
		}
		if enc := tx.Encode(); !bytes.Equal(enc, in) {
			t.Fatalf("accepted a non-canonical encoding:\n in %x\nout %x", in, enc)
		}
		if tx.Hash() != crypto.Sum256(in) {
			t.Fatal("a decoded tx's hash is not its encoding's")
		}
		_ = ledger.CheckTx(tx.ChainID, tx) // judging any decoded tx must not panic
	})
}

// FuzzDecodeHeader checks that DecodeHeader never panics and accepts only
// canonical encodings.
func FuzzDecodeHeader(f *testing.F) {
	for _, b := range seedBlocks() {
		enc := ledger.EncodeHeader(&b.Header)
		f.Add(enc)
		for _, x := range broken(enc) {
			f.Add(x)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ledger.DecodeHeader(in)
		if err != nil {
			return
		}
		if enc := ledger.EncodeHeader(&h); !bytes.Equal(enc, in) {
			t.Fatalf("accepted a non-canonical encoding:\n in %x\nout %x", in, enc)
		}
	})
}

// FuzzDecodeBlock checks that DecodeBlock never panics, accepts only
// canonical encodings, and that EncodedSize agrees with what it accepts.
func FuzzDecodeBlock(f *testing.F) {
	for _, b := range seedBlocks() {
		f.Add(b.Encode())
		for _, x := range broken(b.Encode()) {
			f.Add(x)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ledger.DecodeBlock(in)
		if err != nil {
			return
		}
		if enc := b.Encode(); !bytes.Equal(enc, in) {
			t.Fatalf("accepted a non-canonical encoding:\n in %x\nout %x", in, enc)
		}
		if b.EncodedSize() != len(in) {
			t.Fatalf("EncodedSize %d of a %d-byte block", b.EncodedSize(), len(in))
		}
		_ = ledger.MerkleRoot(b.TxHashes())
	})
}

// FuzzDecodeCommitCertificate checks that the decoder never panics,
// accepts only canonical encodings, and that Verify copes with any indices.
func FuzzDecodeCommitCertificate(f *testing.F) {
	vals := validatorSet(f, 4)
	hash := crypto.Sum256([]byte("block"))
	for _, c := range []*ledger.CommitCertificate{
		certBy(1, 0, hash, 0, 1, 2),
		certBy(1<<50, 7, hash, 0, 1, 2, 3),
		certBy(1, 0, hash),
		{Height: 1, Signatures: []ledger.CommitSignature{{Validator: 300}, {Validator: 2}, {Validator: 1}}},
	} {
		f.Add(c.Encode())
		for _, x := range broken(c.Encode()) {
			f.Add(x)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ledger.DecodeCommitCertificate(in)
		if err != nil {
			return
		}
		if enc := c.Encode(); !bytes.Equal(enc, in) {
			t.Fatalf("accepted a non-canonical encoding:\n in %x\nout %x", in, enc)
		}
		_ = c.Verify(testChain, vals) // any indices, any order: no panic
	})
}

// FuzzDecodeGenesis checks that DecodeGenesis never panics and that a
// document it accepts passes Validate, survives Encode→Decode unchanged,
// and yields a genesis block.
func FuzzDecodeGenesis(f *testing.F) {
	good := testGenesis(4, 1000, 2000).Encode()
	f.Add(good)
	f.Add(testGenesis(1, 1).Encode())
	f.Add(bytes.Replace(good, []byte(`"amount": "1000"`), []byte(`"amount": "0"`), 1))
	f.Add(bytes.Replace(good, []byte(`"chain_id"`), []byte(`"chain_idx"`), 1))
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := ledger.DecodeGenesis(in)
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("DecodeGenesis returned a document Validate refuses: %v", err)
		}
		enc := g.Encode()
		again, err := ledger.DecodeGenesis(enc)
		if err != nil {
			t.Fatalf("DecodeGenesis(Encode(g)): %v\n%s", err, enc)
		}
		if !bytes.Equal(again.Encode(), enc) || again.Hash() != g.Hash() {
			t.Fatalf("Encode→Decode changed the document")
		}
		b, diff := ledger.GenesisBlock(g)
		if b.Header.StateRoot != diff.Root() {
			t.Fatalf("genesis block's state root is not its diff's")
		}
	})
}

// FuzzDecodeLtHash checks that DecodeLtHash never panics and inverts Encode.
func FuzzDecodeLtHash(f *testing.F) {
	var h ledger.LtHash
	f.Add(h.Encode())
	h.Add([]byte("leaf"))
	f.Add(h.Encode())
	f.Add(h.Encode()[1:])
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ledger.DecodeLtHash(in)
		if err != nil {
			return
		}
		if !bytes.Equal(h.Encode(), in) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzDecodeAccount checks that DecodeAccount never panics and inverts
// EncodeAccount.
func FuzzDecodeAccount(f *testing.F) {
	f.Add(ledger.EncodeAccount(ledger.Account{}))
	f.Add(ledger.EncodeAccount(ledger.Account{Balance: 1 << 63, Nonce: 5}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ledger.DecodeAccount(in)
		if err != nil {
			return
		}
		if !bytes.Equal(ledger.EncodeAccount(a), in) {
			t.Fatalf("re-encoding differs")
		}
	})
}
