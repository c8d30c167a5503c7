package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/net/http/httpguts"
)

type apiKeys struct {
	header string // canonical
	bearer bool
	byHash map[[sha256.Size]byte]string // digest -> name
}

func newAPIKeys(c *APIKeyConfig) (*apiKeys, error) {
	k := &apiKeys{header: "X-Api-Key", bearer: c.Bearer, byHash: map[[sha256.Size]byte]string{}}
	if c.Header != "" {
		if !httpguts.ValidHeaderFieldName(c.Header) {
			return nil, fmt.Errorf("header %q: not a valid header name", c.Header)
		}
		k.header = http.CanonicalHeaderKey(c.Header)
	}
	if k.header == "Authorization" {
		return nil, fmt.Errorf("header %q: use bearer: true to read keys from Authorization", c.Header)
	}
	names := map[string]string{} // name -> where it was defined, to report duplicates
	for name, digest := range c.Keys {
		if err := k.add(name, digest, names, "keys["+name+"]"); err != nil {
			return nil, fmt.Errorf("keys[%q]: %w", name, err)
		}
	}
	if c.File != "" {
		if err := k.loadFile(c.File, names); err != nil {
			return nil, err
		}
	}
	if len(k.byHash) == 0 {
		return nil, fmt.Errorf("no keys: set keys or file")
	}
	return k, nil
}

func (k *apiKeys) add(name, digest string, names map[string]string, where string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("name %q: want letters, digits and -._~ style token characters", name)
	}
	if prev, dup := names[name]; dup {
		return fmt.Errorf("name %q: already defined at %s", name, prev)
	}
	var sum [sha256.Size]byte
	if len(digest) != hex.EncodedLen(sha256.Size) {
		return fmt.Errorf("name %q: digest must be 64 hex characters (SHA-256 of the key), got %d characters", name, len(digest))
	}
	if _, err := hex.Decode(sum[:], []byte(digest)); err != nil {
		return fmt.Errorf("name %q: digest: %v", name, err)
	}
	if other, dup := k.byHash[sum]; dup {
		return fmt.Errorf("name %q: same key digest as %q", name, other)
	}
	names[name] = where
	k.byHash[sum] = name
	return nil
}

func (k *apiKeys) loadFile(path string, names map[string]string) error {
	return eachLine(path, func(text, where string) error {
		text, _, _ = strings.Cut(text, "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			return nil
		}
		if len(fields) != 2 {
			return fmt.Errorf("want \"name sha256hex\", got %d fields", len(fields))
		}
		return k.add(fields[0], fields[1], names, where)
	})
}

// eachLine calls f with each line of the credentials file at path and its
// place (path:line), which prefixes f's error.
func eachLine(path string, f func(text, at string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		at := fmt.Sprintf("%s:%d", path, line)
		if err := f(sc.Text(), at); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	return sc.Err()
}

// verify looks key up by its digest. This is the timing-safe comparison: the
// map compares SHA-256 digests, not keys, so its timing can only leak bits of
// the presented key's digest, which the client already knows and which say
// nothing about any configured key (finding a key whose digest shares a
// prefix with a target is a preimage search). A crypto/subtle scan over every
// digest would be equally safe but O(keys) per request.
func (k *apiKeys) verify(key string) (Identity, error) {
	name, ok := k.byHash[digest(key)]
	if !ok {
		return Identity{}, errUnknownAPIKey
	}
	return Identity{Subject: name, Method: MethodAPIKey}, nil
}

// digest hashes s without the heap copy []byte(s) costs beyond 32 bytes:
// typical keys fit the stack buffer.
func digest(s string) [sha256.Size]byte {
	var buf [256]byte
	if len(s) <= len(buf) {
		return sha256.Sum256(append(buf[:0], s...))
	}
	return sha256.Sum256([]byte(s))
}

// HashKey returns the hex SHA-256 digest to configure for an API key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
