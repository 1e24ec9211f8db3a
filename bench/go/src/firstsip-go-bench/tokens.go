package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// tokenSealer encrypts OAuth tokens before they reach the database, in the C++ service's
// format (server/crypto/token_cipher.h), so either service can read what the other wrote:
//
//	version (1 byte, = 1) | key id (4: SHA-256 of the key) | nonce (12, random) | ciphertext | tag (16)
//
// with associated data naming the table, the column and the identity's provider account.
type tokenSealer struct {
	aead  cipher.AEAD // safe for concurrent use
	keyID [4]byte
}

const (
	sealVersion = 1
	nonceBytes  = 12
	headerBytes = 1 + 4 + nonceBytes
)

// newTokenSealer takes ENCRYPTION_KEY: base64 of 32 bytes.
func newTokenSealer(keyBase64 string) (*tokenSealer, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keyBase64))
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTION_KEY is not valid base64")
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("ENCRYPTION_KEY decodes to %d bytes; AES-256 needs exactly 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &tokenSealer{aead: aead}
	digest := sha256.Sum256(key)
	copy(s.keyID[:], digest[:4])
	return s, nil
}

// seal encrypts plaintext for column of auth_identities, bound to (provider, providerUserID).
func (s *tokenSealer) seal(plaintext, column, provider, providerUserID string) ([]byte, error) {
	out := make([]byte, headerBytes, headerBytes+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:5], s.keyID[:])
	nonce := out[5:headerBytes]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, nonce, []byte(plaintext), associatedData(column, provider, providerUserID)), nil
}

// associatedData: "firstsip.v1" then "|len:part" for table, column, provider, provider_user_id
// (length-prefixed, so no two contexts share it), as crypto::TokenCipher builds it.
func associatedData(column, provider, providerUserID string) []byte {
	parts := [4]string{"auth_identities", column, provider, providerUserID}
	n := len("firstsip.v1")
	for _, p := range parts {
		n += len(p) + 8
	}
	ad := make([]byte, 0, n)
	ad = append(ad, "firstsip.v1"...)
	for _, p := range parts {
		ad = append(ad, '|')
		ad = strconv.AppendInt(ad, int64(len(p)), 10)
		ad = append(ad, ':')
		ad = append(ad, p...)
	}
	return ad
}
