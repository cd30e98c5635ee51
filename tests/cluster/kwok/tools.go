//go:build tools

// Keeps kwok's main package (and so its dependencies) in go.mod and go.sum; nothing imports it.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
