// Package crypto owns Synod's cryptography: ed25519 validator and account
// keys, addresses, SHA-256 hashes, domain-separated signing, single and batch
// signature verification under one verification rule, and the encrypted
// keystore.
//
// One rule decides whether a signature is valid, whether it is checked alone
// (Verify) or in a batch (BatchVerifier): the cofactored ed25519 equation with
// canonical encodings of R and A, S < L, and A not of small order. If the two
// paths could disagree, two honest validators (one batching, one not) could
// disagree on a block's validity and consensus would split.
//
// This package imports only the standard library, golang.org/x/crypto and
// curve25519-voi; it must never import any other Synod package.
package crypto
