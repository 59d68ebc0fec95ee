// Package crypto owns Synod's cryptography: ed25519 validator and account
// keys, addresses, SHA-256 hashes, domain-separated signing, single and batch
// signature verification under one verification rule, and the encrypted
// keystore.
//
// One rule decides whether a signature is valid, whether it is checked alone
// (Verify) or in a batch (BatchVerifier): the cofactored ed25519 equation with
// canonical encodings of R and A, S < L, and A not of small order. If the two
// paths could disagree, two honest validators (one batching, one not) could
// disagree on a block's validity and consensus would split. The same holds
// for malformed input: an oversized chain id is refused by both paths (an
// error from Verify, a false verdict from BatchVerifier), never a panic.
//
// # Keystore
//
// Keys at rest are JSON key files (keystore.go documents the format): the
// seed sealed with XChaCha20-Poly1305 under an argon2id key derived from a
// password, with the address, public key, KDF parameters and salt in clear
// and bound into the AEAD's associated data. DefaultKDFParams is for real
// keys; LightKDFParams is for tests and throwaway testnet keys only.
//
//   - EncryptKey / DecryptKey turn a PrivateKey into file bytes and back;
//     InspectKey reads the clear fields without the password.
//   - WriteKeyFile writes atomically with mode 0600 (a validator key in a
//     node home); ReadKeyFile reads at most KeystoreBytesMax bytes.
//   - Keystore is a directory of "<address>.json" files for the wallet
//     commands: List, Store, Load, Import, Export.
//
// Decoding treats a key file as hostile input: size, version, lengths and
// KDF parameter bounds are checked before any key derivation, so a crafted
// file cannot demand terabytes of memory or endless passes.
//
// This package imports only the standard library, golang.org/x/crypto and
// curve25519-voi; it must never import any other Synod package.
package crypto
