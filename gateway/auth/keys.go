package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// loadPEMKeys reads every PEM block of path as a public key for RS256 or
// ES256. Errors carry path:line of the offending block.
func loadPEMKeys(path string) ([]verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []verificationKey
	rest := data
	for {
		start := bytes.Index(rest, []byte("-----BEGIN"))
		if start < 0 {
			break
		}
		line := 1 + bytes.Count(data[:len(data)-len(rest)+start], []byte("\n"))
		block, next := pem.Decode(rest[start:])
		if block == nil {
			return nil, fmt.Errorf("%s:%d: malformed PEM block", path, line)
		}
		rest = next
		key, err := parsePEMBlock(block)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", path, line, block.Type, err)
		}
		keys = append(keys, verificationKey{key: key})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM blocks", path)
	}
	return keys, nil
}

func parsePEMBlock(b *pem.Block) (any, error) {
	var pub any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(b.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		// Private keys in particular: the gateway only verifies.
		return nil, errors.New("unsupported block type: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE")
	}
	if err != nil {
		return nil, err
	}
	return checkKey(pub)
}

// checkKey accepts the key types our algorithms can use.
func checkKey(pub any) (any, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 required", k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("EC curve %s: ES256 needs P-256", k.Curve.Params().Name)
		}
		return k, nil
	}
	return nil, fmt.Errorf("key type %T: want RSA or EC P-256", pub)
}

// jwk is the subset of RFC 7517/7518 fields we read.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

// loadJWKS reads a JWKS file. Keys that are for encryption, or for an
// algorithm other than ours, are skipped (identity providers publish
// those too); a key we should use but cannot parse is an error.
func loadJWKS(path string) (keys []verificationKey, secrets [][]byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		where := fmt.Sprintf("%s: keys[%d] (kid %q)", path, i, k.Kid)
		switch {
		case k.Kty == "RSA" && (k.Alg == "" || k.Alg == "RS256"):
			pub, err := rsaFromJWK(k)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			keys = append(keys, verificationKey{kid: k.Kid, key: pub})
		case k.Kty == "EC" && k.Crv == "P-256" && (k.Alg == "" || k.Alg == "ES256"):
			pub, err := ecFromJWK(k)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			keys = append(keys, verificationKey{kid: k.Kid, key: pub})
		case k.Kty == "oct" && (k.Alg == "" || k.Alg == "HS256"):
			secret, err := b64(k.K, "k")
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			if len(secret) < 32 {
				return nil, nil, fmt.Errorf("%s: oct key of %d bytes, HS256 needs at least 32", where, len(secret))
			}
			secrets = append(secrets, secret)
		}
	}
	if len(keys) == 0 && len(secrets) == 0 {
		return nil, nil, fmt.Errorf("%s: no RS256, ES256 or HS256 signing keys", path)
	}
	return keys, secrets, nil
}

func rsaFromJWK(k jwk) (any, error) {
	n, err := b64(k.N, "n")
	if err != nil {
		return nil, err
	}
	e, err := b64(k.E, "e")
	if err != nil {
		return nil, err
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("e: %d bytes, want 1 to 4", len(e))
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	return checkKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp})
}

func ecFromJWK(k jwk) (any, error) {
	x, err := b64(k.X, "x")
	if err != nil {
		return nil, err
	}
	y, err := b64(k.Y, "y")
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("x and y must be 32 bytes for P-256")
	}
	// Uncompressed point: ParseUncompressedPublicKey checks it is on the curve.
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, err
	}
	return pub, nil
}

func b64(s, field string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%s: missing", field)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return b, nil
}
