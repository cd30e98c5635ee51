//go:build tools

// Keeps the commands' packages (and so their dependencies) in go.mod and go.sum; nothing imports it.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
