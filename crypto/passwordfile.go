package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// PasswordFileBytesMax bounds a password file.
const PasswordFileBytesMax = 4096

// ErrPasswordFile wraps every refusal of a password file's contents.
var ErrPasswordFile = errors.New("crypto: password file")

// ReadPasswordFile reads a keystore password from a file: its first line,
// without the line ending. Every command that takes a password file reads
// it here, so a key encrypted by one (synod init, wallet new) opens with
// the same file in the others (synod start, wallet send, bench). Lines
// after the first must be blank: a file with more text is refused, since
// whether that text belongs to the password is a guess. An empty password
// is refused too.
func ReadPasswordFile(path string) ([]byte, error) {
	// A FIFO would block the open until a writer came.
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrPasswordFile, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasswordFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, PasswordFileBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrPasswordFile, path, err)
	}
	if len(b) > PasswordFileBytesMax {
		return nil, fmt.Errorf("%w %s: more than %d bytes", ErrPasswordFile, path, PasswordFileBytesMax)
	}
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%w %s: text after the first line (the password is the first line alone)", ErrPasswordFile, path)
	}
	if len(line) == 0 {
		return nil, fmt.Errorf("%w %s: the first line is empty", ErrPasswordFile, path)
	}
	return line, nil
}
