package ledger

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/synod-chain/synod/crypto"
)

// TestValidateOnFailingStoreIsLocalFault checks that a valid block
// validated over a store that cannot read an account, because the disk
// fails a read or the record is corrupt, fails with ErrLocalState (the
// store's error inside) and not as an invalid block: a replica branching
// on the error must halt rather than blame the block's proposer. Method:
// a pruned store without the account cache, so every read reaches Pebble;
// its accounts flushed to a table whose reads an error-injecting file
// system fails, or the sender's record overwritten with bytes that do not
// decode.
func TestValidateOnFailingStoreIsLocalFault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, s *Store, disk *errorfs.Toggle, sender crypto.Address)
		want  error
	}{
		{"disk read fails", func(t *testing.T, s *Store, disk *errorfs.Toggle, _ crypto.Address) {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
			disk.On()
		}, errorfs.ErrInjected},
		{"record corrupt", func(t *testing.T, s *Store, _ *errorfs.Toggle, sender crypto.Address) {
			if err := s.db.Set(accountKey(sender), []byte{0xff}, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, ErrStoreCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSTChain(t, 4, 3)
			gb, _ := GenesisBlock(c.genesis)
			b, _ := c.next(t, 1) // valid: built and committed on the healthy mirror
			disk := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpFileReadAt && strings.HasSuffix(op.Path, ".sst") {
					return errorfs.ErrInjected
				}
				return nil
			})}
			s, err := OpenStore("db", StoreOptions{ChainID: c.genesis.ChainID, FS: errorfs.Wrap(vfs.NewMem(), disk), PruneHistory: true, AccountCacheSize: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			defer disk.Off()
			if err := s.InitGenesis(c.genesis); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, s, disk, b.Txs[0].Sender())
			err = NewPendingChain(c.genesis.ChainID, c.genesis.Consensus, gb.Header, s).Validate(b)
			if !errors.Is(err, ErrLocalState) || !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want ErrLocalState wrapping %v", err, tc.want)
			}
			if errors.Is(err, ErrBlockBadTx) || errors.Is(err, ErrBlockBadRoots) || errors.Is(err, ErrBlockInvalid) {
				t.Fatalf("Validate = %v: a store failure reported as an invalid block", err)
			}
		})
	}
}
