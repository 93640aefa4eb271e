// Command switchboard is the Switchboard call-routing engine.
//
//	switchboard serve   run the daemon
//	switchboard demo    the daemon plus simulated phones, for a first look
//	switchboard call    place a click-to-call against a running daemon and follow it
//	switchboard version print the version
//
// This package only wires: configuration, logging, the store, the
// backend, the engine and the HTTP API.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = runServe(args, false)
	case "demo":
		err = runServe(args, true)
	case "call":
		err = runCall(args)
	case "version", "-version", "--version":
		fmt.Println("switchboard", version)
	case "help", "-h", "-help", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "switchboard: unknown command %q\n\n", cmd)
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		if ec, ok := err.(exitCode); ok {
			os.Exit(int(ec))
		}
		os.Exit(1)
	}
}

// exitCode ends the process with a specific status and no message of its
// own (the command already printed what happened).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func usage() {
	fmt.Fprint(os.Stderr, `Usage: switchboard <command> [flags]

Commands:
  serve     run the engine (flags: --http, --sip, --redis, --config, --node-id, --log-level, --announcements,
            --recordings, --backend sip|ari, --ari-url)
  demo      run the engine with built-in simulated phones and a demo tenant (user_id=1, token=demo)
  call      place a click-to-call on a running engine and follow it to the end
  version   print the version

Run 'switchboard <command> -h' for a command's flags.
`)
}
