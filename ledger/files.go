package ledger

import (
	"errors"
	"io"
)

// readFull reads until buf is full or the reader ends; a file longer than
// buf is detected by the caller's size check on the returned length.
func readFull(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return n, nil
	}
	return n, err
}
