//go:build tools

// Keeps the etcd server's main package (and so its dependencies) in go.mod and go.sum; nothing imports it.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
