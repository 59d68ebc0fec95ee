package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/synod-chain/synod/ledger"
)

// writeLegacyWAL writes records the way nodes before the store's log kept
// them: a Pebble instance of their own, key 'r' + big-endian sequence.
func writeLegacyWAL(t *testing.T, dir string, records [][]byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: ledger.PebbleLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range records {
		key := binary.BigEndian.AppendUint64([]byte{legacyWALPrefix}, uint64(i))
		if err := db.Set(key, rec, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestImportLegacyWAL moves a former consensus WAL into the store's log and
// removes it; a second import (the directory back, as after a crash before
// its removal) finds the records in the store and adds none; with no
// directory it does nothing.
func TestImportLegacyWAL(t *testing.T) {
	g, _, _ := testGenesis(t, 4, 2)
	home := t.TempDir()
	store, err := ledger.OpenStore(filepath.Join(home, "ledger"), ledger.StoreOptions{ChainID: g.ChainID})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	legacy := filepath.Join(home, legacyWALDir)
	if err := importLegacyWAL(legacy, store, nil); err != nil {
		t.Fatalf("no legacy directory: %v", err)
	}
	var records [][]byte
	for i := range 5 {
		records = append(records, fmt.Appendf(nil, "promise %d", i))
	}
	writeLegacyWAL(t, legacy, records)
	if err := importLegacyWAL(legacy, store, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("legacy directory still there after the import: %v", err)
	}
	check := func() {
		t.Helper()
		got, err := store.LogRecords()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(records) {
			t.Fatalf("store log has %d records, want %d", len(got), len(records))
		}
		for i := range records {
			if !bytes.Equal(got[i], records[i]) {
				t.Fatalf("record %d is %q, want %q", i, got[i], records[i])
			}
		}
	}
	check()
	writeLegacyWAL(t, legacy, records)
	if err := importLegacyWAL(legacy, store, nil); err != nil {
		t.Fatal(err)
	}
	check()
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("legacy directory still there after the second import: %v", err)
	}
}
