package rpc

import (
	"bytes"
	"encoding/json"

	"github.com/synod-chain/synod/crypto"
	"github.com/synod-chain/synod/rpc/internal/jsonscan"
)

// ParamsMax bounds the positional parameters of any method; no method
// takes more than two.
const ParamsMax = 8

// Params are a call's positional parameters, each still raw JSON.
type Params []json.RawMessage

// parseParams accepts an absent or null "params", or an array. Named
// parameters (an object) are not supported by any method.
func parseParams(raw json.RawMessage) (Params, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '[':
	case '{':
		return nil, errInvalidParams("params must be an array (by position); named params are not supported")
	default:
		return nil, errInvalidRequest(`"params" must be an array`)
	}
	if one, ok := onePlainString(raw); ok {
		return Params{one}, nil
	}
	// Counted before they are decoded: a body of a million tiny params
	// must not cost a million decoded values to refuse.
	if n := jsonscan.Len(raw); n > ParamsMax {
		return nil, errInvalidParams("%d params exceeds %d", n, ParamsMax)
	}
	var p Params
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, errInvalidParams("params: %v", err)
	}
	return p, nil
}

// count checks that there are between min and max params.
func (p Params) count(min, max int) *Error {
	if len(p) < min || len(p) > max {
		if min == max {
			return errInvalidParams("want %d params, got %d", min, len(p))
		}
		return errInvalidParams("want %d to %d params, got %d", min, max, len(p))
	}
	return nil
}

// has reports whether param i is present and not null.
func (p Params) has(i int) bool {
	return i < len(p) && string(bytes.TrimSpace(p[i])) != "null"
}

// String reads param i as a JSON string.
func (p Params) String(i int, name string) (string, *Error) {
	if !p.has(i) {
		return "", errInvalidParams("param %d (%s) must be a string", i, name)
	}
	if s, ok := plainString(p[i]); ok {
		return s, nil
	}
	var s string
	if json.Unmarshal(p[i], &s) != nil {
		return "", errInvalidParams("param %d (%s) must be a string", i, name)
	}
	return s, nil
}

// plainString reads a JSON string of printable ASCII without escapes, the
// shape of every hex param, in one pass: json.Unmarshal would check and
// then scan again the whole of a tx's hex. Anything else (escapes,
// non-ASCII, not a string) reports false and goes the general way.
func plainString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if !isPlainString(raw) {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// isPlainString reports whether raw (trimmed) is a string plainString
// reads, without copying it.
func isPlainString(raw json.RawMessage) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	return jsonscan.Plain(raw[1 : len(raw)-1])
}

// onePlainString recognises params that are one plain string (see
// plainString), as every tx submission's are, without a decoder's two
// passes over the hex, and returns the string's raw JSON.
func onePlainString(raw json.RawMessage) (json.RawMessage, bool) {
	if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' {
		return nil, false
	}
	inner := bytes.TrimSpace(raw[1 : len(raw)-1])
	if !isPlainString(inner) {
		return nil, false
	}
	return inner, true
}

// Hash reads param i as a 0x-hex hash.
func (p Params) Hash(i int, name string) (crypto.Hash, *Error) {
	s, err := p.String(i, name)
	if err != nil {
		return crypto.Hash{}, err
	}
	h, perr := crypto.ParseHash(s)
	if perr != nil || len(s) != 2+2*crypto.HashBytes || s[:2] != "0x" {
		return crypto.Hash{}, errInvalidParams("param %d (%s) must be a 0x-prefixed 32-byte hex hash", i, name)
	}
	return h, nil
}

// Address reads param i as a 0x-hex address.
func (p Params) Address(i int, name string) (crypto.Address, *Error) {
	s, err := p.String(i, name)
	if err != nil {
		return crypto.Address{}, err
	}
	a, perr := crypto.ParseAddress(s)
	if perr != nil || len(s) != 2+2*crypto.AddressBytes || s[:2] != "0x" {
		return crypto.Address{}, errInvalidParams("param %d (%s) must be a 0x-prefixed 20-byte hex address", i, name)
	}
	return a, nil
}

// Bool reads param i as a boolean, def if absent.
func (p Params) Bool(i int, name string, def bool) (bool, *Error) {
	if !p.has(i) {
		return def, nil
	}
	var b bool
	if json.Unmarshal(p[i], &b) != nil {
		return false, errInvalidParams("param %d (%s) must be true or false", i, name)
	}
	return b, nil
}

// BlockTag reads param i as "latest" or a height, "latest" if absent.
func (p Params) BlockTag(i int, name string) (BlockTag, *Error) {
	if !p.has(i) {
		return Latest, nil
	}
	var t BlockTag
	if err := t.UnmarshalJSON(bytes.TrimSpace(p[i])); err != nil {
		return BlockTag{}, errInvalidParams("param %d (%s): %v", i, name, err)
	}
	return t, nil
}
