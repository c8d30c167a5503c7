package awsdouble

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// IMDS returns an IMDSv2 server for one instance: a session token from
// PUT /latest/api/token, then GETs that carry it. A GET without a valid
// token is 401, as with HttpTokens=required (the stack's launch templates).
func (d *Double) IMDS(instanceID string) http.Handler {
	return d.imds(func(*http.Request) string { return instanceID })
}

// IMDSBySource serves every instance from one address, as the hypervisor
// does: the caller's source IP says which instance is asking.
func (d *Double) IMDSBySource() http.Handler {
	return d.imds(func(r *http.Request) string {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, in := range d.instances {
			if in.PrivateIP == host {
				return in.ID
			}
		}
		return ""
	})
}

func (d *Double) imds(who func(*http.Request) string) http.Handler {
	var mu sync.Mutex
	tokens := map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
			if r.Method != http.MethodPut || err != nil || ttl < 1 || ttl > 21600 {
				http.Error(w, "", http.StatusBadRequest)
				return
			}
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			tok := hex.EncodeToString(b)
			mu.Lock()
			tokens[tok] = true
			mu.Unlock()
			w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
			_, _ = w.Write([]byte(tok))
			return
		}
		mu.Lock()
		ok := tokens[r.Header.Get("X-aws-ec2-metadata-token")]
		mu.Unlock()
		if r.Method != http.MethodGet || !ok {
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		d.count("imds:" + r.URL.Path)
		instanceID := who(r)
		d.mu.Lock()
		in := d.instances[instanceID]
		var snap Instance
		if in != nil {
			snap = *in
		}
		d.mu.Unlock()
		if in == nil {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Path {
		case "/latest/dynamic/instance-identity/document":
			w.Header().Set("Content-Type", "text/plain")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"instanceId": snap.ID, "region": d.Region, "availabilityZone": snap.AZ, "privateIp": snap.PrivateIP,
				"accountId": "123456789012", "architecture": "x86_64", "imageId": "ami-0123456789abcdef0", "instanceType": "t3.small", "version": "2017-09-30",
			})
		case "/latest/meta-data/instance-id":
			_, _ = w.Write([]byte(snap.ID))
		case "/latest/meta-data/local-ipv4":
			_, _ = w.Write([]byte(snap.PrivateIP))
		case "/latest/meta-data/placement/region":
			_, _ = w.Write([]byte(d.Region))
		case "/latest/meta-data/placement/availability-zone":
			_, _ = w.Write([]byte(snap.AZ))
		default:
			http.NotFound(w, r)
		}
	})
}
