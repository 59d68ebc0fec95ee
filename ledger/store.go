package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/synod-chain/synod/crypto"
)

// Store errors callers branch on.
var (
	ErrStoreWrongChain    = errors.New("store: made for another chain")
	ErrStoreNotInit       = errors.New("store: no genesis (not initialised)")
	ErrStoreCorrupt       = errors.New("store: corrupt record")
	ErrStoreNotFound      = errors.New("store: not found")
	ErrStoreNotNext       = errors.New("store: block does not extend the head")
	ErrStoreStateMismatch = errors.New("store: state diff does not match the block's state root")
	// ErrStoreHistoryPruned: the store keeps only the current state
	// (StoreOptions.PruneHistory), so it cannot answer for an earlier height.
	ErrStoreHistoryPruned = errors.New("store: account history is not kept (pruned store)")
	// ErrStoreHistoryMode: StoreOptions.PruneHistory differs from what the
	// store was made with; the choice is fixed when the store is created.
	ErrStoreHistoryMode = errors.New("store: history setting differs from the store's")
)

// Key layout. One byte names the table; integers are big-endian so keys
// sort by height.
const (
	tableMeta      = 'm' // m + name                  → value
	tableBlock     = 'b' // b + height                → block encoding
	tableBlockHash = 'h' // h + block hash            → height
	tableCert      = 'c' // c + height                → certificate encoding
	tableTx        = 't' // t + tx hash               → height, index
	tableAccount   = 'a' // a + address               → account, in a pruned store only (older history stores may hold stale entries, never read)
	tableHistory   = 'A' // A + address + height      → account after that height; the last entry is the account (history stores)
	tableLog       = 'w' // w + sequence              → the owner's log record (store_log.go)
)

var (
	keyChainID     = []byte("mchain-id")
	keyGenesisHash = []byte("mgenesis-hash")
	keyHead        = []byte("mhead")
	keyStateHash   = []byte("mstate-hash")
	// keyHistory says whether the store keeps account history: 1 it does
	// (also when the key is missing: stores made before the choice existed
	// all did), 0 it keeps only the current state.
	keyHistory = []byte("mhistory")
)

// Pebble tuning of the ledger store.
const (
	// storeBlockCacheBytes caches uncompressed sstable blocks (Pebble's
	// default is 8 MiB, which the index blocks alone outgrow).
	storeBlockCacheBytes = 64 << 20
	// DefaultMemTableBytes and storeL0CompactionFiles: larger flushes, and
	// more of them per compaction into the bottom level. The tx index,
	// accounts and their history are keyed by hashes and addresses, so
	// every compaction into the bottom level rewrites tables across the
	// whole key space; merging more new data per rewrite cut the store's
	// CPU per transfer by about a quarter (12.8 to 9.5 µs, 600k transfers).
	// Account reads rarely search the memtable: the cache and the
	// existence filter answer most of them. 16 MiB rather than 32: glibc
	// serves an allocation of 32 MiB or more (Pebble's memtable arena is
	// a C calloc) from a fresh mmap every time, whose first touch of each
	// page faults (about 10 µs a page on the development VM); below that
	// it can reuse freed heap memory. In three alternating pairs catch-up ran
	// at 2,095–2,119 blocks/s against 1,928–2,041 with 3 % less CPU per
	// block (BenchmarkCatchUp's process took 13k fewer page faults), and
	// 60-s runs at 4 × 4,500 tx/s showed the same latencies.
	DefaultMemTableBytes = 16 << 20
	// MemTableBytesMin and MemTableBytesMax bound StoreOptions.MemTableBytes:
	// small memtables cost more CPU per transfer (4 MiB: 5.4–5.6 µs against
	// 4.4–4.6 at 8–64 MiB, in-process), and from 32 MiB on every memtable
	// is a fresh mmap.
	MemTableBytesMin = 4 << 20
	MemTableBytesMax = 31 << 20
	// storeL0CompactionFiles: level 0 is compacted into the base level
	// once it holds this many sublevels (about one per flush). Each such
	// compaction rewrites the base level's hash- and address-keyed tables
	// wherever the new data lands, which is nearly everywhere, so the
	// rewrite costs about the same whatever the input: waiting for 16
	// flushes rather than 8 halves how often it is paid. In two pairs of
	// 300-s runs at 4 × 5,000 tx/s, compactions wrote 380 and 360 bytes a
	// committed tx against 616 and 617, and p99 was 815 and 926 ms
	// against 1,275 and 2,917 (BENCHMARKS.md, session 15). Point reads
	// search more level-0 tables, each behind a bloom filter, and writes
	// still stall only at StoreL0StallSublevels.
	storeL0CompactionFiles = 16
	// StoreL0StallSublevels (exported for the metrics' help) and
	// storeMemTablesMax: a write stall stops the consensus loop (it
	// applies each block before it goes on), so give compactions and
	// flushes slack to catch up after a burst rather than stopping
	// commits (Pebble's defaults are 12 and 2).
	StoreL0StallSublevels = 32
	storeMemTablesMax     = 4
	// storeBloomBitsPerKey gives about a 1% false-positive rate.
	storeBloomBitsPerKey = 10
)

// StoreOptions configure Open.
type StoreOptions struct {
	// ChainID must match the chain the store was initialised for.
	ChainID string
	// Logger receives Pebble's own log lines; nil discards them.
	Logger *slog.Logger
	// FS replaces the file system, for crash tests; nil means the disk.
	FS vfs.FS
	// AccountCacheSize is how many committed accounts to keep in memory:
	// 0 means DefaultAccountCacheSize, negative means none.
	AccountCacheSize int
	// MemTableBytes sizes Pebble's memtables, MemTableBytesMin to
	// MemTableBytesMax; 0 means DefaultMemTableBytes.
	MemTableBytes int
	// PruneHistory keeps only the current state of each account, not its
	// value after every height that changed it: AccountAt then answers
	// only for the head. The choice is made when the store is created; a
	// store opened with the other setting refuses with ErrStoreHistoryMode.
	// A history entry is written for every account a block touches and
	// never overwritten, so the history grows with the chain, and Pebble's
	// compactions rewrite it again and again (it is keyed by address, so
	// new entries land among old ones); a pruned store overwrites one entry
	// per account instead, and repeated writes to a busy account collapse
	// before they reach the disk.
	PruneHistory bool
}

// Store is the ledger on disk: blocks by height and hash, commit
// certificates, the tx index, account state as per-height history (an
// account's last entry is its current value), the chain head, and its
// owner's log (store_log.go). Each block is written in one Pebble batch,
// fsynced unless the caller defers the fsync (Commit), so after a crash
// the store holds a block wholly or not at all and its state always
// matches its head. Reads are safe from many goroutines; writes
// (InitGenesis, ApplyBlock, Commit, ReplaceLog) are serialised.
type Store struct {
	db      *pebble.DB
	chainID string

	writeMu sync.Mutex // one writer at a time
	logNext uint64     // the next log record's sequence; under writeMu

	mu        sync.RWMutex // guards head and stateHash
	head      Header
	stateHash LtHash
	init      bool

	accounts *accountCache  // nil when disabled
	exists   *accountFilter // addresses with an account; nil with the cache

	history bool // account history kept (tableHistory), or only the current state (tableAccount)

	stalls *stallCounter // Pebble's write stalls, for Stats
}

// OpenStore opens (creating if needed) the store in dir.
func OpenStore(dir string, opts StoreOptions) (*Store, error) {
	memTable := opts.MemTableBytes
	if memTable == 0 {
		memTable = DefaultMemTableBytes
	}
	if memTable < MemTableBytesMin || memTable > MemTableBytesMax {
		return nil, fmt.Errorf("open store %s: memtable of %d bytes not in %d..%d", dir, memTable, MemTableBytesMin, MemTableBytesMax)
	}
	popts := &pebble.Options{Logger: PebbleLogger(opts.Logger), FS: opts.FS, CacheSize: storeBlockCacheBytes,
		MemTableSize: uint64(memTable), L0CompactionThreshold: storeL0CompactionFiles,
		L0StopWritesThreshold: StoreL0StallSublevels, MemTableStopWritesThreshold: storeMemTablesMax}
	stalls := &stallCounter{}
	popts.EventListener = storeEventListener(opts.Logger, stalls)
	// Bloom filters on every level: many account reads under load are of
	// recipients never seen before, and without a filter a read of a
	// missing key searches every level's index.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(storeBloomBitsPerKey)
	}
	popts.Experimental.SpanPolicyFunc = tableSpans
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	cacheSize := opts.AccountCacheSize
	if cacheSize == 0 {
		cacheSize = DefaultAccountCacheSize
	}
	s := &Store{db: db, chainID: opts.ChainID, accounts: newAccountCache(cacheSize), history: !opts.PruneHistory, stalls: stalls}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadLogNext(); err != nil {
		db.Close()
		return nil, err
	}
	if s.accounts != nil {
		if err := s.loadAccountFilter(); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// loadAccountFilter fills the existence filter from the account table
// or, keeping history, the history table, reading keys only, one seek per
// account.
func (s *Store) loadAccountFilter() error {
	if !s.history {
		return s.loadAccountFilterFrom(tableAccount, 1+crypto.AddressBytes)
	}
	return s.loadAccountFilterFrom(tableHistory, 1+crypto.AddressBytes+8)
}

// loadAccountFilterFrom reads the addresses of table, whose keys are
// keyBytes long and start with the address.
func (s *Store) loadAccountFilterFrom(table byte, keyBytes int) error {
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{table}, UpperBound: []byte{table + 1}})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var addrs []crypto.Address
	for ok := iter.First(); ok; {
		k := iter.Key()
		if len(k) != keyBytes {
			iter.Close()
			return fmt.Errorf("%w: account key of %d bytes in table %c", ErrStoreCorrupt, len(k), table)
		}
		addr := crypto.Address(k[1 : 1+crypto.AddressBytes])
		addrs = append(addrs, addr)
		if table == tableAccount {
			ok = iter.Next()
			continue
		}
		ok = iter.SeekGE(historyKey(addr, math.MaxUint64))
		if ok && bytes.Equal(iter.Key(), historyKey(addr, math.MaxUint64)) {
			ok = iter.Next()
		}
	}
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return fmt.Errorf("store: read account keys: %w", err)
	}
	s.exists = newAccountFilter(len(addrs))
	s.exists.add(slices.Values(addrs))
	return nil
}

func (s *Store) load() error {
	chainID, err := s.get(keyChainID)
	if errors.Is(err, ErrStoreNotFound) {
		return nil // fresh store; InitGenesis comes next
	}
	if err != nil {
		return err
	}
	if string(chainID) != s.chainID {
		return fmt.Errorf("%w: store holds %q, node runs %q", ErrStoreWrongChain, chainID, s.chainID)
	}
	if err := s.checkHistoryMode(); err != nil {
		return err
	}
	headRaw, err := s.get(keyHead)
	if err != nil {
		return fmt.Errorf("%w: head: %w", ErrStoreCorrupt, err)
	}
	if len(headRaw) != 8+crypto.HashBytes {
		return fmt.Errorf("%w: head record of %d bytes", ErrStoreCorrupt, len(headRaw))
	}
	height := binary.BigEndian.Uint64(headRaw)
	b, err := s.BlockByHeight(height)
	if err != nil {
		return fmt.Errorf("%w: head block %d: %w", ErrStoreCorrupt, height, err)
	}
	if b.Hash() != crypto.Hash(headRaw[8:]) {
		return fmt.Errorf("%w: head hash does not match block %d", ErrStoreCorrupt, height)
	}
	hashRaw, err := s.get(keyStateHash)
	if err != nil {
		return fmt.Errorf("%w: state hash: %w", ErrStoreCorrupt, err)
	}
	sh, err := DecodeLtHash(hashRaw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStoreCorrupt, err)
	}
	// Check data after reading: the state must be the state the head
	// block's header certifies.
	if sh.Root() != b.Header.StateRoot {
		return fmt.Errorf("%w: state root %s does not match head %d's %s", ErrStoreCorrupt, sh.Root().Short(), height, b.Header.StateRoot.Short())
	}
	s.head, s.stateHash, s.init = b.Header, sh, true
	return nil
}

// checkHistoryMode refuses to open a store made with the other history
// setting: a pruned store has no history to answer from, and a history
// store has no current-state table to read.
func (s *Store) checkHistoryMode() error {
	raw, err := s.get(keyHistory)
	kept := true // stores made before the setting existed kept history
	switch {
	case errors.Is(err, ErrStoreNotFound):
	case err != nil:
		return err
	case len(raw) != 1 || raw[0] > 1:
		return fmt.Errorf("%w: history setting of %d bytes", ErrStoreCorrupt, len(raw))
	default:
		kept = raw[0] == 1
	}
	switch {
	case kept && !s.history:
		return fmt.Errorf("%w: this store keeps account history, and pruning can only be chosen for a new store", ErrStoreHistoryMode)
	case !kept && s.history:
		return fmt.Errorf("%w: this store keeps only the current state (pruned), and history can only be kept by a new store", ErrStoreHistoryMode)
	}
	return nil
}

// tableSpans ends every sstable Pebble writes (flushes and compactions
// alike) at the end of a table, so no file holds keys of two tables.
// Without it a flushed file spanning, say, the tail of the account
// history and the newest blocks overlaps every older block file in the
// level below, so each compaction into that level rewrote all the blocks
// stored so far, though block keys only ever grow, and compactions grew
// with the chain. Cut at table boundaries, new blocks, certificates and
// log records overlap nothing older, and a compaction rewrites only the
// hash-keyed tables (tx index, block hashes, account history), where new
// keys land among old ones. Storing 900 blocks of 1,000 transfers,
// compactions read 238–247 MB instead of 539, and the store's CPU per
// transfer fell from 10.1–11.8 to 8.6–9.0 µs.
func tableSpans(start []byte) (pebble.SpanPolicy, []byte, error) {
	if len(start) == 0 || start[0] == 0xff {
		return pebble.SpanPolicy{}, nil, nil
	}
	return pebble.SpanPolicy{}, []byte{start[0] + 1}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Initialized reports whether the store holds a genesis.
func (s *Store) Initialized() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.init
}

// InitGenesis writes the genesis block and state. On a store already
// initialised with the same genesis it does nothing; with another, it fails.
func (s *Store) InitGenesis(g *Genesis) error {
	if g.ChainID != s.chainID {
		return fmt.Errorf("%w: genesis is for %q, store for %q", ErrStoreWrongChain, g.ChainID, s.chainID)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.Initialized() {
		have, err := s.get(keyGenesisHash)
		if err != nil {
			return fmt.Errorf("%w: genesis hash: %w", ErrStoreCorrupt, err)
		}
		// Check data after reading: a damaged record must refuse the
		// store, not panic in the conversion to a hash.
		if len(have) != crypto.HashBytes {
			return fmt.Errorf("%w: genesis hash record of %d bytes", ErrStoreCorrupt, len(have))
		}
		if gh := g.Hash(); crypto.Hash(have) != gh {
			return fmt.Errorf("%w: store genesis %s, given %s", ErrStoreWrongChain, crypto.Hash(have).Short(), gh.Short())
		}
		return nil
	}
	block, diff := GenesisBlock(g)
	batch := s.db.NewBatch()
	defer batch.Close()
	gh := g.Hash()
	set(batch, keyChainID, []byte(g.ChainID))
	set(batch, keyGenesisHash, gh[:])
	set(batch, keyHistory, []byte{boolByte(s.history)})
	writeBlocks(batch, []BlockWrite{{Block: block, Diff: diff}}, s.history)
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: write genesis: %w", err)
	}
	s.cacheWrite(diff)
	s.mu.Lock()
	s.head, s.stateHash, s.init = block.Header, diff.Hash, true
	s.mu.Unlock()
	return nil
}

// ApplyBlock makes b, certified by cert, the new head, in one fsynced
// batch: block, certificate, tx index, accounts and their history, state
// hash and head. diff is b's effect on the current state, from
// PendingChain.Commit (which validated b fully) or ValidateBlock. A block
// that is not the head's child, or whose diff does not produce its state
// root, is refused and nothing is written.
func (s *Store) ApplyBlock(b *Block, cert *CommitCertificate, diff *StateDiff) error {
	return s.ApplyBlocks([]BlockWrite{{Block: b, Certificate: cert, Diff: diff}})
}

// record is one key and value to write; prefix is the key's first eight
// bytes, big-endian, so most comparisons in a sort are of two integers.
type record struct {
	prefix     uint64
	key, value []byte
}

func newRecord(key, value []byte) record {
	var p [8]byte
	copy(p[:], key)
	return record{binary.BigEndian.Uint64(p[:]), key, value}
}

func compareRecords(x, y record) int {
	if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
		return c
	}
	return bytes.Compare(x.key, y.key)
}

// writeBlocks puts consecutive blocks into batch: each block, its
// certificate, hash index, tx index entries and its accounts' history
// (the latest history entry of an account is its current value) or,
// without history, their current values, then the head and the state
// hash. The records go in ascending key order:
// Pebble inserts a batch into its memtable skiplist in batch order,
// starting each search from where the last one ended, so sorted keys make
// the inserts much cheaper than keys scattered over the whole table.
func writeBlocks(batch *pebble.Batch, writes []BlockWrite, history bool) {
	n := 2 // the head and the state hash
	for _, w := range writes {
		n += len(w.Diff.Accounts) + 3 + len(w.Block.Txs)
	}
	recs := make([]record, 0, n)
	var current map[crypto.Address]Account // without history: each account's last value in writes
	if !history && len(writes) > 1 {
		current = make(map[crypto.Address]Account)
	}
	for _, w := range writes {
		b, diff := w.Block, w.Diff
		height := b.Header.Height
		hash := b.Hash()
		for addr, acct := range diff.Accounts {
			switch {
			case history:
				recs = append(recs, newRecord(historyKey(addr, height), EncodeAccount(acct)))
			case current != nil:
				current[addr] = acct
			default:
				recs = append(recs, newRecord(accountKey(addr), EncodeAccount(acct)))
			}
		}
		recs = append(recs, newRecord(heightKey(tableBlock, height), b.Encode()))
		if w.Certificate != nil {
			recs = append(recs, newRecord(heightKey(tableCert, height), w.Certificate.Encode()))
		}
		recs = append(recs, newRecord(hashKey(tableBlockHash, hash), be64(height)))
		for i, tx := range b.Txs {
			recs = append(recs, newRecord(hashKey(tableTx, tx.Hash()), binary.BigEndian.AppendUint32(be64(height), uint32(i))))
		}
	}
	for addr, acct := range current {
		recs = append(recs, newRecord(accountKey(addr), EncodeAccount(acct)))
	}
	last := writes[len(writes)-1]
	head := last.Block.Hash()
	recs = append(recs,
		newRecord(keyHead, append(be64(last.Block.Header.Height), head[:]...)),
		newRecord(keyStateHash, last.Diff.Hash.Encode()))
	// No two records share a key: heights and tx hashes are distinct, and
	// an account has one history entry per height or, without history,
	// one entry per batch.
	slices.SortFunc(recs, compareRecords)
	for _, r := range recs {
		set(batch, r.key, r.value)
	}
}

// set writes into a batch; a batch Set fails only on a closed batch, a
// programmer error.
func set(batch *pebble.Batch, k, v []byte) {
	if err := batch.Set(k, v, nil); err != nil {
		panic(fmt.Sprintf("store: batch set: %v", err))
	}
}

// Head is the committed head's header.
func (s *Store) Head() Header {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head
}

// StateHash implements StateReader: the committed state's accumulator.
func (s *Store) StateHash() LtHash {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stateHash
}

// GetAccount implements StateReader: the committed account at addr.
func (s *Store) GetAccount(addr crypto.Address) (Account, error) {
	var gen uint64
	if s.accounts != nil {
		// The filter first: it answers a fresh address (every payment to a
		// new wallet) from one cache line, where the cache's map, grown
		// large, would miss the processor's caches to say the same.
		if !s.exists.mayHold(addr) {
			return Account{}, nil // certainly never written: the empty account
		}
		a, ok, g := s.accounts.get(addr)
		if ok {
			return a, nil
		}
		gen = g
	}
	a, err := s.readAccount(addr)
	if err == nil && s.accounts != nil {
		s.accounts.fill(addr, a, gen)
	}
	return a, err
}

// readAccount reads the committed account at addr from Pebble: the last
// entry of its history, or its entry in a pruned store.
func (s *Store) readAccount(addr crypto.Address) (Account, error) {
	if s.history {
		return s.accountAt(addr, math.MaxUint64-1)
	}
	raw, closer, err := s.db.Get(accountKey(addr))
	return decodeStoredAccount(addr, raw, closer, err)
}

// decodeStoredAccount decodes the result of a Pebble Get of addr's
// account entry: missing is the empty account.
func decodeStoredAccount(addr crypto.Address, raw []byte, closer io.Closer, err error) (Account, error) {
	if errors.Is(err, pebble.ErrNotFound) {
		return Account{}, nil
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: get account %s: %w", addr, err)
	}
	defer closer.Close()
	a, err := DecodeAccount(raw)
	if err != nil {
		return Account{}, fmt.Errorf("%w: account %s: %w", ErrStoreCorrupt, addr, err)
	}
	return a, nil
}

// cacheWrite records what a durable diff changed in the existence filter
// and the cache, in that order. A reader that the filter turns away sees
// the state before the block; one that passes it and misses the cache
// reads Pebble, which already holds the block.
func (s *Store) cacheWrite(diff *StateDiff) {
	if s.accounts != nil {
		s.exists.add(maps.Keys(diff.Accounts))
		s.accounts.write(diff.Accounts)
	}
}

// AccountAt returns the account at addr as it was after block height. A
// pruned store answers only while height is the head, and otherwise
// fails with ErrStoreHistoryPruned.
func (s *Store) AccountAt(addr crypto.Address, height uint64) (Account, error) {
	head := s.Head().Height
	if height > head {
		return Account{}, fmt.Errorf("%w: height %d is above the head", ErrStoreNotFound, height)
	}
	if s.history {
		return s.accountAt(addr, height)
	}
	if height < head {
		return Account{}, fmt.Errorf("%w: height %d is below the head %d", ErrStoreHistoryPruned, height, head)
	}
	// The head may move on between the check above and the read: read the
	// head and the account from one snapshot, so the answer is the state
	// after height or an error.
	snap := s.db.NewSnapshot()
	defer snap.Close()
	raw, closer, err := snap.Get(keyHead)
	if err != nil {
		return Account{}, fmt.Errorf("store: read head: %w", err)
	}
	if len(raw) != 8+crypto.HashBytes {
		closer.Close()
		return Account{}, fmt.Errorf("%w: head record of %d bytes", ErrStoreCorrupt, len(raw))
	}
	snapHead := binary.BigEndian.Uint64(raw)
	closer.Close()
	if snapHead != height {
		return Account{}, fmt.Errorf("%w: height %d is below the head %d", ErrStoreHistoryPruned, height, snapHead)
	}
	raw, closer, err = snap.Get(accountKey(addr))
	return decodeStoredAccount(addr, raw, closer, err)
}

// KeepsHistory reports whether the store keeps account history (AccountAt
// answers for every height) or only the current state.
func (s *Store) KeepsHistory() bool { return s.history }

// accountAt reads the last history entry of addr at or below height (the
// empty account if there is none).
func (s *Store) accountAt(addr crypto.Address, height uint64) (Account, error) {
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: historyKey(addr, 0), UpperBound: historyKey(addr, height+1)})
	if err != nil {
		return Account{}, fmt.Errorf("store: %w", err)
	}
	defer iter.Close()
	if !iter.Last() {
		return Account{}, iter.Error()
	}
	a, err := DecodeAccount(iter.Value())
	if err != nil {
		return Account{}, fmt.Errorf("%w: history of %s: %w", ErrStoreCorrupt, addr, err)
	}
	return a, nil
}

// BlockByHeight returns the committed block at height.
func (s *Store) BlockByHeight(height uint64) (*Block, error) {
	raw, err := s.EncodedBlock(height)
	if err != nil {
		return nil, err
	}
	b, err := DecodeBlock(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: block %d: %w", ErrStoreCorrupt, height, err)
	}
	return b, nil
}

// EncodedBlock returns the canonical encoding of the committed block at
// height, as stored, without decoding it.
func (s *Store) EncodedBlock(height uint64) ([]byte, error) {
	raw, err := s.get(heightKey(tableBlock, height))
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", height, err)
	}
	return raw, nil
}

// EncodedCertificate returns the encoding of the commit certificate of the
// block at height, as stored.
func (s *Store) EncodedCertificate(height uint64) ([]byte, error) {
	raw, err := s.get(heightKey(tableCert, height))
	if err != nil {
		return nil, fmt.Errorf("certificate %d: %w", height, err)
	}
	return raw, nil
}

// BlockByHash returns the committed block with hash h.
func (s *Store) BlockByHash(h crypto.Hash) (*Block, error) {
	raw, err := s.get(hashKey(tableBlockHash, h))
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", h.Short(), err)
	}
	if len(raw) != 8 {
		return nil, fmt.Errorf("%w: block index of %s", ErrStoreCorrupt, h.Short())
	}
	return s.BlockByHeight(binary.BigEndian.Uint64(raw))
}

// Certificate returns the commit certificate of the block at height.
func (s *Store) Certificate(height uint64) (*CommitCertificate, error) {
	raw, err := s.EncodedCertificate(height)
	if err != nil {
		return nil, err
	}
	c, err := DecodeCommitCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %d: %w", ErrStoreCorrupt, height, err)
	}
	return c, nil
}

// TxLocation returns where a committed tx is: its block height and index.
func (s *Store) TxLocation(h crypto.Hash) (height uint64, index int, err error) {
	raw, err := s.get(hashKey(tableTx, h))
	if err != nil {
		return 0, 0, fmt.Errorf("tx %s: %w", h.Short(), err)
	}
	if len(raw) != 12 {
		return 0, 0, fmt.Errorf("%w: tx index of %s", ErrStoreCorrupt, h.Short())
	}
	return binary.BigEndian.Uint64(raw), int(binary.BigEndian.Uint32(raw[8:])), nil
}

// Tx returns a committed tx with its location.
func (s *Store) Tx(h crypto.Hash) (*Tx, uint64, int, error) {
	height, index, err := s.TxLocation(h)
	if err != nil {
		return nil, 0, 0, err
	}
	b, err := s.BlockByHeight(height)
	if err != nil {
		return nil, 0, 0, err
	}
	if index >= len(b.Txs) || b.Txs[index].Hash() != h {
		return nil, 0, 0, fmt.Errorf("%w: tx index of %s points to the wrong tx", ErrStoreCorrupt, h.Short())
	}
	return b.Txs[index], height, index, nil
}

// get copies the value at k out of Pebble, or returns ErrStoreNotFound.
func (s *Store) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrStoreNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 12), v) }

func heightKey(table byte, height uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{table}, height)
}

func hashKey(table byte, h crypto.Hash) []byte { return append([]byte{table}, h[:]...) }

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func accountKey(addr crypto.Address) []byte { return append([]byte{tableAccount}, addr[:]...) }

func historyKey(addr crypto.Address, height uint64) []byte {
	k := make([]byte, 0, 1+crypto.AddressBytes+8)
	k = append(k, tableHistory)
	k = append(k, addr[:]...)
	return binary.BigEndian.AppendUint64(k, height)
}

// PebbleLogger routes Pebble's own log lines into a slog logger (nil
// discards them), for every Pebble instance the node opens.
func PebbleLogger(log *slog.Logger) pebble.Logger { return pebbleLogger{log} }

type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	if l.log != nil {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	if l.log != nil {
		l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf is called by Pebble on unrecoverable corruption; Pebble expects
// the process not to continue.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.log != nil {
		l.log.Error(msg, "component", "pebble", "fatal", true)
	}
	panic("pebble: " + msg)
}

var _ io.Closer = (*Store)(nil)
var _ StateReader = (*Store)(nil)
