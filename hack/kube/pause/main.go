// Command pause is the sandbox ("pause") container of hack/cluster's Pods: it holds the
// Pod's namespaces, reaps the zombies of processes that re-parent to it, and exits on
// SIGINT or SIGTERM. The same job as Kubernetes' pause.c, built by the Go toolchain that
// builds the rest of the cluster, so a fresh machine needs no C compiler and no registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
