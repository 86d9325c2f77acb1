//go:build tools

// Keeps helm's main package in the module graph, so `go mod tidy` keeps what it needs.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
