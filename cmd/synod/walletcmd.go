package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/ledger"
	"github.com/synod-chain/synod/rpc"
	"github.com/synod-chain/synod/rpc/client"
)

// Flags of the wallet commands, geth-style: package variables with a
// category and, where a user sets them once per shell, an environment
// mirror.
var (
	walletKeystoreFlag = &cli.StringFlag{
		Name: "keystore", Usage: "directory of encrypted key files",
		EnvVars: []string{"SYNOD_KEYSTORE"}, Value: walletDefaultKeystore(), Category: "WALLET",
	}
	walletPasswordFileFlag = &cli.StringFlag{
		Name: "password-file", Usage: "file whose first line is the key password (default: prompt on a terminal)",
		EnvVars: []string{"SYNOD_PASSWORD_FILE"}, Category: "WALLET",
	}
	walletLightKDFFlag = &cli.BoolFlag{
		Name: "lightkdf", Usage: "encrypt with cheap KDF parameters: UNSAFE, for tests and throwaway testnet keys only",
		Category: "WALLET",
	}
	walletKeyFileFlag = &cli.StringFlag{
		Name: "key-file", Usage: "file holding the raw private key (32-byte seed, or 64-byte seed+public key) in hex; default stdin",
		Category: "WALLET",
	}
	walletRPCFlag = &cli.StringFlag{
		Name: "rpc", Usage: "JSON-RPC URL of a node", Value: "http://" + rpc.DefaultAddr,
		EnvVars: []string{"SYNOD_RPC"}, Category: "API",
	}
	walletJSONFlag = &cli.BoolFlag{
		Name: "json", Usage: "print JSON instead of text", Category: "OUTPUT",
	}
	walletFromFlag = &cli.StringFlag{
		Name: "from", Usage: "sender address (its key must be in the keystore)", Category: "TRANSACTION",
	}
	walletToFlag = &cli.StringFlag{
		Name: "to", Usage: "recipient address", Category: "TRANSACTION",
	}
	walletAmountFlag = &cli.StringFlag{
		Name: "amount", Usage: "amount to send, a base-10 integer", Category: "TRANSACTION",
	}
	walletFeeFlag = &cli.StringFlag{
		Name: "fee", Usage: "fee paid to the block's proposer, a base-10 integer", Value: "0", Category: "TRANSACTION",
	}
	walletMemoFlag = &cli.StringFlag{
		Name: "memo", Usage: fmt.Sprintf("memo text, at most %d bytes", ledger.TxMemoBytesMax), Category: "TRANSACTION",
	}
	walletChainIDFlag = &cli.StringFlag{
		Name: "chain-id", Usage: "the chain the tx is for; refuse to sign if the node is on another (default: the node's chain)",
		EnvVars: []string{"SYNOD_CHAIN_ID"}, Category: "TRANSACTION",
	}
	walletNonceFlag = &cli.StringFlag{
		Name: "nonce", Usage: "nonce to use (default: the node's pending nonce of --from)", Category: "TRANSACTION",
	}
	walletWaitFlag = &cli.BoolFlag{
		Name: "wait", Usage: "wait until the tx commits and print its height and block", Category: "TRANSACTION",
	}
	walletWaitTimeoutFlag = &cli.DurationFlag{
		Name: "wait.timeout", Usage: "how long --wait waits", Value: 2 * time.Minute, Category: "TRANSACTION",
	}
	walletAtFlag = &cli.StringFlag{
		Name: "at", Usage: `block height to read at, or "latest"`, Value: "latest", Category: "API",
	}
	walletFullFlag = &cli.BoolFlag{
		Name: "full", Usage: "print whole transactions, not only their hashes", Category: "OUTPUT",
	}
)

// walletRPCTimeout bounds each command's RPC work other than --wait.
const walletRPCTimeout = 30 * time.Second

func walletDefaultKeystore() string {
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".synod", "keystore")
	}
	return filepath.Join(".synod", "keystore")
}

// walletCommand is `synod wallet`: keys in an encrypted keystore, and the
// JSON-RPC calls a wallet makes. Keys never leave this process: send signs
// locally and submits only the signed tx.
func walletCommand() *cli.Command {
	return &cli.Command{
		Name:  "wallet",
		Usage: "manage keys and send transactions through a node's JSON-RPC API",
		Subcommands: []*cli.Command{
			walletNewCommand(), walletListCommand(), walletImportCommand(), walletExportCommand(),
			walletBalanceCommand(), walletSendCommand(), walletTxCommand(),
			walletStatusCommand(), walletBlockCommand(),
		},
	}
}

func walletNewCommand() *cli.Command {
	return &cli.Command{
		Name:      "new",
		Usage:     "create a key, encrypt it into the keystore and print its address",
		UsageText: "synod wallet new --keystore DIR [--password-file FILE]",
		Flags:     []cli.Flag{walletKeystoreFlag, walletPasswordFileFlag, walletLightKDFFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			key, err := crypto.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			addr, err := storeKey(c, key)
			if err != nil {
				return err
			}
			return printResult(c, map[string]any{"address": addr, "publicKey": key.Public()},
				func(w io.Writer) { fmt.Fprintln(w, addr) })
		},
	}
}

func walletListCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the addresses in the keystore",
		UsageText: "synod wallet list --keystore DIR",
		Flags:     []cli.Flag{walletKeystoreFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			ks, err := openKeystore(c)
			if err != nil {
				return err
			}
			addrs, err := ks.List()
			if err != nil {
				return err
			}
			if addrs == nil {
				addrs = []crypto.Address{}
			}
			return printResult(c, addrs, func(w io.Writer) {
				for _, a := range addrs {
					fmt.Fprintln(w, a)
				}
			})
		},
	}
}

func walletImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import a raw hex private key into the keystore",
		UsageText: "synod wallet import --keystore DIR [--key-file FILE] [--password-file FILE]",
		Description: "Reads the key (hex, optionally 0x-prefixed: a 32-byte seed, or the 64-byte " +
			"seed+public key form) from --key-file or stdin, encrypts it under a password and " +
			"stores it. The password must come from --password-file when the key comes from stdin.",
		Flags: []cli.Flag{walletKeystoreFlag, walletKeyFileFlag, walletPasswordFileFlag, walletLightKDFFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			src, name := c.App.Reader, "stdin"
			if path := c.String(walletKeyFileFlag.Name); path != "" {
				f, err := os.Open(path)
				if err != nil {
					return fmt.Errorf("--key-file: %w", err)
				}
				defer f.Close()
				src, name = f, path
			} else if c.String(walletPasswordFileFlag.Name) == "" {
				return errors.New("the key is read from stdin, so the password must come from --password-file")
			}
			key, err := readRawKey(src, name)
			if err != nil {
				return err
			}
			addr, err := storeKey(c, key)
			if err != nil {
				return err
			}
			return printResult(c, map[string]any{"address": addr, "publicKey": key.Public()},
				func(w io.Writer) { fmt.Fprintln(w, addr) })
		},
	}
}

func walletExportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "decrypt a key and print its raw seed in hex",
		UsageText: "synod wallet export --keystore DIR [--password-file FILE] ADDRESS",
		Flags:     []cli.Flag{walletKeystoreFlag, walletPasswordFileFlag},
		Action: func(c *cli.Context) error {
			c, addr, err := oneAddressArg(c, "ADDRESS")
			if err != nil {
				return err
			}
			key, err := loadKey(c, addr)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.ErrWriter, "WARNING: this is the unencrypted private key of", addr.String()+": anyone who sees it can spend its funds.")
			seed := key.Seed()
			defer clear(seed)
			fmt.Fprintln(c.App.Writer, "0x"+hex.EncodeToString(seed))
			return nil
		},
	}
}

func walletBalanceCommand() *cli.Command {
	return &cli.Command{
		Name:      "balance",
		Usage:     "print an address's balance and next nonce",
		UsageText: "synod wallet balance ADDRESS [--at HEIGHT] --rpc URL",
		Flags:     []cli.Flag{walletRPCFlag, walletAtFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			c, addr, err := oneAddressArg(c, "ADDRESS")
			if err != nil {
				return err
			}
			at, err := parseBlockTag(c.String(walletAtFlag.Name), "--at")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, walletRPCTimeout)
			defer cancel()
			cl, err := dialRPC(ctx, c)
			if err != nil {
				return err
			}
			bal, err := cl.Balance(ctx, addr, at)
			if err != nil {
				return rpcErr("get balance", err)
			}
			nonce, err := cl.Nonce(ctx, addr, rpc.NoncePending)
			if err != nil {
				return rpcErr("get nonce", err)
			}
			return printResult(c, map[string]any{"address": addr, "balance": rpc.Decimal(bal), "at": at, "nonce": nonce},
				func(w io.Writer) {
					fmt.Fprintf(w, "address  %s\nbalance  %d (at %s)\nnonce    %d (next to use, counting pending txs)\n", addr, bal, at, nonce)
				})
		},
	}
}

// sendFlags are send's flags, checked before any key or network work.
type sendFlags struct {
	from, to    crypto.Address
	amount, fee uint64
	memo        []byte
	nonce       uint64
	nonceSet    bool
}

func parseSendFlags(c *cli.Context) (sendFlags, error) {
	var f sendFlags
	var err error
	if f.from, err = parseAddressFlag(c, walletFromFlag.Name); err != nil {
		return f, err
	}
	if f.to, err = parseAddressFlag(c, walletToFlag.Name); err != nil {
		return f, err
	}
	if !c.IsSet(walletAmountFlag.Name) {
		return f, errors.New("--amount is required")
	}
	if f.amount, err = rpc.ParseDecimal(c.String(walletAmountFlag.Name)); err != nil {
		return f, fmt.Errorf("--amount: %w", err)
	}
	if f.fee, err = rpc.ParseDecimal(c.String(walletFeeFlag.Name)); err != nil {
		return f, fmt.Errorf("--fee: %w", err)
	}
	if f.amount > ^uint64(0)-f.fee {
		return f, errors.New("--amount plus --fee overflows 64 bits")
	}
	f.memo = []byte(c.String(walletMemoFlag.Name))
	if len(f.memo) > ledger.TxMemoBytesMax {
		return f, fmt.Errorf("--memo is %d bytes, at most %d", len(f.memo), ledger.TxMemoBytesMax)
	}
	// Checked here, before the tx is sent: a wait that cannot wait would
	// fail a send the node took.
	if d := c.Duration(walletWaitTimeoutFlag.Name); d <= 0 {
		return f, fmt.Errorf("--wait.timeout %s: want a positive duration", d)
	}
	if c.IsSet(walletNonceFlag.Name) {
		if f.nonce, err = rpc.ParseDecimal(c.String(walletNonceFlag.Name)); err != nil {
			return f, fmt.Errorf("--nonce: %w", err)
		}
		f.nonceSet = true
	}
	return f, nil
}

func walletSendCommand() *cli.Command {
	return &cli.Command{
		Name:  "send",
		Usage: "sign a transfer locally and submit it",
		UsageText: "synod wallet send --keystore DIR --from ADDRESS --to ADDRESS --amount N [--fee N] " +
			"[--memo TEXT] [--nonce N] [--chain-id ID] --rpc URL [--wait]",
		Description: "Fetches the chain id (which must be --chain-id, if given) and (unless --nonce) the sender's pending nonce from the node, " +
			"signs with the key from the keystore, submits the signed tx and prints its hash. " +
			"With --wait it subscribes over WebSocket before submitting and prints the height and " +
			"block hash the tx committed in.",
		Flags: []cli.Flag{
			walletKeystoreFlag, walletPasswordFileFlag, walletFromFlag, walletToFlag, walletAmountFlag,
			walletFeeFlag, walletMemoFlag, walletNonceFlag, walletChainIDFlag, walletRPCFlag, walletWaitFlag, walletWaitTimeoutFlag, walletJSONFlag,
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			f, err := parseSendFlags(c)
			if err != nil {
				return err
			}
			tx, err := signTransfer(c, f)
			if err != nil {
				return err
			}
			return submitTransfer(c, tx)
		},
	}
}

// signTransfer fills the chain id and nonce from the node and signs with
// the keystore's key of f.from.
func signTransfer(c *cli.Context, f sendFlags) (*ledger.Tx, error) {
	ks, err := openKeystore(c)
	if err != nil {
		return nil, err
	}
	addrs, err := ks.List()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(addrs, f.from) {
		return nil, fmt.Errorf("--from %s: no key for this address in %s", f.from, ks.Dir())
	}
	ctx, cancel := context.WithTimeout(c.Context, walletRPCTimeout)
	defer cancel()
	cl, err := dialRPC(ctx, c)
	if err != nil {
		return nil, err
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, rpcErr("get chain id", err)
	}
	// The chain id is the node's word, and signing treats one too long
	// for a signing payload as a programmer error (a panic): refuse it
	// here as the bad answer it is.
	if err := crypto.ValidateChainID(st.ChainID); err != nil {
		return nil, fmt.Errorf("the node's chain id cannot be signed for: %w", err)
	}
	// A node on another chain (a wrong --rpc, or one that lies) would
	// otherwise get a signature valid on its chain, where the same key may
	// hold funds too.
	if want := c.String(walletChainIDFlag.Name); want != "" && want != st.ChainID {
		return nil, fmt.Errorf("--chain-id %q: the node at %s is on chain %q; nothing signed", want, c.String(walletRPCFlag.Name), st.ChainID)
	}
	if !f.nonceSet {
		if f.nonce, err = cl.Nonce(ctx, f.from, rpc.NoncePending); err != nil {
			return nil, rpcErr("get nonce", err)
		}
	}
	key, err := loadKey(c, f.from)
	if err != nil {
		return nil, err
	}
	tx := &ledger.Tx{ChainID: st.ChainID, Nonce: f.nonce, To: f.to, Amount: f.amount, Fee: f.fee, Memo: f.memo}
	tx.Sign(key)
	if err := ledger.CheckTx(st.ChainID, tx); err != nil {
		return nil, fmt.Errorf("signed tx fails its own check: %w", err)
	}
	return tx, nil
}

// submitTransfer sends tx and, with --wait, waits for its receipt. The
// subscription opens before the submission, so the commit cannot slip
// between the two.
func submitTransfer(c *cli.Context, tx *ledger.Tx) error {
	ctx, cancel := context.WithTimeout(c.Context, walletRPCTimeout)
	defer cancel()
	cl, err := dialRPC(ctx, c)
	if err != nil {
		return err
	}
	var sub *client.Subscription[rpc.Transaction]
	if c.Bool(walletWaitFlag.Name) {
		wsURL, err := client.WebSocketURL(c.String(walletRPCFlag.Name))
		if err != nil {
			return fmt.Errorf("--rpc: %w", err)
		}
		ws, err := client.DialWebSocket(ctx, wsURL)
		if err != nil {
			return fmt.Errorf("--wait needs the node's WebSocket endpoint: %w", err)
		}
		defer ws.Close()
		if sub, err = ws.SubscribeTx(ctx, tx.Hash()); err != nil {
			return rpcErr("subscribe to the tx", err)
		}
	}
	hash, err := cl.SendTransaction(ctx, tx)
	var refusal *client.Error
	if errors.As(err, &refusal) && refusal.Code != rpc.CodeInternal {
		return rpcErr("node refused the tx", err)
	}
	if err != nil {
		// No answer, or the node failing on its side, is not a refusal:
		// the tx may have reached the node, and a second send would take
		// the next nonce and pay twice.
		return fmt.Errorf("submit tx %s: %w; the node may have it all the same: check with 'synod wallet tx %s' before sending again",
			tx.Hash(), err, tx.Hash())
	}
	if sub == nil {
		return printResult(c, map[string]any{"hash": hash, "nonce": tx.Nonce, "status": rpc.TxStatusPending},
			func(w io.Writer) { fmt.Fprintf(w, "sent %s (nonce %d)\n", hash, tx.Nonce) })
	}
	if !c.Bool(walletJSONFlag.Name) {
		fmt.Fprintf(c.App.Writer, "sent %s (nonce %d), waiting for commit…\n", hash, tx.Nonce)
	}
	wctx, wcancel := context.WithTimeout(c.Context, c.Duration(walletWaitTimeoutFlag.Name))
	defer wcancel()
	receipt, err := client.AwaitReceipt(wctx, sub)
	if err != nil {
		return fmt.Errorf("waiting for %s to commit: %w", hash, err)
	}
	// The client refused a receipt for another tx, or without the place
	// the tx committed at, so the height and block below are set.
	return printResult(c, receipt, func(w io.Writer) {
		fmt.Fprintf(w, "committed at height %d in block %s\n", *receipt.Height, *receipt.BlockHash)
	})
}

func walletTxCommand() *cli.Command {
	return &cli.Command{
		Name:      "tx",
		Usage:     "print a transaction, pending or committed",
		UsageText: "synod wallet tx HASH --rpc URL",
		Flags:     []cli.Flag{walletRPCFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			c, args, err := positionalArgs(c, 1)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return errors.New("want exactly one argument: the tx HASH")
			}
			hash, err := parseHashArg(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, walletRPCTimeout)
			defer cancel()
			cl, err := dialRPC(ctx, c)
			if err != nil {
				return err
			}
			tx, err := cl.Transaction(ctx, hash)
			if err != nil {
				return rpcErr("get tx", err)
			}
			if tx == nil {
				return fmt.Errorf("tx %s: the node knows no such transaction", hash)
			}
			return printResult(c, tx, func(w io.Writer) { writeTx(w, tx) })
		},
	}
}

func writeTx(w io.Writer, tx *rpc.Transaction) {
	fmt.Fprintf(w, "hash    %s\nstatus  %s\n", tx.Hash, tx.Status)
	if tx.Height != nil && tx.Index != nil && tx.BlockHash != nil {
		fmt.Fprintf(w, "block   %d (%s), index %d\n", *tx.Height, *tx.BlockHash, *tx.Index)
	}
	fmt.Fprintf(w, "from    %s\nto      %s\namount  %d\nfee     %d\nnonce   %d\n", tx.From, tx.To, tx.Amount, tx.Fee, tx.Nonce)
	if len(tx.Memo) > 0 {
		fmt.Fprintf(w, "memo    %q\n", string(tx.Memo))
	}
}

func walletStatusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "print the node's status",
		UsageText: "synod wallet status --rpc URL",
		Flags:     []cli.Flag{walletRPCFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, walletRPCTimeout)
			defer cancel()
			cl, err := dialRPC(ctx, c)
			if err != nil {
				return err
			}
			st, err := cl.Status(ctx)
			if err != nil {
				return rpcErr("get status", err)
			}
			return printResult(c, st, func(w io.Writer) {
				fmt.Fprintf(w, "chain       %s\nnode        %s (%s)\nheight      %d\nview        %d (primary %d)\n",
					st.ChainID, st.Moniker, st.NodeID, st.Height, st.View, st.Primary)
				fmt.Fprintf(w, "validators  %d (f = %d)\npeers       %d\nsyncing     %t\nmempool     %d txs\n",
					st.Validators, st.F, st.Peers, st.Syncing, st.MempoolSize)
			})
		},
	}
}

func walletBlockCommand() *cli.Command {
	return &cli.Command{
		Name:      "block",
		Usage:     "print a committed block",
		UsageText: "synod wallet block [HEIGHT|latest] --rpc URL [--full]",
		Flags:     []cli.Flag{walletRPCFlag, walletFullFlag, walletJSONFlag},
		Action: func(c *cli.Context) error {
			c, args, err := positionalArgs(c, 1)
			if err != nil {
				return err
			}
			at := rpc.Latest
			if len(args) == 1 {
				if at, err = parseBlockTag(args[0], "HEIGHT"); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(c.Context, walletRPCTimeout)
			defer cancel()
			cl, err := dialRPC(ctx, c)
			if err != nil {
				return err
			}
			b, err := cl.BlockByNumber(ctx, at, c.Bool(walletFullFlag.Name))
			if err != nil {
				return rpcErr("get block", err)
			}
			if b == nil {
				return fmt.Errorf("block %s: not committed yet", at)
			}
			return printResult(c, b, func(w io.Writer) { writeBlock(w, b) })
		},
	}
}

func writeBlock(w io.Writer, b *rpc.Block) {
	fmt.Fprintf(w, "height     %d\nhash       %s\nparent     %s\nview       %d\nproposer   %s\ntime       %s\n",
		b.Height, b.Hash, b.ParentHash, b.View, b.Proposer, time.UnixMilli(b.Timestamp).UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(w, "txRoot     %s\nstateRoot  %s\n", b.TxRoot, b.StateRoot)
	if b.Commit != nil {
		fmt.Fprintf(w, "commit     view %d, %d signatures\n", b.Commit.View, len(b.Commit.Signatures))
	}
	fmt.Fprintf(w, "txs        %d\n", b.TxCount)
	for _, h := range b.TxHashes {
		fmt.Fprintf(w, "  %s\n", h)
	}
	for _, tx := range b.Txs {
		fmt.Fprintf(w, "  %s  %s → %s  %d (fee %d, nonce %d)\n", tx.Hash, tx.From, tx.To, tx.Amount, tx.Fee, tx.Nonce)
	}
}

// printResult prints v as indented JSON with --json, else as text.
func printResult(c *cli.Context, v any, text func(io.Writer)) error {
	if !c.Bool(walletJSONFlag.Name) {
		text(c.App.Writer)
		return nil
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s\n", out)
	return err
}

// rpcErr wraps a client error, naming the code when the node sent one.
func rpcErr(what string, err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		return fmt.Errorf("%s: %s (code %d)", what, e.Message, e.Code)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func dialRPC(ctx context.Context, c *cli.Context) (*client.Client, error) {
	url := c.String(walletRPCFlag.Name)
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("--rpc %q must be an http:// or https:// URL", url)
	}
	return client.Dial(ctx, url)
}

// positionalArgs returns up to max leading positional arguments and a
// context that also holds the flags written after them: urfave/cli v2
// stops parsing flags at the first argument, while the documented usage
// is "synod wallet tx HASH --rpc URL". Flags given before the arguments
// keep their values.
func positionalArgs(c *cli.Context, max int) (*cli.Context, []string, error) {
	args := c.Args().Slice()
	n := 0
	for n < len(args) && n < max && !strings.HasPrefix(args[n], "-") {
		n++
	}
	positional, rest := args[:n], args[n:]
	if len(rest) == 0 {
		return c, positional, nil
	}
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, nil, err
		}
	}
	var again []string
	for _, name := range c.FlagNames() {
		if c.IsSet(name) {
			again = append(again, fmt.Sprintf("--%s=%v", name, c.Value(name)))
		}
	}
	if err := set.Parse(append(again, rest...)); err != nil {
		return nil, nil, err
	}
	if set.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", set.Arg(0))
	}
	return cli.NewContext(c.App, set, c), positional, nil
}

// noArgs refuses arguments to a command that takes flags only: urfave/cli
// stops reading flags at the first argument, so without it every flag
// after a stray argument would be skipped silently and the command would
// run with their defaults (`synod init DIR --chain-id x` on the default
// home, with the default chain id).
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: this command takes options only (see --help)", c.Args().First())
	}
	return nil
}

// oneAddressArg reads the one ADDRESS argument, returning the context
// that also holds any flags written after it.
func oneAddressArg(c *cli.Context, name string) (*cli.Context, crypto.Address, error) {
	c, args, err := positionalArgs(c, 1)
	if err != nil {
		return nil, crypto.Address{}, err
	}
	if len(args) != 1 {
		return nil, crypto.Address{}, fmt.Errorf("want exactly one argument: the %s", name)
	}
	a, err := parseAddress(args[0], name)
	return c, a, err
}

func parseAddressFlag(c *cli.Context, flag string) (crypto.Address, error) {
	if !c.IsSet(flag) {
		return crypto.Address{}, fmt.Errorf("--%s is required", flag)
	}
	return parseAddress(c.String(flag), "--"+flag)
}

// parseAddress insists on the canonical 0x form so a truncated paste is
// never taken for another address.
func parseAddress(s, what string) (crypto.Address, error) {
	a, err := crypto.ParseAddress(s)
	if err != nil || !strings.HasPrefix(s, "0x") {
		return crypto.Address{}, fmt.Errorf("%s %q is not an address (0x and %d hex digits)", what, s, 2*crypto.AddressBytes)
	}
	return a, nil
}

func parseHashArg(s string) (crypto.Hash, error) {
	h, err := crypto.ParseHash(s)
	if err != nil || !strings.HasPrefix(s, "0x") {
		return crypto.Hash{}, fmt.Errorf("HASH %q is not a tx hash (0x and %d hex digits)", s, 2*crypto.HashBytes)
	}
	return h, nil
}

func parseBlockTag(s, what string) (rpc.BlockTag, error) {
	if s == "latest" {
		return rpc.Latest, nil
	}
	h, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return rpc.BlockTag{}, fmt.Errorf(`%s %q must be a height or "latest"`, what, s)
	}
	return rpc.AtHeight(h), nil
}

func openKeystore(c *cli.Context) (*crypto.Keystore, error) {
	dir := c.String(walletKeystoreFlag.Name)
	if dir == "" {
		return nil, errors.New("--keystore is required")
	}
	return crypto.OpenKeystore(dir)
}

// storeKey asks for a new password (twice on a terminal) and stores key.
func storeKey(c *cli.Context, key crypto.PrivateKey) (crypto.Address, error) {
	ks, err := openKeystore(c)
	if err != nil {
		return crypto.Address{}, err
	}
	password, err := readPassword(c, true)
	if err != nil {
		return crypto.Address{}, err
	}
	defer clear(password)
	if len(password) == 0 {
		return crypto.Address{}, errors.New("refusing an empty password")
	}
	params := crypto.DefaultKDFParams()
	if c.Bool(walletLightKDFFlag.Name) {
		params = crypto.LightKDFParams()
	}
	return ks.Store(key, password, params, rand.Reader)
}

// loadKey asks for the password of addr and decrypts its key.
func loadKey(c *cli.Context, addr crypto.Address) (crypto.PrivateKey, error) {
	ks, err := openKeystore(c)
	if err != nil {
		return crypto.PrivateKey{}, err
	}
	if _, err := ks.Export(addr); err != nil {
		return crypto.PrivateKey{}, err
	}
	password, err := readPassword(c, false)
	if err != nil {
		return crypto.PrivateKey{}, err
	}
	defer clear(password)
	return ks.Load(addr, password)
}

// readPassword reads the first line of --password-file, or prompts on the
// terminal (confirm: twice, for a new key). Without either it fails rather
// than read a secret from a pipe that may be echoing it.
func readPassword(c *cli.Context, confirm bool) ([]byte, error) {
	if path := c.String(walletPasswordFileFlag.Name); path != "" {
		pw, err := crypto.ReadPasswordFile(path)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("no --password-file given and stdin is not a terminal to prompt on")
	}
	fmt.Fprint(c.App.ErrWriter, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(c.App.ErrWriter, "Repeat password: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		defer clear(again)
		if string(again) != string(pw) {
			clear(pw)
			return nil, errors.New("the passwords do not match")
		}
	}
	return pw, nil
}

// readRawKey reads one hex key: a 32-byte seed, or a 64-byte ed25519
// private key (seed then public key, whose public half must match).
func readRawKey(r io.Reader, name string) (crypto.PrivateKey, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return crypto.PrivateKey{}, fmt.Errorf("read key from %s: %w", name, err)
	}
	s := strings.TrimPrefix(strings.TrimSpace(line), "0x")
	raw, err := hex.DecodeString(s)
	defer clear(raw)
	if err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("key from %s is not hex", name)
	}
	switch len(raw) {
	case crypto.SeedBytes:
		return crypto.PrivateKeyFromSeed(raw)
	case crypto.SeedBytes + crypto.PublicKeyBytes:
		key, err := crypto.PrivateKeyFromSeed(raw[:crypto.SeedBytes])
		if err != nil {
			return crypto.PrivateKey{}, err
		}
		if pub := key.Public(); string(pub[:]) != string(raw[crypto.SeedBytes:]) {
			return crypto.PrivateKey{}, fmt.Errorf("key from %s: the public half does not belong to the seed", name)
		}
		return key, nil
	}
	return crypto.PrivateKey{}, fmt.Errorf("key from %s is %d bytes; want a %d-byte seed or a %d-byte private key",
		name, len(raw), crypto.SeedBytes, crypto.SeedBytes+crypto.PublicKeyBytes)
}
