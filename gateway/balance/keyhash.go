package balance

// HashKey is the Request.Hash of an arbitrary key, for callers that find
// their key outside an HTTP request (the MQTT client id at L4): the same
// fixed-seed hash the KeyFuncs use, and MissingKey for "".
func HashKey(key string) uint64 { return hashKey(key) }
