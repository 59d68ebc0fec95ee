package crypto

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// KeyFileMode is the permission of every key file written here: readable
// and writable by the owner only.
const KeyFileMode os.FileMode = 0o600

// WriteKeyFile writes a key file atomically, replacing any file at path: a
// crash leaves either the old file or the new one, never a torn mix. It
// writes a temporary file in the same directory, fsyncs it, renames it over
// path and fsyncs the directory. data is checked with InspectKey first, so a
// file this writes is one ReadKeyFile and DecryptKey accept.
func WriteKeyFile(path string, data []byte) error {
	return writeKeyFile(path, data, false)
}

// writeKeyFile is WriteKeyFile; with noClobber it fails with ErrKeyExists
// instead of replacing an existing file.
func writeKeyFile(path string, data []byte, noClobber bool) (err error) {
	if _, err := InspectKey(data); err != nil {
		return fmt.Errorf("crypto: write key file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyfile-*.tmp")
	if err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	tmpPath := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpPath)
		}
	}()
	if err := tmp.Chmod(KeyFileMode); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("crypto: write key file: fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if noClobber {
		err = publishNoClobber(tmpPath, path)
	} else {
		err = os.Rename(tmpPath, path)
	}
	if err != nil {
		return fmt.Errorf("crypto: write key file %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("crypto: write key file %s: fsync directory: %w", path, err)
	}
	return nil
}

// publishNoClobber moves tmpPath to path unless path exists. A hard link
// makes the check and the move one atomic step; on a file system without
// hard links it falls back to check-then-rename, which is racy only
// against a concurrent writer of the same address.
func publishNoClobber(tmpPath, path string) error {
	err := os.Link(tmpPath, path)
	switch {
	case err == nil:
		return os.Remove(tmpPath)
	case errors.Is(err, os.ErrExist):
		return ErrKeyExists
	}
	if _, statErr := os.Lstat(path); statErr == nil {
		return ErrKeyExists
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return statErr
	}
	return os.Rename(tmpPath, path)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// Windows cannot open a directory for fsync; NTFS journals the rename.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

// ReadKeyFile reads a key file of at most KeystoreBytesMax bytes. It does
// not decrypt or parse it; DecryptKey and InspectKey do.
func ReadKeyFile(path string) ([]byte, error) {
	// Check the kind before opening too: opening a FIFO blocks until a
	// writer comes, so one under a key file's name would hang the caller.
	// The check after opening stays for a file swapped in between.
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("crypto: read key file %s: %w: not a regular file", path, ErrKeystoreFormat)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("crypto: read key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("crypto: read key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("crypto: read key file %s: %w: not a regular file", path, ErrKeystoreFormat)
	}
	if info.Size() > KeystoreBytesMax {
		return nil, fmt.Errorf("crypto: read key file %s: %w: %d bytes, max %d", path, ErrKeystoreTooLarge, info.Size(), KeystoreBytesMax)
	}
	// The file may grow between Stat and Read; the limit holds regardless.
	data, err := io.ReadAll(io.LimitReader(f, KeystoreBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("crypto: read key file %s: %w", path, err)
	}
	if len(data) > KeystoreBytesMax {
		return nil, fmt.Errorf("crypto: read key file %s: %w: more than %d bytes", path, ErrKeystoreTooLarge, KeystoreBytesMax)
	}
	return data, nil
}
